using Qmgr.Api;
using Qmgr.Client;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Service;

/// <summary>
/// Embedding scenarios written once against <see cref="IQueueManager"/> and run against both implementations: the
/// in-process queue manager of an embedded node, and <see cref="HttpQueueManager"/> over a running service (real
/// Kestrel, real SQLite, loopback file server). Alice and Bob are two owners; the administrator sees both.
/// </summary>
public abstract class QueueManagerScenarios : IAsyncLifetime, IDisposable
{
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    protected readonly TempDirectory Dir = new();
    protected LoopbackFileServer Server = null!;

    /// <summary>The queue manager acting for <paramref name="owner"/> (an administrator when <paramref name="administrator"/>).</summary>
    protected abstract Task<IQueueManager> QueueManagerForAsync(string owner, bool administrator = false);

    protected abstract Task StartNodeAsync(string dataDir);
    protected abstract Task StopNodeAsync();

    /// <summary>The cluster address of the (single) node behind the queue manager.</summary>
    protected abstract string NodeAddress { get; }

    public async Task InitializeAsync()
    {
        Server = await LoopbackFileServer.StartAsync();
        await StartNodeAsync(Dir.File("data"));
    }

    public async Task DisposeAsync()
    {
        await StopNodeAsync();
        await Server.DisposeAsync();
    }

    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }

    private static CancellationToken Soon => new CancellationTokenSource(Deadline).Token;

    [Fact]
    public async Task A_job_with_three_files_transfers_and_completes_into_place()
    {
        var alice = await QueueManagerForAsync("alice");
        var contents = Enumerable.Range(0, 3).Select(i => LoopbackFileServer.Content(50_000 + i * 1000, 70 + i)).ToArray();
        var group = await alice.CreateGroupAsync("reports");
        var job = await group.CreateJobAsync("three");
        await job.AddFilesAsync(contents.Select((c, i) => (Server.Add($"/f{i}.bin", c).AbsoluteUri, Dir.File($"f{i}.bin"))).ToList());
        await job.ResumeAsync();

        var transferred = await job.WaitAsync(j => j.State is JobState.Transferred or JobState.Error, Soon);
        Assert.Equal(JobState.Transferred, transferred.State);
        Assert.Equal(3, transferred.FilesTransferred);
        Assert.Equal(contents.Sum(c => (long)c.Length), transferred.BytesTotal);
        Assert.Equal(0, await job.CompleteAsync());

        Assert.Equal(JobState.Acknowledged, (await job.GetAsync()).State);
        for (var i = 0; i < 3; i++) Assert.Equal(contents[i], File.ReadAllBytes(Dir.File($"f{i}.bin")));
    }

    [Fact]
    public async Task Another_owners_group_and_job_are_not_found_and_an_administrator_sees_both()
    {
        var alice = await QueueManagerForAsync("alice");
        var bob = await QueueManagerForAsync("bob");
        var admin = await QueueManagerForAsync("root", administrator: true);
        var aliceGroup = await alice.CreateGroupAsync("alice's");
        var aliceJob = await aliceGroup.CreateJobAsync("a");
        await bob.CreateGroupAsync("bob's");

        Assert.Equal(HResults.BG_E_NOT_FOUND, (await Assert.ThrowsAsync<QmgrException>(() => bob.GetGroupAsync(aliceGroup.Id))).HResult);
        Assert.Equal(HResults.BG_E_NOT_FOUND, (await Assert.ThrowsAsync<QmgrException>(() => bob.GetJobAsync(aliceJob.Id))).HResult);
        Assert.Equal(["bob's"], await NamesAsync(bob));
        Assert.Equal(["alice's", "bob's"], await NamesAsync(admin));
        Assert.Equal(aliceGroup.Id, (await admin.GetJobAsync(aliceJob.Id)).GroupId);
    }

    [Fact]
    public async Task Refused_calls_carry_the_BITS_code_and_change_nothing()
    {
        var alice = await QueueManagerForAsync("alice");
        var job = await (await alice.CreateGroupAsync("g")).CreateJobAsync("j");

        Assert.Equal(HResults.BG_E_EMPTY, (await Assert.ThrowsAsync<QmgrException>(() => job.ResumeAsync())).HResult);
        Assert.Equal(HResults.E_INVALIDARG, (await Assert.ThrowsAsync<QmgrException>(() => job.AddFilesAsync([("ftp://example.org/x", Dir.File("x"))]))).HResult);
        Assert.Equal(HResults.E_INVALIDARG, (await Assert.ThrowsAsync<QmgrException>(() => job.AddFilesAsync([(Server.UrlOf("/x").AbsoluteUri, "relative/x")]))).HResult);
        Assert.Equal(HResults.BG_E_STRING_TOO_LONG, (await Assert.ThrowsAsync<QmgrException>(() => job.SetPropertyAsync(JobProperty.DisplayName, new string('n', 257)))).HResult);

        var state = await job.GetAsync();
        Assert.Empty(state.Files);
        Assert.Equal(JobState.Suspended, state.State);
        Assert.Equal("j", state.DisplayName);
    }

    [Fact]
    public async Task Properties_set_through_the_facade_are_read_back()
    {
        var alice = await QueueManagerForAsync("alice");
        var group = await alice.CreateGroupAsync("g");
        var job = await group.CreateJobAsync("j");
        await job.SetPropertyAsync(JobProperty.Description, "nightly");
        await job.SetPropertyAsync(JobProperty.Priority, "High");
        await job.SetPropertyAsync(JobProperty.MinimumRetryDelay, "30");
        await group.SetPropertyAsync(GroupProperty.MaxBytesPerSecond, "1048576");

        var state = await job.GetAsync();
        Assert.Equal("nightly", state.Description);
        Assert.Equal(JobPriority.High, state.Priority);
        Assert.Equal(TimeSpan.FromSeconds(30), state.MinimumRetryDelay);
        Assert.Equal(1_048_576, (await group.GetStateAsync()).MaxBytesPerSecond);
    }

    [Fact]
    public async Task Cancel_removes_the_job_from_enumerations_and_deletes_its_temp_file()
    {
        var alice = await QueueManagerForAsync("alice");
        var group = await alice.CreateGroupAsync("g");
        var job = await group.CreateJobAsync("slow");
        var url = Server.Add("/slow.bin", LoopbackFileServer.Content(400_000, 5), new LoopbackFileOptions { TrickleBytesPerSecond = 50_000 });
        await job.AddFilesAsync([(url.AbsoluteUri, Dir.File("slow.bin"))]);
        await job.ResumeAsync();
        var running = await job.WaitAsync(j => j.BytesTransferred > 0, Soon);

        await job.CancelAsync();

        Assert.Equal(JobState.Cancelled, (await job.GetAsync()).State);
        Assert.Empty(await group.EnumJobsAsync());
        Assert.False(File.Exists(running.Files[0].TempName));
        Assert.False(File.Exists(Dir.File("slow.bin")));
    }

    [Fact]
    public async Task Notifications_report_every_state_change_of_a_job_in_order()
    {
        var alice = await QueueManagerForAsync("alice");
        var job = await (await alice.CreateGroupAsync("g")).CreateJobAsync("n");
        await job.AddFilesAsync([(Server.Add("/n.bin", LoopbackFileServer.Content(20_000, 9)).AbsoluteUri, Dir.File("n.bin"))]);
        var states = new List<JobState>();
        var transferred = new TaskCompletionSource();
        var open = new TaskCompletionSource();
        using var subscription = alice.Notifications.Subscribe(new Observer(n =>
        {
            if (n.Job.Id != job.Id) return;
            open.TrySetResult();
            if (n is not QmgrNotification.StateChanged s) return;
            lock (states) states.Add(s.To);
            if (s.To == JobState.Transferred) transferred.TrySetResult();
        }));
        // a subscription over HTTP opens asynchronously: change a property until the subscriber sees it
        var deadline = DateTime.UtcNow + Deadline;
        for (var i = 0; !open.Task.IsCompleted && DateTime.UtcNow < deadline; i++)
        {
            await job.SetPropertyAsync(JobProperty.Description, $"probe {i}");
            await Task.WhenAny(open.Task, Task.Delay(100));
        }
        Assert.True(open.Task.IsCompleted, "the subscriber saw no notification");

        await job.ResumeAsync();
        await transferred.Task.WaitAsync(Deadline);

        lock (states) Assert.Equal([JobState.Queued, JobState.Connecting, JobState.Transferring, JobState.Transferred], states);
    }

    [Fact]
    public async Task A_callback_hears_the_job_transferred_once_and_a_callback_set_afterwards_gets_it_replayed()
    {
        var alice = await QueueManagerForAsync("alice");
        var job = await (await alice.CreateGroupAsync("g")).CreateJobAsync("cb");
        await job.AddFilesAsync([(Server.Add("/cb.bin", LoopbackFileServer.Content(30_000, 4)).AbsoluteUri, Dir.File("cb.bin"))]);
        var early = new Callback();
        await job.SetNotifyInterfaceAsync(early);
        Assert.Same(early, job.GetNotifyInterface());
        // a callback over HTTP listens on an event stream: its snapshot replay (Suspended: nothing) comes first
        await job.ResumeAsync();

        var transferred = await early.Transferred.Task.WaitAsync(Deadline);
        Assert.Equal(JobState.Transferred, transferred.State);
        var late = new Callback();
        await job.SetNotifyInterfaceAsync(late);
        var replayed = await late.Transferred.Task.WaitAsync(Deadline);
        Assert.Equal(job.Id, replayed.Id);
        Assert.Equal(1, early.TransferredCount);
        await job.SetNotifyInterfaceAsync(null);
        Assert.Null(job.GetNotifyInterface());
    }

    [Fact]
    public async Task An_upload_reply_job_uploads_and_its_named_reply_file_and_data_come_back()
    {
        await using var uploads = await BitsUploadServer.StartAsync();
        var reply = LoopbackFileServer.Content(3_000, 8);
        var url = uploads.Accept("/app/echo", new BitsUploadOptions { Reply = reply });
        var content = LoopbackFileServer.Content(25_000, 9);
        File.WriteAllBytes(Dir.File("up.bin"), content);
        var alice = await QueueManagerForAsync("alice");
        var job = await (await alice.CreateGroupAsync("g")).CreateJobAsync("up", JobType.UploadReply);
        await job.AddFilesAsync([(url.AbsoluteUri, Dir.File("up.bin"))]);
        await job.SetReplyFileNameAsync(Dir.File("up.reply"));

        await job.ResumeAsync();
        var settled = await job.WaitAsync(j => j.State is JobState.Transferred or JobState.Error, Soon);

        Assert.Equal(JobState.Transferred, settled.State);
        Assert.Equal(content, uploads.Uploaded("/app/echo"));
        Assert.Equal(Dir.File("up.reply"), await job.GetReplyFileNameAsync());
        Assert.Equal(new ReplyProgress(3_000, 3_000), await job.GetReplyProgressAsync());
        Assert.Equal(reply, await job.GetReplyDataAsync());
        await job.CompleteAsync();
        Assert.Equal(reply, File.ReadAllBytes(Dir.File("up.reply")));
    }

    private sealed class Callback : IJobCallback
    {
        private int _transferred;
        public TaskCompletionSource<Job> Transferred { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int TransferredCount => Volatile.Read(ref _transferred);

        public Task JobTransferredAsync(IJob job, Job state)
        {
            Interlocked.Increment(ref _transferred);
            Transferred.TrySetResult(state);
            return Task.CompletedTask;
        }

        public Task JobErrorAsync(IJob job, Job state, JobError error) => Task.CompletedTask;
        public Task JobModificationAsync(IJob job, Job state) => Task.CompletedTask;
        public Task FileTransferredAsync(IJob job, Job state, int fileIndex) => Task.CompletedTask;
    }

    [Fact]
    public async Task A_group_names_the_node_that_runs_it()
    {
        // arrange
        var alice = await QueueManagerForAsync("alice");
        var group = await alice.CreateGroupAsync("located");

        // act: read (which runs the group), then ask where it runs
        await group.GetStateAsync(Soon);
        var node = await group.GetNodeAsync(Soon);

        // assert: the node of a cluster of one, by its akka.tcp address
        Assert.Equal(NodeAddress, node);
        Assert.StartsWith("akka.tcp://qmgr@127.0.0.1:", node);
    }

    private static async Task<List<string>> NamesAsync(IQueueManager qm) =>
        (await Task.WhenAll((await qm.EnumGroupsAsync()).Select(g => g.GetStateAsync()))).Select(s => s.DisplayName).Order().ToList();

    protected sealed class Observer(Action<QmgrNotification> next) : IObserver<QmgrNotification>
    {
        public void OnNext(QmgrNotification value) => next(value);
        public void OnCompleted() { }
        public void OnError(Exception error) { }
    }
}

