using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Qmgr.Client;

namespace Qmgr.Tests.Support;

/// <summary>One <c>qmgr serve</c> process of a <see cref="QmgrCluster"/>.</summary>
public sealed class ClusterNode(int index, QmgrProcess process, string dataDir, Uri api, string address) : IDisposable
{
    /// <summary>0-based position; node 0 is the first seed (it founds the cluster).</summary>
    public int Index { get; } = index;

    /// <summary>The child process (SIGKILL, SIGSTOP, SIGCONT, output).</summary>
    public QmgrProcess Process { get; } = process;

    /// <summary>The node's own data directory (logs, lock, api-token).</summary>
    public string DataDir { get; } = dataDir;

    /// <summary>Base address of the node's REST API.</summary>
    public Uri Api { get; } = api;

    /// <summary>The node's cluster address, <c>akka.tcp://qmgr@127.0.0.1:PORT</c>.</summary>
    public string Address { get; } = address;

    /// <summary><c>qmgr@127.0.0.1:PORT</c>: how leases name their owner (Address.HostPort).</summary>
    public string HostPort => Address["akka.tcp://".Length..];

    /// <summary>The node's log file text so far (Serilog's rolling file in DATA_DIR/logs).</summary>
    public string LogText() => string.Join("\n", Directory.Exists(Path.Combine(DataDir, "logs"))
        ? Directory.GetFiles(Path.Combine(DataDir, "logs")).Order().Select(f =>
        {
            using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return new StreamReader(s).ReadToEnd();
        })
        : []);

    /// <summary>A raw HTTP client of this node's API with the cluster's token.</summary>
    public HttpClient Http()
    {
        var http = new HttpClient { BaseAddress = Api, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", QmgrCluster.Token);
        return http;
    }

    /// <summary>The HTTP queue manager of this node, acting as the cluster token's owner.</summary>
    public Task<HttpQueueManager> ConnectAsync() => HttpQueueManager.ConnectAsync(Api, QmgrCluster.Token);

    public void Dispose() => Process.Dispose();
}

/// <summary>
/// A real cluster for tests: N <c>qmgr serve</c> processes on 127.0.0.1 sharing one PostgreSQL database, each with its
/// own data directory, remoting port and API port, all listing every node as a seed (node 0 first: it founds the
/// cluster). Every node accepts <see cref="Token"/> (owner <c>tester</c>). Dispose kills them all.
/// </summary>
public sealed class QmgrCluster : IAsyncDisposable
{
    /// <summary>The API token every node accepts.</summary>
    public const string Token = "cluster-token-0123456789";

    private readonly TempDirectory _dir = new();

    private QmgrCluster(string connectionString) => ConnectionString = connectionString;

    /// <summary>The shared store.</summary>
    public string ConnectionString { get; }

    /// <summary>The nodes, in start order.</summary>
    public List<ClusterNode> Nodes { get; } = [];

