using Akka.Configuration;
using System.Linq;
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
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            var j = (await q.QueueManager.GetGroupAsync(group)).FindJob(job)!;
            if (condition(j)) return j;
            if (DateTime.UtcNow > until)
                throw new TimeoutException($"job {j.DisplayName} stayed {j.State} ({j.BytesTransferred} bytes, error {j.Error?.Message})");
            await Task.Delay(50);
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
    public async Task Every_one_of_the_nine_states_recovers_as_decision_10_says()
    {
        // arrange: one job per state. One transfer per host: a stalled transfer holds host A's slot (Transferring) so a
        // second job to A waits (Queued); a listener that never answers keeps a job Connecting.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start(); // accepts into the backlog, never answers
        var silentUrl = $"http://127.0.0.1:{((System.Net.IPEndPoint)silent.LocalEndpoint).Port}/never";
        var overrides = ConfigurationFactory.ParseString("qmgr.transfer.max-concurrent-per-host = 1\nqmgr.job.minimum-retry-delay = 1h\nqmgr.transfer.idle-timeout = 10m");
        _server.Add("/stall.bin", LoopbackFileServer.Content(100_000, 23), new LoopbackFileOptions { StallAfter = Enumerable.Range(0, 10).ToDictionary(i => i, _ => 10_000L) });
        _server.Add("/busy.bin", LoopbackFileServer.Content(1000, 24), new LoopbackFileOptions { StatusOverride = 503 });
        _server.Add("/ok.bin", LoopbackFileServer.Content(1000, 25));
        var group = Guid.NewGuid();
        var ids = Enum.GetValues<JobState>().ToDictionary(s => s, _ => Guid.NewGuid());
        var before = new Dictionary<JobState, Job>();
        await using (var first = HostedQmgr.Start(DataDir, overrides))
        {
            var qm = first.QueueManager;
            await qm.SendAsync(new CreateGroup(group, "erin", "nine", JobPriority.Normal, 0));
            async Task Add(JobState s, string url)
            {
                await qm.SendAsync(new CreateJob(group, "erin", ids[s], s.ToString(), null, JobOptions.Default));
                await qm.SendAsync(new AddFiles(group, "erin", ids[s], [new FileSpec(url, _dir.File(s + ".bin"))]));
            }
            await Add(JobState.Transferring, _server.UrlOf("/stall.bin").ToString());
            await Add(JobState.Queued, _server.UrlOf("/ok.bin").ToString() + "?second");
            await Add(JobState.Connecting, silentUrl);
            await Add(JobState.Suspended, _server.UrlOf("/ok.bin").ToString());
            var other = "http://localhost:" + _server.BaseAddress.Port; // another host: its own slot
            await Add(JobState.Error, other + "/missing.bin");
            await Add(JobState.TransientError, other + "/busy.bin");
            await Add(JobState.Transferred, other + "/ok.bin");
            await Add(JobState.Acknowledged, other + "/ok.bin?ack");
            await Add(JobState.Cancelled, _server.UrlOf("/ok.bin").ToString() + "?cancel");
            foreach (var s in new[] { JobState.Transferring, JobState.Connecting, JobState.Error, JobState.TransientError, JobState.Transferred, JobState.Acknowledged })
                await qm.SendAsync(new ResumeJob(group, "erin", ids[s]));
            await AwaitAsync(first, group, ids[JobState.Transferring], j => j.State == JobState.Transferring);
            await qm.SendAsync(new ResumeJob(group, "erin", ids[JobState.Queued]));
            await AwaitAsync(first, group, ids[JobState.Acknowledged], j => j.State == JobState.Transferred);
            await qm.SendAsync(new CompleteJob(group, "erin", ids[JobState.Acknowledged]));
            await qm.SendAsync(new CancelJob(group, "erin", ids[JobState.Cancelled]));
            foreach (var s in Enum.GetValues<JobState>()) before[s] = await AwaitAsync(first, group, ids[s], j => j.State == s);
        }

        // act
        await using var second = HostedQmgr.Start(DataDir, overrides);
        await second.QueueManager.GetGroupAsync(group);
        var journal = new Journal(DataDir);
        var requeued = await journal.WaitForAsync(e =>
        {
            var r = e.OfType<JobStateChanged>().Where(x => x.Cause == "recovered after restart").ToList();
            return r.Count >= 2 ? r : null;
        }, Deadline);
        var after = await second.QueueManager.GetGroupAsync(group);

        // assert: Connecting and Transferring came back Queued (journaled; Queued already was), every other state as it was
        Assert.Equal(
            new[] { (ids[JobState.Queued], JobState.Queued), (ids[JobState.Connecting], JobState.Connecting), (ids[JobState.Transferring], JobState.Transferring) }
                .Where(x => x.Item2 != JobState.Queued).Select(x => x.Item1).Order(),
            requeued.Select(r => r.JobId).Order());
        Assert.All(requeued, r => Assert.Equal(JobState.Queued, r.To));
        foreach (var s in new[] { JobState.Suspended, JobState.Error, JobState.TransientError, JobState.Transferred, JobState.Acknowledged, JobState.Cancelled })
        {
            var job = after.FindJob(ids[s])!;
            Assert.Equal(s, job.State);
            Assert.Equal(before[s].Error, job.Error);
            Assert.Equal(before[s].Files, job.Files);
        }
        Assert.Equal(before[JobState.TransientError].RetryDueAt, after.FindJob(ids[JobState.TransientError])!.RetryDueAt);
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
