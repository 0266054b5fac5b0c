using Akka.Configuration;
using Qmgr.Groups;
using Qmgr.Hosting;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Actors;

/// <summary>
/// BITS §2.6 on an embedded node (SQLite journal, loopback server): strict priority between levels (a High job preempts
/// the Normal ones, T8, which resume byte-exact from their checkpoints) and round robin with a time slice inside a level.
/// Assertions read the journal's order of events and the loopback server's order of requests, never durations. Where
/// two jobs race through different actors (a freed slot is granted while the group still journals the holder's end),
/// the server's clock is the evidence: a request logged after a response's last slice started cannot have overlapped it.
/// </summary>
public sealed class SchedulingSpecs : IAsyncLifetime, IDisposable
{
    private const string Owner = "dave";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    private async Task<Guid> AddJobAsync(GroupClient qm, Guid group, string name, JobPriority priority, byte[] content, long trickle)
    {
        var job = Guid.NewGuid();
        await qm.SendAsync(new CreateJob(group, Owner, job, name, priority, new JobOptions(AutoComplete: true)));
        var url = _server.Add("/" + name, content, new LoopbackFileOptions { TrickleBytesPerSecond = trickle });
        await qm.SendAsync(new AddFiles(group, Owner, job, [new FileSpec(url.ToString(), _dir.File(name))]));
        return job;
    }

    private static int IndexOf(IReadOnlyList<IGroupEvent> events, Func<IGroupEvent, bool> match) => events.ToList().FindIndex(e => match(e));

    [Fact]
    public async Task A_high_job_preempts_running_normal_jobs_which_pause_in_queued_and_later_complete_byte_exact()
    {
        // arrange: two Normal jobs trickling 2 MB at 400 KB/s each
        await using var qmgr = HostedQmgr.Start(_dir.File("data"));
        var qm = qmgr.QueueManager;
        var group = Guid.NewGuid();
        await qm.SendAsync(new CreateGroup(group, Owner, "priorities", JobPriority.Normal, 0));
        var (contentA, contentB, contentH) = (LoopbackFileServer.Content(2_000_000, 41), LoopbackFileServer.Content(2_000_000, 42), LoopbackFileServer.Content(600_000, 43));
        var a = await AddJobAsync(qm, group, "a.bin", JobPriority.Normal, contentA, 400_000);
        var b = await AddJobAsync(qm, group, "b.bin", JobPriority.Normal, contentB, 400_000);
        var h = await AddJobAsync(qm, group, "h.bin", JobPriority.High, contentH, 600_000);
        var journal = new Journal(qmgr.DataDirectory);
        await qm.SendAsync(new ResumeJob(group, Owner, a));
        await qm.SendAsync(new ResumeJob(group, Owner, b));
        await journal.WaitForAsync(e => e.OfType<FileProgressCheckpointed>().Any(c => c.JobId == a && c.BytesTransferred > 0)
                                        && e.OfType<FileProgressCheckpointed>().Any(c => c.JobId == b && c.BytesTransferred > 0) ? e : null, Deadline);

        // act: the High job arrives while both Normal jobs transfer
        await qm.SendAsync(new ResumeJob(group, Owner, h));
        await journal.WaitForAsync(e => e.OfType<JobCompleted>().Count() == 3 ? e : null, Deadline);

        // assert
        var events = journal.Events();
        var hTransferring = IndexOf(events, e => e is JobStateChanged { To: JobState.Transferring } s && s.JobId == h);
        var hDone = IndexOf(events, e => e is JobStateChanged { To: JobState.Transferred } s && s.JobId == h);
        foreach (var normal in new[] { a, b })
        {
            // T8: Transferring (or Connecting) -> Queued with the BITS cause, before the High job finished
            var paused = IndexOf(events, e => e is JobStateChanged { To: JobState.Queued } s && s.JobId == normal && s.Cause == JobActor.PreemptedByPriorityCause);
            Assert.True(paused >= 0 && paused < hDone, $"job {normal} paused at event {paused}, High transferred at {hDone}");
            // while the High job still moved bytes (up to its last checkpoint) the Normal job had no event at all, and until
            // the High job's file was done it made no progress (it may be granted the freed slot as the High's last byte lands)
            var hLastCheckpoint = events.Select((e, i) => (e, i)).Where(x => x.e is FileProgressCheckpointed c && c.JobId == h).Select(x => x.i).DefaultIfEmpty(-1).Max();
            Assert.DoesNotContain(events.Skip(paused + 1).Take(Math.Max(0, hLastCheckpoint - paused)), e => e switch
            {
                FileProgressCheckpointed c => c.JobId == normal,
                FileTransferred t => t.JobId == normal,
                JobStateChanged s => s.JobId == normal,
                _ => false,
            });
            // and it asked the server again only once the High job's last bytes were on their way
            var hLastSlice = _server.LastSliceStartedAt("/h.bin", _server.RequestsFor("/h.bin").Count - 1);
            Assert.NotNull(hLastSlice);
            var normalRequests = _server.RequestsFor(normal == a ? "/a.bin" : "/b.bin");
            Assert.True(normalRequests[^1].Time >= hLastSlice, $"job {normal} asked again at {normalRequests[^1].Time:O}, before the High job's last slice at {hLastSlice:O}");
            // it resumed afterwards from its checkpoint, not from zero
            var pausedAt = events.Take(paused).OfType<FileProgressCheckpointed>().Where(c => c.JobId == normal).Select(c => c.BytesTransferred).DefaultIfEmpty(0).Last();
            var resumed = events.Skip(hDone).OfType<FileProgressCheckpointed>().Where(c => c.JobId == normal).Select(c => c.BytesTransferred).ToList();
            Assert.True(resumed.Count == 0 || resumed[0] >= pausedAt, $"job {normal} resumed at {resumed.FirstOrDefault()} after pausing at {pausedAt}");
            var resumeRequests = _server.RequestsFor(normal == a ? "/a.bin" : "/b.bin");
            Assert.True(resumeRequests.Count >= 2, "the Normal job asked again after the preemption");
        }
        Assert.True(hTransferring >= 0 && hTransferring < hDone);
        Assert.Equal(contentA, File.ReadAllBytes(_dir.File("a.bin")));
        Assert.Equal(contentB, File.ReadAllBytes(_dir.File("b.bin")));
        Assert.Equal(contentH, File.ReadAllBytes(_dir.File("h.bin")));
    }