    /// <summary>
    /// Starts <paramref name="count"/> nodes on <paramref name="database"/> with <paramref name="hocon"/> laid over the
    /// test timings, and waits (<paramref name="deadline"/>) until every node's readiness check passes and every node
    /// sees <paramref name="count"/> members up.
    /// </summary>
    public static async Task<QmgrCluster> StartAsync(PostgresDatabase database, int count, string hocon, TimeSpan deadline)
    {
        var cluster = new QmgrCluster(database.ConnectionString);
        var remotePorts = Enumerable.Range(0, count).Select(_ => FreePort()).ToArray();
        var seeds = string.Join(",", remotePorts.Select(p => $"akka.tcp://qmgr@127.0.0.1:{p}"));
        try
        {
            for (var i = 0; i < count; i++) cluster.Nodes.Add(cluster.StartNode(i, remotePorts[i], seeds, hocon));
            await cluster.WaitUpAsync(count, deadline);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private ClusterNode StartNode(int index, int remotePort, string seeds, string hocon)
    {
        var dataDir = _dir.File($"node{index}");
        var apiPort = FreePort();
        var environment = new Dictionary<string, string>
        {
            ["QMGR_HOCON"] = $$"""
                qmgr.api.tokens = [ { token = "{{Token}}", owner = tester } ]
                qmgr.transfer.quick-retry-delays = [50ms, 50ms, 50ms]
                qmgr.transfer.checkpoint-interval = 200ms
                qmgr.job.minimum-retry-delay-floor = 100ms
                qmgr.job.minimum-retry-delay = 500ms
                {{hocon}}
                """,
            ["QMGR_CONNECTION_STRING"] = ConnectionString,
        };
        var process = QmgrProcess.Start(environment, "serve", "--data-dir", dataDir, "--urls", $"http://127.0.0.1:{apiPort}",
            "--cluster-port", remotePort.ToString(), "--seed-nodes", seeds);
        return new ClusterNode(index, process, dataDir, new Uri($"http://127.0.0.1:{apiPort}/"), $"akka.tcp://qmgr@127.0.0.1:{remotePort}");
    }

    /// <summary>
    /// Waits until every node of <paramref name="nodes"/> (default all) answers its readiness check (an Up member whose
    /// journal answers) and the cluster's leaders have moved <paramref name="members"/> nodes to Up.
    /// </summary>
    public async Task WaitUpAsync(int members, TimeSpan deadline, IEnumerable<ClusterNode>? nodes = null)
    {
        using var timeout = new CancellationTokenSource(deadline);
        foreach (var node in nodes ?? Nodes)
        {
            using var http = node.Http();
            while (!await ReadyAsync(node, http, timeout.Token))
                if (!await PauseAsync(timeout.Token)) throw new TimeoutException($"node {node.Index} not ready within {deadline}:\n{node.LogText()}");
        }
        while (NodesMovedUp().Count < members)
            if (!await PauseAsync(timeout.Token)) throw new TimeoutException($"{members} members not up within {deadline}:\n{Nodes[0].LogText()}");
    }

    private static readonly System.Text.RegularExpressions.Regex MovedUp = new(@"Leader is moving node \[(?<node>[^\]]+)\] to \[""?Up""?\]");

    // every node some leader has moved to Up, from the nodes' logs (the leader changes as nodes join: the lowest address leads)
    private HashSet<string> NodesMovedUp() =>
        Nodes.SelectMany(n => MovedUp.Matches(n.LogText()).Select(m => m.Groups["node"].Value)).ToHashSet();

    private static async Task<bool> ReadyAsync(ClusterNode node, HttpClient http, CancellationToken ct)
    {
        if (node.Process.HasExited) throw new InvalidOperationException($"node {node.Index} exited:\n{node.Process.OutputSoFar}");
        try
        {
            using var ready = await http.GetAsync("health/ready", ct);
            return ready.IsSuccessStatusCode;
        }
        catch (HttpRequestException) { return false; } // not listening yet
        catch (TaskCanceledException) when (!ct.IsCancellationRequested) { return false; }
        catch (OperationCanceledException) { return false; }
    }

    // the polling step of a wait with a deadline: false once the deadline has passed
    private static async Task<bool> PauseAsync(CancellationToken ct)
    {
        try { await Task.Delay(200, ct); return true; }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>The node a group runs on now, from <c>GET /api/v1/groups/{id}</c>'s <c>node</c> asked of <paramref name="via"/>.</summary>
    public static async Task<string?> GroupNodeAsync(ClusterNode via, Guid groupId, CancellationToken ct)
    {
        using var http = via.Http();
        using var doc = JsonDocument.Parse(await http.GetStringAsync($"api/v1/groups/{groupId:D}", ct));
        return doc.RootElement.TryGetProperty("node", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
    }

    /// <summary>Every node's warnings and errors from its log, for a failed test's output.</summary>
    public string WarningsAndErrors() => string.Join("\n", Nodes.Select(n =>
        $"--- node {n.Index} ({n.Address})\n" + string.Join("\n", n.LogText().Split('\n')
            .Where(l => l.Contains("[WRN]", StringComparison.Ordinal) || l.Contains("[ERR]", StringComparison.Ordinal) || l.StartsWith("   at ", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal))
            .Where(l => !l.Contains("Requested shard homes", StringComparison.Ordinal) && !l.Contains("Trying to register to coordinator", StringComparison.Ordinal))
            .TakeLast(60))));

    /// <summary>A free TCP port on 127.0.0.1 (bound and released).</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes) node.Dispose();
        _dir.Dispose();
        await Task.CompletedTask;
    }
}
