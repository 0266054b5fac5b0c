using Akka.Configuration;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Actors;

/// <summary>Decision 5: transfers beyond <c>qmgr.transfer.max-concurrent-per-host</c> wait in Queued for a slot.</summary>
public sealed class ConcurrencySpecs : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_second_job_to_the_same_host_stays_queued_until_the_first_frees_the_slot()
    {
        // arrange: one transfer per host; job A trickles 400 KB at 400 KB/s
        await using var qmgr = HostedQmgr.Start(_dir.File("data"), ConfigurationFactory.ParseString("qmgr.transfer.max-concurrent-per-host = 1"));
        var qm = qmgr.QueueManager;
        var group = Guid.NewGuid();
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        var slow = LoopbackFileServer.Content(400_000, 31);
        var fast = LoopbackFileServer.Content(1000, 32);
        await qm.SendAsync(new CreateGroup(group, "carol", "slots", JobPriority.Normal, 0));
        foreach (var (job, path, content, opts) in new[] { (a, "/a.bin", slow, new LoopbackFileOptions { TrickleBytesPerSecond = 400_000 }), (b, "/b.bin", fast, new LoopbackFileOptions()) })
        {
            await qm.SendAsync(new CreateJob(group, "carol", job, path, null, new JobOptions(AutoComplete: true)));
            await qm.SendAsync(new AddFiles(group, "carol", job, [new FileSpec(_server.Add(path, content, opts).ToString(), _dir.File(path.TrimStart('/')))]));
        }

        // act
        await qm.SendAsync(new ResumeJob(group, "carol", a));
        var journal = new Journal(qmgr.DataDirectory);
        await journal.WaitForAsync(e => e.OfType<JobStateChanged>().FirstOrDefault(s => s.JobId == a && s.To == JobState.Transferring), TimeSpan.FromSeconds(30));
        await qm.SendAsync(new ResumeJob(group, "carol", b));
        await journal.WaitForAsync(e => e.OfType<JobCompleted>().Count() == 2 ? e : null, TimeSpan.FromSeconds(30));

        // assert: B's only request reached the server after A's last byte had started on its way. (The slot is freed when
        // A's download returns, which races with the group journaling A's FileTransferred, so the journal's order of
        // "A transferred" and "B connecting" is not the evidence; the server's clock is.)
        var aRequests = _server.RequestsFor("/a.bin");
        var bRequests = _server.RequestsFor("/b.bin");
        Assert.Single(aRequests);
        Assert.Single(bRequests);
        var aLastSlice = _server.LastSliceStartedAt("/a.bin", 0);
        Assert.NotNull(aLastSlice);
        Assert.True(bRequests[0].Time >= aLastSlice, $"B requested at {bRequests[0].Time:O}, before A's last slice at {aLastSlice:O}");
        var events = journal.Events().ToList();
        var bQueued = events.FindIndex(e => e is JobStateChanged { To: JobState.Queued } s && s.JobId == b);
        var bConnecting = events.FindIndex(e => e is JobStateChanged { To: JobState.Connecting } s && s.JobId == b);
        Assert.True(bQueued >= 0 && bConnecting > bQueued, $"B queued at event {bQueued}, connecting at {bConnecting}");
        Assert.Equal(slow, File.ReadAllBytes(_dir.File("a.bin")));
        Assert.Equal(fast, File.ReadAllBytes(_dir.File("b.bin")));
    }
}