    [Fact]
    public async Task With_one_slot_and_a_time_slice_two_normal_jobs_take_turns_and_both_complete_byte_exact()
    {
        // arrange: one node slot, slices of 500 ms, two Normal jobs of 1.5 MB trickling at 500 KB/s (about 3 s each)
        await using var qmgr = HostedQmgr.Start(_dir.File("data"), ConfigurationFactory.ParseString("""
            qmgr.transfer.max-concurrent-per-node = 1
            qmgr.transfer.time-slice = 500ms
            """));
        var qm = qmgr.QueueManager;
        var group = Guid.NewGuid();
        await qm.SendAsync(new CreateGroup(group, Owner, "round robin", JobPriority.Normal, 0));
        var (contentA, contentB) = (LoopbackFileServer.Content(1_500_000, 51), LoopbackFileServer.Content(1_500_000, 52));
        var a = await AddJobAsync(qm, group, "a.bin", JobPriority.Normal, contentA, 500_000);
        var b = await AddJobAsync(qm, group, "b.bin", JobPriority.Normal, contentB, 500_000);
        var journal = new Journal(qmgr.DataDirectory);

        // act
        await qm.SendAsync(new ResumeJob(group, Owner, a));
        await journal.WaitForAsync(e => e.OfType<JobStateChanged>().FirstOrDefault(s => s.JobId == a && s.To == JobState.Transferring), Deadline);
        await qm.SendAsync(new ResumeJob(group, Owner, b));
        await journal.WaitForAsync(e => e.OfType<JobCompleted>().Count() == 2 ? e : null, Deadline);

        // assert: A gave its slot back when its slice ended (journaled with the cause), and B was served before A's file
        // was: B's first request reached the server before the last slice of A's final response started
        var events = journal.Events();
        var aSliced = IndexOf(events, e => e is JobStateChanged { To: JobState.Queued } s && s.JobId == a && s.Cause == JobActor.TimeSliceEndedCause);
        Assert.True(aSliced >= 0, "A was sent back to Queued by the time slice");
        var aRequests = _server.RequestsFor("/a.bin");
        var bRequests = _server.RequestsFor("/b.bin");
        Assert.True(aRequests.Count >= 2, $"A asked {aRequests.Count} time(s); a sliced job asks again for the rest");
        Assert.Null(_server.LastSliceStartedAt("/a.bin", 0));
        var aLastSlice = _server.LastSliceStartedAt("/a.bin", aRequests.Count - 1);
        Assert.NotNull(aLastSlice);
        Assert.True(bRequests[0].Time < aLastSlice, $"B first asked at {bRequests[0].Time:O}, after A's last slice at {aLastSlice:O}");
        Assert.Equal(contentA, File.ReadAllBytes(_dir.File("a.bin")));
        Assert.Equal(contentB, File.ReadAllBytes(_dir.File("b.bin")));
    }
}
