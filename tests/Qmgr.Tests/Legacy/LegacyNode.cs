using Qmgr.Api;
using Qmgr.Legacy;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Legacy;

/// <summary>An embedded node on SQLite, a loopback file server and the legacy queue manager of "alice", per test.</summary>
public abstract class LegacyNode : IAsyncLifetime, IDisposable
{
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    protected readonly TempDirectory Dir = new();
    protected LoopbackFileServer Server = null!;
    protected HostedQmgr Node = null!;
    protected IQueueManager Alice = null!;
    protected BackgroundCopyQMgr QMgr = null!;

    public async Task InitializeAsync()
    {
        Server = await LoopbackFileServer.StartAsync();
        StartNode();
    }

    protected void StartNode()
    {
        Node = HostedQmgr.Start(Dir.File("data"));
        Alice = QueueManager.Create(Node.System, "alice");
        QMgr = new BackgroundCopyQMgr(Alice, callbackRetryDelay: TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Stops the node as a process exit would, then starts a new one on the same data directory.</summary>
    protected async Task RestartNodeAsync()
    {
        QMgr.Dispose();
        await Node.DisposeAsync();
        StartNode();
    }

    public async Task DisposeAsync()
    {
        QMgr.Dispose();
        await Node.DisposeAsync();
        await Server.DisposeAsync();
    }

    public void Dispose() => Dir.Dispose();

    protected static CancellationToken Within() => new CancellationTokenSource(Deadline).Token;

    /// <summary>Polls <paramref name="condition"/> until it holds, failing after <see cref="Deadline"/>.</summary>
    protected static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var ct = Within();
        while (!await condition()) await Task.Delay(50, ct);
    }

    protected static async Task<int> HResultOf(Func<Task> call) => (await Assert.ThrowsAsync<QmgrException>(call)).HResult;

    protected static int HResultOf(Action call) => Assert.Throws<QmgrException>(call).HResult;

    protected FILESETINFO File(string name, byte[] content, LoopbackFileOptions? options = null) =>
        new(Server.Add("/" + name, content, options).ToString(), Dir.File(name));
}
