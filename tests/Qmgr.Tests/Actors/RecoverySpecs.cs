using Akka.Configuration;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Actors;

/// <summary>A node stops and another starts on the same SQLite store: groups, jobs and timers come back (Decision 10).</summary>
public sealed class RecoverySpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _server = null!;

    private string DataDir => _dir.File("data");

    public async Task InitializeAsync() => _server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    private static async Task<Job> AwaitAsync(HostedQmgr q, Guid group, Guid job, Func<Job, bool> condition)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        while (true)
        {
            var j = (await q.QueueManager.GetGroupAsync(group)).FindJob(job)!;
            if (condition(j)) return j;
            await Task.Delay(50, timeout.Token);
        }
    }

    [Fact]
    public async Task Every_state_and_property_comes_back_from_snapshot_and_events_after_a_restart()
    {
        // arrange: jobs left Transferred, Error and Suspended, and enough events for a snapshot (every 7 in tests)
        var group = Guid.NewGuid();
        var (transferred, failed, suspended) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        GroupState before;
        await using (var first = HostedQmgr.Start(DataDir))
        {
            var qm = first.QueueManager;
            await qm.SendAsync(new CreateGroup(group, "bob", "recovery", JobPriority.Low, 2048 * 1024));
            foreach (var (id, path) in new[] { (transferred, "/ok.bin"), (failed, "/gone.bin"), (suspended, "/later.bin") })
            {
                await qm.SendAsync(new CreateJob(group, "bob", id, path, null, JobOptions.Default));
                await qm.SendAsync(new AddFiles(group, "bob", id, [new FileSpec(_server.UrlOf(path).ToString(), _dir.File(path.TrimStart('/')))]));
            }
            _server.Add("/ok.bin", LoopbackFileServer.Content(10_000, 21));
            await qm.SendAsync(new ResumeJob(group, "bob", transferred));
            await qm.SendAsync(new ResumeJob(group, "bob", failed));
            await AwaitAsync(first, group, transferred, j => j.State == JobState.Transferred);
            await AwaitAsync(first, group, failed, j => j.State == JobState.Error);
            before = await qm.GetGroupAsync(group);
        }

        // act
        await using var second = HostedQmgr.Start(DataDir);
        var ids = await second.QueueManager.GetGroupIdsAsync();
        var after = await second.QueueManager.GetGroupAsync(group);

        // assert
        Assert.Equal([group], ids);
        Assert.Equal(before with { Jobs = [] }, after with { Jobs = [] });
        Assert.Equal(before.Jobs.Select(j => (j.Id, j.State, j.ErrorCount, j.Error, j.Priority)), after.Jobs.Select(j => (j.Id, j.State, j.ErrorCount, j.Error, j.Priority)));
        Assert.Equal(before.Jobs.SelectMany(j => j.Files), after.Jobs.SelectMany(j => j.Files));
        Assert.Equal(JobPriority.Low, after.FindJob(suspended)!.Priority); // the group's priority is its jobs' default
        Assert.Equal(404, after.FindJob(failed)!.Error!.HttpStatus);
        Assert.True(new Journal(DataDir).Events().Count > 7);
    }

    [Fact]
    public async Task A_transient_error_retry_is_rearmed_from_the_journaled_due_time_after_a_restart()
    {
        // arrange: the server answers 503 until it is fixed; the node stops while the job waits in TransientError
        var content = LoopbackFileServer.Content(20_000, 22);
        _server.Add("/flaky.bin", content, new LoopbackFileOptions { StatusOverride = 503 });
        var group = Guid.NewGuid();
        var job = Guid.NewGuid();
        var target = _dir.File("flaky.bin");
        var slowRetry = ConfigurationFactory.ParseString("qmgr.job.minimum-retry-delay = 3s");
        DateTimeOffset due;
        await using (var first = HostedQmgr.Start(DataDir, slowRetry))
        {
            var qm = first.QueueManager;
            await qm.SendAsync(new CreateGroup(group, "bob", "flaky", JobPriority.Normal, 0));
            await qm.SendAsync(new CreateJob(group, "bob", job, "flaky", null, new JobOptions(AutoComplete: true)));
            await qm.SendAsync(new AddFiles(group, "bob", job, [new FileSpec(_server.UrlOf("/flaky.bin").ToString(), target)]));
            await qm.SendAsync(new ResumeJob(group, "bob", job));
            due = (await AwaitAsync(first, group, job, j => j.State == JobState.TransientError)).RetryDueAt!.Value;
        }
        _server.Add("/flaky.bin", content);

        // act
        await using var second = HostedQmgr.Start(DataDir, slowRetry);
        await second.QueueManager.GetGroupIdsAsync().ContinueWith(t => Task.WhenAll(t.Result.Select(id => second.QueueManager.GetGroupAsync(id)))).Unwrap();
        var done = await AwaitAsync(second, group, job, j => j.State == JobState.Acknowledged);

        // assert
        Assert.Equal(content, File.ReadAllBytes(target));
        var requeued = new Journal(DataDir).Events<JobStateChanged>().Single(s => s is { From: JobState.TransientError, To: JobState.Queued });
        Assert.True(requeued.At >= due, $"retried at {requeued.At:O}, due {due:O}");
        Assert.Equal(1, done.ErrorCount);
    }
}
