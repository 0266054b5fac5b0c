using Akka.Actor;
using Akka.Configuration;
using Qmgr.Hosting;

namespace Qmgr.Host;

/// <summary>A store or cluster setting that cannot work; the message is the one line the CLI prints (exit 2).</summary>
public sealed class NodeConfigurationException(string message) : Exception(message);

/// <summary>
/// What <c>qmgr serve</c> (and <c>qmgr db init</c>) are told about the store and the cluster, before defaults:
/// command-line values (null = not given). <see cref="Resolve"/> lays them over <c>QMGR_CONNECTION_STRING</c> and the
/// HOCON keys <c>qmgr.store.*</c> / <c>qmgr.cluster.*</c> (hocon/qmgr.conf) and checks that they make a safe node.
/// </summary>
public sealed record NodeArguments(
    string? Store = null,
    string? ConnectionString = null,
    string? ClusterHost = null,
    int? ClusterPort = null,
    string? SeedNodes = null,
    bool FoundCluster = false)
{
    /// <summary>The environment variable holding the shared store's connection string.</summary>
    public const string ConnectionStringVariable = "QMGR_CONNECTION_STRING";

    /// <summary>
    /// The node's <see cref="QmgrOptions"/> on <paramref name="dataDir"/> with HOCON <paramref name="overrides"/>.
    /// Precedence: these arguments, then <c>QMGR_CONNECTION_STRING</c>, then HOCON. Throws
    /// <see cref="NodeConfigurationException"/> for an unknown store, a postgres store without a connection string,
    /// seed nodes on the SQLite store, an unparsable seed address, or — the rule that keeps one writer per group — a
    /// postgres store with neither seed nodes nor <see cref="FoundCluster"/>.
    /// </summary>
    public QmgrOptions Resolve(DataDirectory dataDir, Config? overrides)
    {
        var config = (overrides ?? Config.Empty).WithFallback(QmgrSettings.DefaultConfig());
        var connection = Blank(ConnectionString) ?? Blank(Environment.GetEnvironmentVariable(ConnectionStringVariable)) ?? Blank(config.GetString("qmgr.store.connection-string"));
        var kind = (Blank(Store) ?? Blank(config.GetString("qmgr.store.kind")) ?? (connection is null ? "sqlite" : "postgres")).ToLowerInvariant();
        var store = kind switch
        {
            "sqlite" => QmgrStore.Sqlite,
            "postgres" or "postgresql" => QmgrStore.Postgres,
            _ => throw new NodeConfigurationException($"unknown store '{kind}': use sqlite or postgres"),
        };
        var seeds = SeedNodes is not null
            ? SeedNodes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
            : config.GetStringList("qmgr.cluster.seed-nodes").ToList();
        foreach (var seed in seeds)
            if (!TryParseAddress(seed)) throw new NodeConfigurationException($"seed node '{seed}' is not an address like akka.tcp://qmgr@host:port");
        var found = FoundCluster || config.GetBoolean("qmgr.cluster.found");
        if (store == QmgrStore.Postgres)
        {
            if (connection is null) throw new NodeConfigurationException($"the postgres store needs a connection string: --connection-string or {ConnectionStringVariable}");
            try { _ = new Npgsql.NpgsqlConnectionStringBuilder(connection); }
            catch (ArgumentException ex) { throw new NodeConfigurationException($"the connection string does not parse: {ex.Message}"); }
            if (seeds.Count == 0 && !found)
                throw new NodeConfigurationException("a node on a shared store needs --seed-nodes to join its cluster (or --found-cluster for the first node of a new cluster)");
            if (seeds.Count > 0 && FoundCluster)
                throw new NodeConfigurationException("--found-cluster is for a node without seed nodes; with --seed-nodes the first seed founds the cluster");
        }
        else if (seeds.Count > 0)
            throw new NodeConfigurationException("seed nodes need a shared store (--store postgres): each SQLite node has its own journal");
        return new QmgrOptions
        {
            DataDirectory = dataDir.Path,
            Store = store,
            ConnectionString = store == QmgrStore.Postgres ? connection : null,
            Overrides = overrides,
            SeedNodes = seeds,
            ClusterHost = Blank(ClusterHost),
            ClusterPort = ClusterPort,
        };
    }

    private static bool TryParseAddress(string s)
    {
        try { return Address.Parse(s) is { Host: not null, Port: not null }; }
        catch (Exception) { return false; } // Address.Parse throws UriFormatException or ArgumentException
    }

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
