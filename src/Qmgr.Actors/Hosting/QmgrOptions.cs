using Akka.Configuration;

namespace Qmgr.Hosting;

/// <summary>How <see cref="QmgrHostingExtensions.AddQmgr(Akka.Hosting.AkkaConfigurationBuilder, QmgrOptions, IServiceProvider)"/> wires Qmgr.</summary>
public sealed class QmgrOptions
{
    /// <summary>Directory holding <c>qmgr.db</c> (Decision 13); created if missing.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>SQLite connection string; null = <c>Data Source={DataDirectory}/qmgr.db</c>.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>HOCON that overrides Qmgr's defaults (e.g. <c>qmgr.transfer.checkpoint-bytes</c>); null = none.</summary>
    public Config? Overrides { get; init; }

    /// <summary>Seed node addresses (<c>akka.tcp://qmgr@host:port</c>); empty = this node joins itself (a cluster of one).</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    /// <summary>Path of the SQLite database file.</summary>
    public string DatabasePath => Path.Combine(DataDirectory, "qmgr.db");

    /// <summary>The effective SQLite connection string.</summary>
    public string EffectiveConnectionString => ConnectionString ?? $"Data Source={DatabasePath};Pooling=True";
}
