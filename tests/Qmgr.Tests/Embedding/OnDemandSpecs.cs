using System.Collections.Concurrent;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// BITS ON_DEMAND_MODE (IBackgroundCopyJob5) with <c>IBackgroundCopyFile6</c> RequestFileRanges, UpdateDownloadPosition
/// and GetFilledFileRanges, and <c>IBackgroundCopyCallback3::FileRangesTransferred</c>, on a real node (SQLite journal)
/// against the loopback server: order of the ranged GETs, T25, the filled map across a node restart, the error codes.
/// </summary>
public sealed class OnDemandSpecs() : EmbeddedNodeSpecs("alice")
{
    private static byte[] Read(string path, long offset, int length)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[length];
        stream.Position = offset;
        stream.ReadExactly(bytes);
        return bytes;
    }

    private async Task<IJob> OnDemandJobAsync(string name, string url, string local)
    {
        var job = await (await Qm.CreateGroupAsync(name)).CreateJobAsync(name);
        await job.SetPropertyAsync(BitsJobPropertyId.OnDemandMode, new BitsJobPropertyValue(Enable: true));
        await job.AddFilesAsync([(url, local)]);
        return job;
    }

    // T25: the job was suspended because its requested ranges are present
    private Task<GroupEvents.JobStateChanged> RequestedRangesDoneAsync(IJob job, int nth = 1) =>
        new Journal(DataDir).WaitForAsync(e => e.OfType<GroupEvents.JobStateChanged>()
            .Where(s => s.JobId == job.Id && s.Cause == GroupDecisions.RequestedRangesTransferredCause).Skip(nth - 1).FirstOrDefault(), Deadline);

    [Fact]
    public async Task Requested_ranges_are_fetched_first_and_once_present_the_job_is_suspended_with_the_file_incomplete()
    {
        // arrange: two ranges of a 100,000-byte file, the second overlapping the first's bytes partly (split automatically)
        var content = LoopbackFileServer.Content(100_000, 91);
        var url = Server.Add("/od.bin", content).ToString();
        var job = await OnDemandJobAsync("requested", url, Dir.File("od.bin"));
        await job.RequestFileRangesAsync(0, [new FileRange(60_000, 1000), new FileRange(10_000, 500)]);
        await job.RequestFileRangesAsync(0, [new FileRange(60_500, 1000)]);

        // act
        await job.ResumeAsync();
        var t25 = await RequestedRangesDoneAsync(job);
        var suspended = await job.GetAsync();
        var filled = await job.GetFilledFileRangesAsync(0);

        // assert
        Assert.Equal(JobState.Suspended, suspended.State);
        Assert.Equal(JobState.Transferring, t25.From);
        Assert.Null(suspended.Error);
        Assert.Equal(["bytes=60000-60999", "bytes=10000-10499", "bytes=61000-61499"], Server.RequestsFor("/od.bin").Select(r => r.Range));
        Assert.All(Server.RequestsFor("/od.bin").Skip(1), r => Assert.NotNull(r.IfRange)); // the file's validator from the first answer
        Assert.Equal([new FileRange(10_000, 500), new FileRange(60_000, 1500)], filled);
        Assert.Equal((100_000L, 2000L), (suspended.Files[0].BytesTotal!.Value, suspended.BytesTransferred));
        Assert.False(suspended.Files[0].Transferred);
        var temp = suspended.Files[0].TempName;
        Assert.Equal(100_000, new FileInfo(temp).Length); // the full size, sparse
        Assert.Equal(Slice(content, 60_000, 1500), Read(temp, 60_000, 1500));
        Assert.Equal(Slice(content, 10_000, 500), Read(temp, 10_000, 500));
        Assert.Equal([new FileRange(60_000, 1000), new FileRange(10_000, 500), new FileRange(60_500, 1000)],
            new Journal(DataDir).Events<GroupEvents.FileRangesRequested>().SelectMany(r => r.Ranges));
    }

    [Fact]
    public async Task Resuming_after_the_requested_ranges_fills_the_rest_from_the_download_position_and_the_file_is_byte_exact()
    {
        // arrange: the requested range is present and the job suspended (T25); the position is then moved to 50,000
        var content = LoopbackFileServer.Content(100_000, 92);
        var url = Server.Add("/fill.bin", content).ToString();
        var job = await OnDemandJobAsync("fill", url, Dir.File("fill.bin"));
        await job.RequestFileRangesAsync(0, [new FileRange(70_000, 5000)]);
        await job.ResumeAsync();
        await RequestedRangesDoneAsync(job);
        await job.UpdateDownloadPositionAsync(0, 50_000);

        // act
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        var filled = await job.GetFilledFileRangesAsync(0);
        await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Equal(["bytes=70000-74999", "bytes=50000-69999", "bytes=75000-99999", "bytes=0-49999"],
            Server.RequestsFor("/fill.bin").Select(r => r.Range));
        Assert.Equal([new FileRange(0, 100_000)], filled);
        Assert.Equal(content, File.ReadAllBytes(Dir.File("fill.bin")));
        Assert.Equal(50_000, new Journal(DataDir).Events<GroupEvents.DownloadPositionUpdated>().Single().Offset);
    }

    [Fact]
    public async Task A_range_requested_while_the_file_fills_goes_next_and_the_job_then_stops_at_the_requested_bytes()
    {
        // arrange: the first answer (the whole file from byte 0) trickles, so fills are journaled, and stalls after 300,000
        // bytes with its connection open; the idle timeout (60 s here) outlasts the test, so that answer never ends by itself
        await Node.DisposeAsync();
        Node = HostedQmgr.Start(DataDir, Akka.Configuration.ConfigurationFactory.ParseString("qmgr.transfer.idle-timeout = 60s"));
        Qm = QueueManager.Create(Node.System, "alice");
        var content = LoopbackFileServer.Content(1_000_000, 93);
        var url = Server.Add("/switch.bin", content, new LoopbackFileOptions
        {
            TrickleBytesPerSecond = 100_000,
            StallAfter = new Dictionary<int, long> { [0] = 300_000 },
        }).ToString();
        var job = await OnDemandJobAsync("switch", url, Dir.File("switch.bin"));
        await job.ResumeAsync();
        await new Journal(DataDir).WaitForAsync(e => e.OfType<GroupEvents.FileRangesFilled>().FirstOrDefault(f => f.JobId == job.Id), Deadline);

        // act
        await job.RequestFileRangesAsync(0, [new FileRange(900_000, 1000)]);
        await RequestedRangesDoneAsync(job);
        var suspended = await job.GetAsync();

        // assert
        var requests = Server.RequestsFor("/switch.bin");
        Assert.Equal(["bytes=0-", "bytes=900000-900999"], requests.Select(r => r.Range));
        Assert.NotNull(requests[1].IfRange);
        Assert.Equal(JobState.Suspended, suspended.State);
        var filled = suspended.Files[0].RandomAccess.Filled;
        Assert.Equal(new FileRange(900_000, 1000), filled[^1]);
        Assert.Equal(0, filled[0].InitialOffset);
        Assert.Equal(Slice(content, 900_000, 1000), Read(suspended.Files[0].TempName, 900_000, 1000));
        Assert.Equal(Slice(content, 0, (int)filled[0].Length), Read(suspended.Files[0].TempName, 0, (int)filled[0].Length));
    }

    [Fact]
    public async Task A_server_that_ignores_Range_puts_an_on_demand_job_in_error_with_BG_E_RANDOM_ACCESS_NOT_SUPPORTED()
    {
        // arrange
        var url = Server.Add("/norange.bin", LoopbackFileServer.Content(5000, 94), new LoopbackFileOptions { HonourRange = false }).ToString();
        var job = await OnDemandJobAsync("no range", url, Dir.File("norange.bin"));
        await job.RequestFileRangesAsync(0, [new FileRange(1000, 100)]);

        // act
        await job.ResumeAsync();
        var failed = await WaitAsync(job, j => j.State is JobState.Error or JobState.Suspended or JobState.Transferred);

        // assert
        Assert.Equal(JobState.Error, failed.State);
        Assert.Equal((BitsErrors.RandomAccessNotSupported, 200), (failed.Error!.HResult, failed.Error.HttpStatus));
        Assert.Equal(HResults.BG_E_RANDOM_ACCESS_NOT_SUPPORTED, failed.Error.HResult);
        Assert.Empty(await job.GetFilledFileRangesAsync(0));
        Assert.Single(Server.RequestsFor("/norange.bin")); // fatal: no retry
    }

    [Fact]
    public async Task Ranges_outside_the_file_are_BG_E_INVALID_RANGE_when_requested_or_at_the_first_answer()
    {
        // arrange: one job learns the size first (T25 on a first range), the other requests past the end before any answer
        var url = Server.Add("/short.bin", LoopbackFileServer.Content(10_000, 95)).ToString();
        var known = await OnDemandJobAsync("known", url, Dir.File("known.bin"));
        await known.RequestFileRangesAsync(0, [new FileRange(0, 10)]);
        await known.ResumeAsync();
        await RequestedRangesDoneAsync(known);
        var unknown = await OnDemandJobAsync("unknown", url + "?unknown", Dir.File("unknown.bin"));
        await unknown.RequestFileRangesAsync(0, [new FileRange(20_000, 10)]);

        // act
        var pastEnd = await RefusedAsync(() => known.RequestFileRangesAsync(0, [new FileRange(9_990, 11)]));
        var after = await RefusedAsync(() => known.RequestFileRangesAsync(0, [new FileRange(10_000, FileRange.LengthToEof)]));
        var position = await RefusedAsync(() => known.UpdateDownloadPositionAsync(0, 10_000));
        await known.RequestFileRangesAsync(0, [new FileRange(9_000, FileRange.LengthToEof)]); // to the end: fine
        await unknown.ResumeAsync();
        var failed = await WaitAsync(unknown, j => j.State is JobState.Error or JobState.Suspended);

        // assert
        Assert.Equal((HResults.BG_E_INVALID_RANGE, HResults.BG_E_INVALID_RANGE, HResults.BG_E_INVALID_RANGE), (pastEnd, after, position));
        Assert.Equal(new FileRange(9_000, 1000), new Journal(DataDir).Events<GroupEvents.FileRangesRequested>().Last(r => r.JobId == known.Id).Ranges.Single());
        Assert.Equal((JobState.Error, BitsErrors.InvalidRange), (failed.State, failed.Error!.HResult));
        Assert.Equal(["bytes=20000-20009"], Server.RequestsFor("/short.bin").Where(r => r.RawTarget.Contains("unknown")).Select(r => r.Range)); // 416 told the size
    }

    [Fact]
    public async Task On_demand_calls_and_the_property_are_refused_with_the_BITS_codes()
    {
        // arrange
        var url = Server.Add("/codes.bin", LoopbackFileServer.Content(1000, 96)).ToString();
        var group = await Qm.CreateGroupAsync("codes");
        var plain = await group.CreateJobAsync("plain");
        await plain.AddFilesAsync([(url, Dir.File("plain.bin"))]);
        var onDemand = await OnDemandJobAsync("on demand", url, Dir.File("od.bin"));
        var dynamic = await group.CreateJobAsync("dynamic");
        await dynamic.SetPropertyAsync(JobProperty.DynamicContent, "true");
        var ranged = await group.CreateJobAsync("ranged");
        await ranged.AddFileWithRangesAsync(url, Dir.File("ranged.bin"), [new FileRange(0, 10)]);
        var resumed = await group.CreateJobAsync("resumed");
        await resumed.AddFilesAsync([(url, Dir.File("resumed.bin"))]);
        await resumed.ResumeAsync();
        await resumed.SuspendAsync();
        var on = new BitsJobPropertyValue(Enable: true);

        // act
        var request = await RefusedAsync(() => plain.RequestFileRangesAsync(0, [new FileRange(0, 10)]));
        var position = await RefusedAsync(() => plain.UpdateDownloadPositionAsync(0, 10));
        var filled = await RefusedAsync(() => plain.GetFilledFileRangesAsync(0));
        var noRanges = await RefusedAsync(() => onDemand.RequestFileRangesAsync(0, []));
        var noFile = await RefusedAsync(() => onDemand.RequestFileRangesAsync(1, [new FileRange(0, 10)]));
        var zeroLength = await RefusedAsync(() => onDemand.RequestFileRangesAsync(0, [new FileRange(0, 0)]));
        var eofOffset = await RefusedAsync(() => onDemand.RequestFileRangesAsync(0, [new FileRange(FileRange.LengthToEof, 10)]));
        var withDynamic = await RefusedAsync(() => dynamic.SetPropertyAsync(BitsJobPropertyId.OnDemandMode, on));
        var withRanges = await RefusedAsync(() => ranged.SetPropertyAsync(BitsJobPropertyId.OnDemandMode, on));
        var afterResume = await RefusedAsync(() => resumed.SetPropertyAsync(BitsJobPropertyId.OnDemandMode, on));
        var dynamicAfter = await RefusedAsync(() => onDemand.SetPropertyAsync(JobProperty.DynamicContent, "true"));
        var rangesAfter = await RefusedAsync(() => onDemand.AddFileWithRangesAsync(url, Dir.File("r2.bin"), [new FileRange(0, 10)]));

        // assert
        Assert.Equal([HResults.BG_E_RANDOM_ACCESS_NOT_SUPPORTED, HResults.BG_E_RANDOM_ACCESS_NOT_SUPPORTED, HResults.BG_E_RANDOM_ACCESS_NOT_SUPPORTED],
            new[] { request, position, filled });
        Assert.Equal([HResults.E_INVALIDARG, HResults.E_INVALIDARG, HResults.BG_E_INVALID_RANGE, HResults.BG_E_INVALID_RANGE],
            new[] { noRanges, noFile, zeroLength, eofOffset });
        Assert.Equal([HResults.BG_E_INVALID_STATE, HResults.BG_E_INVALID_STATE, HResults.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME,
            HResults.BG_E_INVALID_STATE, HResults.BG_E_INVALID_STATE], new[] { withDynamic, withRanges, afterResume, dynamicAfter, rangesAfter });
        Assert.True((await onDemand.GetPropertyAsync(BitsJobPropertyId.OnDemandMode)).Enable);
        Assert.False((await plain.GetPropertyAsync(BitsJobPropertyId.OnDemandMode)).Enable);
        Assert.Empty(await onDemand.GetFilledFileRangesAsync(0));
        Assert.Empty(new Journal(DataDir).Events<GroupEvents.FileRangesRequested>());
    }

    [Fact]
    public async Task FileRangesTransferred_reaches_the_callback_only_under_notify_flag_0x20_and_the_notification_stream_always()
    {
        // arrange: job A has BG_NOTIFY_FILE_RANGES_TRANSFERRED, job B not; both get JobModification: B's for T25 (Suspended
        // with the 10,200 requested bytes) is delivered after any FileRangesTransferred of B would have been (one ordered dispatcher)
        var url = Server.Add("/notify.bin", LoopbackFileServer.Content(50_000, 97)).ToString();
        var a = await OnDemandJobAsync("with 0x20", url, Dir.File("a.bin"));
        var b = await OnDemandJobAsync("without 0x20", url + "?b", Dir.File("b.bin"));
        await a.SetPropertyAsync(JobProperty.NotifyFlags, "43"); // 0x20 | 0x8 | 0x2 | 0x1
        await b.SetPropertyAsync(JobProperty.NotifyFlags, "11"); // 0x8 | 0x2 | 0x1
        var (recorderA, recorderB) = (new Recorder(), new Recorder());
        await a.SetNotifyInterfaceAsync(recorderA);
        await b.SetNotifyInterfaceAsync(recorderB);
        var stream = new ConcurrentQueue<QmgrNotification.FileRangesTransferred>();
        using var subscription = Qm.Notifications.Subscribe(new Observer(n => { if (n is QmgrNotification.FileRangesTransferred r) stream.Enqueue(r); }));
        FileRange[] ranges = [new(40_000, FileRange.LengthToEof), new(100, 200)];

        // act
        await a.RequestFileRangesAsync(0, ranges);
        await b.RequestFileRangesAsync(0, ranges);
        await a.ResumeAsync();
        await b.ResumeAsync();
        await RequestedRangesDoneAsync(a);
        await RequestedRangesDoneAsync(b);
        await AwaitAsync(() => recorderA.Calls.Count(c => c.StartsWith("ranges")) == 2 && recorderB.Calls.Contains("modification Suspended 10200")
                               && stream.Count(n => n.Job.Id == a.Id) == 2 && stream.Count(n => n.Job.Id == b.Id) == 2);
        await a.RequestFileRangesAsync(0, [new FileRange(150, 10)]); // already present: reported at once
        await AwaitAsync(() => recorderA.Calls.Count(c => c.StartsWith("ranges")) == 3);

        // assert
        Assert.Equal(["ranges 0 40000:10000", "ranges 0 100:200", "ranges 0 150:10"], recorderA.Calls.Where(c => c.StartsWith("ranges")));
        Assert.DoesNotContain(recorderB.Calls, c => c.StartsWith("ranges"));
        Assert.Equal([[new FileRange(40_000, 10_000)], [new FileRange(100, 200)]], stream.Where(n => n.Job.Id == b.Id).Select(n => n.Ranges.ToArray()));
    }

    [Fact]
    public async Task A_node_restart_keeps_the_filled_map_and_the_download_continues_without_fetching_filled_bytes_again()
    {
        // arrange: a 1 MB on-demand file filled from byte 0, trickled so fills land in the journal; the first answer stalls
        // after 500,000 bytes and the first node's idle timeout (60 s) outlasts the test, so it holds at most that much
        await Node.DisposeAsync();
        var content = LoopbackFileServer.Content(1_000_000, 98);
        var url = Server.Add("/restart.bin", content, new LoopbackFileOptions
        {
            TrickleBytesPerSecond = 150_000,
            StallAfter = new Dictionary<int, long> { [0] = 500_000 },
        }).ToString();
        var journal = new Journal(DataDir);
        Guid groupId, jobId;
        await using (var first = HostedQmgr.Start(DataDir, Akka.Configuration.ConfigurationFactory.ParseString("qmgr.transfer.idle-timeout = 60s")))
        {
            var qm = QueueManager.Create(first.System, "alice");
            var group = await qm.CreateGroupAsync("restart");
            var job = await group.CreateJobAsync("restart");
            (groupId, jobId) = (group.Id, job.Id);
            await job.SetPropertyAsync(BitsJobPropertyId.OnDemandMode, new BitsJobPropertyValue(Enable: true));
            await job.AddFilesAsync([(url, Dir.File("restart.bin"))]);
            await job.ResumeAsync();
            await journal.WaitForAsync(e => e.OfType<GroupEvents.FileRangesFilled>().Sum(f => f.Ranges.Sum(r => r.Length)) > 200_000 ? e : null, Deadline);
        }
        var journaled = journal.Groups().Single().FindJob(jobId)!.Files[0].RandomAccess.Filled;
        var before = Server.RequestsFor("/restart.bin").Count;

        // act
        Node = HostedQmgr.Start(DataDir);
        var again = await (await QueueManager.Create(Node.System, "alice").GetGroupAsync(groupId)).GetJobAsync(jobId);
        await again.ResumeAsync();
        var done = await WaitAsync(again, j => j.State is JobState.Transferred or JobState.Error);
        await again.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        var end = Assert.Single(journaled);
        Assert.Equal(0, end.InitialOffset);
        Assert.True(end.Length > 200_000 && end.Length <= 500_000, $"journaled {end}");
        var resumed = Server.RequestsFor("/restart.bin").Skip(before).ToList();
        Assert.Equal([$"bytes={end.Length}-999999"], resumed.Select(r => r.Range));
        Assert.NotNull(resumed[0].IfRange);
        Assert.Equal(content, File.ReadAllBytes(Dir.File("restart.bin")));
    }

    [Fact]
    public async Task A_remote_file_that_changed_drops_the_filled_map_and_the_file_is_fetched_again_from_its_new_version()
    {
        // arrange: the requested range comes from version 1; from the second request on the server has version 2 (new ETag)
        var v1 = LoopbackFileServer.Content(100_000, 99);
        var v2 = LoopbackFileServer.Content(100_000, 100);
        var url = Server.Add("/changed.bin", v1, new LoopbackFileOptions
        {
            Versions = [new ContentVersion(1, v2, "\"v2\"", new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero))],
        }).ToString();
        var job = await OnDemandJobAsync("changed", url, Dir.File("changed.bin"));
        await job.RequestFileRangesAsync(0, [new FileRange(70_000, 5000)]);
        await job.ResumeAsync();
        await RequestedRangesDoneAsync(job);

        // act
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        var requests = Server.RequestsFor("/changed.bin");
        Assert.Equal([("bytes=70000-74999", 206), ("bytes=0-69999", 200), ("bytes=0-", 206)], requests.Select(r => (r.Range, r.Status)));
        Assert.NotNull(requests[1].IfRange);
        Assert.Null(requests[2].IfRange); // starts over without the old validator
        Assert.Equal(FileRestartReason.ValidatorChanged, new Journal(DataDir).Events<GroupEvents.FileRestarted>().Single().Reason);
        Assert.Equal(v2, File.ReadAllBytes(Dir.File("changed.bin")));
    }

    private static async Task AwaitAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        while (!condition()) await Task.Delay(50, timeout.Token);
    }

    private sealed class Observer(Action<QmgrNotification> onNext) : IObserver<QmgrNotification>
    {
        public void OnNext(QmgrNotification value) => onNext(value);
        public void OnError(Exception error) { }
        public void OnCompleted() { }
    }

    private sealed class Recorder : IJobCallback
    {
        private readonly ConcurrentQueue<string> _calls = new();
        public IReadOnlyList<string> Calls => _calls.ToArray();
        public Task JobTransferredAsync(IJob job, Job state) { _calls.Enqueue("transferred"); return Task.CompletedTask; }
        public Task JobErrorAsync(IJob job, Job state, JobError error) { _calls.Enqueue("error"); return Task.CompletedTask; }
        public Task JobModificationAsync(IJob job, Job state) { _calls.Enqueue($"modification {state.State} {state.BytesTransferred}"); return Task.CompletedTask; }
        public Task FileTransferredAsync(IJob job, Job state, int fileIndex) { _calls.Enqueue($"file {fileIndex}"); return Task.CompletedTask; }

        public Task FileRangesTransferredAsync(IJob job, Job state, int fileIndex, IReadOnlyList<FileRange> ranges)
        {
            _calls.Enqueue($"ranges {fileIndex} {string.Join(',', ranges.Select(r => $"{r.InitialOffset}:{r.Length}"))}");
            return Task.CompletedTask;
        }
    }
}
