using Akka.Configuration;

namespace Qmgr.Hosting;

/// <summary>Which SQL store holds the journal (Decision 13 and the cluster deployment of DESIGN.md).</summary>
public enum QmgrStore
{
    /// <summary>Embedded SQLite (<c>DATA_DIR/qmgr.db</c>): one node, no set-up. The default.</summary>
    Sqlite,

    /// <summary>PostgreSQL 15+ (Npgsql), shared by every node of a cluster; needs a connection string.</summary>
    Postgres,
}

/// <summary>How <see cref="QmgrHostingExtensions.AddQmgr(Akka.Hosting.AkkaConfigurationBuilder, QmgrOptions, IServiceProvider)"/> wires Qmgr.</summary>
public sealed class QmgrOptions
{
    /// <summary>Directory holding <c>qmgr.db</c> (Decision 13), the logs and the node's lock; created if missing. Per node, also on a shared store.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The store; <see cref="QmgrStore.Sqlite"/> unless told otherwise.</summary>
    public QmgrStore Store { get; init; } = QmgrStore.Sqlite;

    /// <summary>
    /// The store's connection string: for SQLite null = <c>Data Source={DataDirectory}/qmgr.db</c>; for PostgreSQL
    /// required, Npgsql's form (<c>Host=127.0.0.1;Port=5432;Database=qmgr;Username=qmgr;Password=…</c>).
    /// </summary>
    public string? ConnectionString { get; init; }

    /// <summary>HOCON that overrides Qmgr's defaults (e.g. <c>qmgr.transfer.checkpoint-bytes</c>); null = none.</summary>
    public Config? Overrides { get; init; }

    /// <summary>Seed node addresses (<c>akka.tcp://qmgr@host:port</c>); empty = this node joins itself (a cluster of one).</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    /// <summary>Host name or address this node's remoting binds to and advertises; null = <c>akka.remote.dot-netty.tcp.hostname</c> (127.0.0.1).</summary>
    public string? ClusterHost { get; init; }

    /// <summary>This node's remoting port; null = <c>akka.remote.dot-netty.tcp.port</c> (0: any free port, fine for a node of one).</summary>
    public int? ClusterPort { get; init; }

    /// <summary>Path of the SQLite database file.</summary>
    public string DatabasePath => Path.Combine(DataDirectory, "qmgr.db");

    /// <summary>The effective connection string. Throws <see cref="InvalidOperationException"/> for PostgreSQL without one.</summary>
    public string EffectiveConnectionString => Store switch
    {
        QmgrStore.Postgres => string.IsNullOrWhiteSpace(ConnectionString)
            ? throw new InvalidOperationException("the postgres store needs a connection string (--connection-string or QMGR_CONNECTION_STRING)")
            : ConnectionString,
        _ => ConnectionString ?? $"Data Source={DatabasePath};Pooling=True",
    };
}