/// <summary>The scenarios against the in-process queue manager of an embedded node.</summary>
public sealed class InProcessQueueManagerScenarios : QueueManagerScenarios
{
    private HostedQmgr _node = null!;

    protected override Task StartNodeAsync(string dataDir)
    {
        _node = HostedQmgr.Start(dataDir);
        return Task.CompletedTask;
    }

    protected override async Task StopNodeAsync() => await _node.DisposeAsync();

    protected override string NodeAddress => Akka.Cluster.Cluster.Get(_node.System).SelfAddress.ToString();

    protected override Task<IQueueManager> QueueManagerForAsync(string owner, bool administrator = false) =>
        Task.FromResult(QueueManager.Create(_node.System, owner, administrator));
}

/// <summary>The same scenarios through <see cref="HttpQueueManager"/> against a running service.</summary>
public sealed class HttpQueueManagerScenarios : QueueManagerScenarios
{
    private ServiceNode _service = null!;
    private readonly List<HttpQueueManager> _clients = [];

    protected override async Task StartNodeAsync(string dataDir) => _service = await ServiceNode.StartAsync(dataDir);

    protected override string NodeAddress => Akka.Cluster.Cluster.Get(_service.System).SelfAddress.ToString();

    protected override async Task StopNodeAsync()
    {
        foreach (var c in _clients) c.Dispose();
        await _service.DisposeAsync();
    }

    protected override async Task<IQueueManager> QueueManagerForAsync(string owner, bool administrator = false)
    {
        var token = (owner, administrator) switch
        {
            (_, true) => _service.AdminToken,
            ("alice", _) => ServiceNode.AliceToken,
            ("bob", _) => ServiceNode.BobToken,
            _ => throw new ArgumentException($"no token for {owner}"),
        };
        var client = await _service.ConnectAsync(token);
        _clients.Add(client);
        return client;
    }
}
