using Qmgr.Api;
using Qmgr.Jobs;
using Xunit;

namespace Qmgr.Tests.Support;

/// <summary>
/// Base of specs that drive one embedded node (<see cref="HostedQmgr"/> on a SQLite journal in a temp directory)
/// against a <see cref="LoopbackFileServer"/>, through the typed API as one owner. A spec may restart
/// <see cref="Node"/> (dispose it, start another on <see cref="DataDir"/>, and set <see cref="Qm"/> again).
/// </summary>
public abstract class EmbeddedNodeSpecs(string owner) : IAsyncLifetime, IDisposable
{
    /// <summary>The deadline of every wait in these specs.</summary>
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    protected TempDirectory Dir { get; } = new();

    protected LoopbackFileServer Server { get; private set; } = null!;

    protected HostedQmgr Node { get; set; } = null!;

    /// <summary>The queue manager acting for the owner given to the constructor.</summary>
    protected IQueueManager Qm { get; set; } = null!;

    protected string DataDir => Dir.File("data");

    public async Task InitializeAsync()
    {
        Server = await LoopbackFileServer.StartAsync();
        Node = HostedQmgr.Start(DataDir);
        Qm = QueueManager.Create(Node.System, owner);
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        await Server.DisposeAsync();
    }

    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A new job named <paramref name="name"/> in a new group of the same name.</summary>
    protected async Task<IJob> NewJobAsync(string name) => await (await Qm.CreateGroupAsync(name)).CreateJobAsync(name);

    /// <summary>Waits, up to <see cref="Deadline"/>, for <paramref name="condition"/> on the job.</summary>
    protected static Task<Job> WaitAsync(IJob job, Func<Job, bool> condition) => job.WaitAsync(condition, new CancellationTokenSource(Deadline).Token);

    /// <summary>The HRESULT of the <see cref="QmgrException"/> <paramref name="call"/> throws (fails if it throws none).</summary>
    protected static async Task<int> RefusedAsync(Func<Task> call) => (await Assert.ThrowsAsync<QmgrException>(call)).HResult;

    /// <summary>Bytes <paramref name="offset"/> .. +<paramref name="length"/> of <paramref name="content"/>.</summary>
    protected static byte[] Slice(byte[] content, long offset, long length) => content.AsSpan((int)offset, (int)length).ToArray();
}
