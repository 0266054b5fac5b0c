using Akka.Configuration;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// BITS <c>IBackgroundCopyJob3::AddFileWithRanges</c> and <c>IBackgroundCopyFile2::GetFileRanges</c> on a real node
/// (SQLite journal) against the loopback server: validation codes, one ranged GET per range, the concatenation in the
/// order given, the run-time errors and resuming inside a range.
/// </summary>
public sealed class FileRangesSpecs() : EmbeddedNodeSpecs("alice")
{
    [Fact]
    public async Task Ranges_are_fetched_one_GET_each_and_the_local_file_is_their_concatenation_in_the_order_given()
    {
        // arrange: 100-199, 9000-EOF and 400-499 of a 10,000-byte file (bits-spec §2.10's example, with an EOF range)
        var content = LoopbackFileServer.Content(10_000, 71);
        var url = Server.Add("/ranged.bin", content).ToString();
        var job = await NewJobAsync("ranged");
        FileRange[] ranges = [new(100, 100), new(9000, FileRange.LengthToEof), new(400, 100)];
        await job.AddFileWithRangesAsync(url, Dir.File("ranged.bin"), ranges);

        // act
        await job.ResumeAsync();
        var transferred = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, transferred.State);
        Assert.Equal(ranges, transferred.Files[0].Ranges); // GetFileRanges
        Assert.Equal(1200, transferred.BytesTotal); // the sum of the requested bytes
        Assert.Equal(1200, transferred.BytesTransferred);
        Assert.Equal(["bytes=100-199", "bytes=9000-9999", "bytes=400-499"], Server.RequestsFor("/ranged.bin").Select(r => r.Range)); // the EOF range was resolved from the first Content-Range
        Assert.All(Server.RequestsFor("/ranged.bin").Skip(1), r => Assert.NotNull(r.IfRange)); // validators from the first answer
        Assert.Equal([.. Slice(content, 100, 100), .. Slice(content, 9000, 1000), .. Slice(content, 400, 100)], File.ReadAllBytes(Dir.File("ranged.bin")));
        var added = new Journal(DataDir).Events<GroupEvents.FileWithRangesAdded>().Single();
        Assert.Equal(ranges, added.Ranges);
    }

    [Fact]
    public async Task AddFileWithRanges_refuses_bad_ranges_with_the_BITS_codes_and_adds_nothing()
    {
        // arrange
        var url = Server.Add("/v.bin", LoopbackFileServer.Content(1000, 72)).ToString();
        var job = await NewJobAsync("validation");
        async Task<int> Refused(params FileRange[] ranges) =>
            (await Assert.ThrowsAsync<QmgrException>(() => job.AddFileWithRangesAsync(url, Dir.File("v.bin"), ranges))).HResult;
        var many = Enumerable.Range(0, 501).Select(i => new FileRange(i * 10L, 5)).ToArray();

        // act
        var none = await Refused();
        var eofOffset = await Refused(new FileRange(FileRange.LengthToEof, 10));
        var zeroLength = await Refused(new FileRange(10, 0));
        var overlapping = await Refused(new FileRange(0, 100), new FileRange(50, 10));
        var repeated = await Refused(new FileRange(100, 5), new FileRange(100, 5));
        var afterEof = await Refused(new FileRange(500, 10), new FileRange(0, FileRange.LengthToEof));
        var tooMany = await Refused(many);
        var filesBefore = (await job.GetAsync()).Files.Count;
        var admin = await (await Qm.ForCaller("root", isAdministrator: true).GetGroupAsync(job.GroupId)).GetJobAsync(job.Id);
        await admin.AddFileWithRangesAsync(url, Dir.File("many.bin"), many);
        var dynamicJob = await NewJobAsync("dynamic");
        await dynamicJob.SetPropertyAsync(JobProperty.DynamicContent, "true");
        var dynamic = await Assert.ThrowsAsync<QmgrException>(() => dynamicJob.AddFileWithRangesAsync(url, Dir.File("d.bin"), [new FileRange(0, 10)]));

        // assert
        Assert.Equal(HResults.E_INVALIDARG, none);
        Assert.Equal(HResults.BG_E_INVALID_RANGE, eofOffset);
        Assert.Equal(HResults.BG_E_INVALID_RANGE, zeroLength);
        Assert.Equal(HResults.BG_E_OVERLAPPING_RANGES, overlapping);
        Assert.Equal(HResults.BG_E_OVERLAPPING_RANGES, repeated);
        Assert.Equal(HResults.BG_E_OVERLAPPING_RANGES, afterEof);
        Assert.Equal(HResults.BG_E_TOO_MANY_RANGES_IN_FILE, tooMany);
        Assert.Equal(0, filesBefore);
        Assert.Equal(501, (await job.GetAsync()).Files.Single().Ranges!.Count); // administrators are exempt
        Assert.Equal(HResults.BG_E_INVALID_STATE, dynamic.HResult);
        Assert.Empty((await dynamicJob.GetAsync()).Files);
    }

    [Fact]
    public async Task A_server_that_ignores_Range_puts_the_job_in_error_with_BG_E_INSUFFICIENT_RANGE_SUPPORT()
    {
        // arrange
        var url = Server.Add("/norange.bin", LoopbackFileServer.Content(5000, 73), new LoopbackFileOptions { HonourRange = false }).ToString();
        var job = await NewJobAsync("no range");
        await job.AddFileWithRangesAsync(url, Dir.File("norange.bin"), [new FileRange(1000, 500)]);

        // act
        await job.ResumeAsync();
        var failed = await WaitAsync(job, j => j.State is JobState.Error or JobState.Transferred);

        // assert
        Assert.Equal(JobState.Error, failed.State);
        Assert.Equal(BitsErrors.InsufficientRangeSupport, failed.Error!.HResult);
        Assert.Equal(200, failed.Error.HttpStatus);
        Assert.Equal(0, failed.BytesTransferred);
        Assert.Single(Server.RequestsFor("/norange.bin")); // fatal: no retry
    }

    [Fact]
    public async Task A_range_past_the_end_of_the_remote_file_is_BG_E_INVALID_RANGE()
    {
        // arrange: one range runs past the end (seen in the first answer's Content-Range), one starts after it (416)
        var url = Server.Add("/short.bin", LoopbackFileServer.Content(1000, 74)).ToString();
        var pastEnd = await NewJobAsync("past end");
        await pastEnd.AddFileWithRangesAsync(url, Dir.File("past.bin"), [new FileRange(0, 100), new FileRange(950, 100)]);
        var beyond = await NewJobAsync("beyond");
        await beyond.AddFileWithRangesAsync(url + "?beyond", Dir.File("beyond.bin"), [new FileRange(5000, 10)]);

        // act
        await pastEnd.ResumeAsync();
        await beyond.ResumeAsync();
        var first = await WaitAsync(pastEnd, j => j.State is JobState.Error or JobState.Transferred);
        var second = await WaitAsync(beyond, j => j.State is JobState.Error or JobState.Transferred);

        // assert
        Assert.Equal((JobState.Error, BitsErrors.InvalidRange), (first.State, first.Error!.HResult));
        Assert.Equal((JobState.Error, BitsErrors.InvalidRange, 416), (second.State, second.Error!.HResult, second.Error.HttpStatus));
        // the 950 range was never asked for; the two jobs run at once, so their requests come in either order
        Assert.Equal(["bytes=0-99", "bytes=5000-5009"], Server.RequestsFor("/short.bin").Select(r => r.Range).Order());
    }

    [Fact]
    public async Task An_interrupted_range_resumes_inside_that_range_with_If_Range()
    {
        // arrange: the answer to the second range stalls after 300 of its 2,000 bytes (the connection stays open, so those
        // bytes surely arrive) until the idle timeout (5 s here) gives up on it
        var content = LoopbackFileServer.Content(10_000, 75);
        var url = Server.Add("/cut.bin", content, new LoopbackFileOptions { StallAfter = new Dictionary<int, long> { [1] = 300 } }).ToString();
        var job = await NewJobAsync("cut");
        await job.AddFileWithRangesAsync(url, Dir.File("cut.bin"), [new FileRange(1000, 2000), new FileRange(5000, 2000)]);

        // act
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        var requests = Server.RequestsFor("/cut.bin");
        Assert.Equal(["bytes=1000-2999", "bytes=5000-6999", "bytes=5300-6999"], requests.Select(r => r.Range));
        Assert.Equal(requests[1].IfRange, requests[2].IfRange);
        Assert.NotNull(requests[2].IfRange);
        Assert.Equal([.. Slice(content, 1000, 2000), .. Slice(content, 5000, 2000)], File.ReadAllBytes(Dir.File("cut.bin")));
    }

    [Fact]
    public async Task A_remote_file_that_changes_between_ranges_restarts_the_ranged_file_from_byte_zero()
    {
        // arrange: from the third request on the server has another version (new ETag), so If-Range answers 200
        var v1 = LoopbackFileServer.Content(2000, 76);
        var v2 = LoopbackFileServer.Content(2000, 77);
        var url = Server.Add("/changing.bin", v1, new LoopbackFileOptions
        {
            Versions = [new ContentVersion(2, v2, "\"v2\"", new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero))],
        }).ToString();
        var job = await NewJobAsync("changing");
        await job.AddFileWithRangesAsync(url, Dir.File("changing.bin"), [new FileRange(0, 100), new FileRange(500, 100), new FileRange(800, 100)]);

        // act
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        var requests = Server.RequestsFor("/changing.bin");
        Assert.Equal([206, 206, 200, 206, 206, 206], requests.Select(r => r.Status));
        Assert.Null(requests[3].IfRange); // the restart starts over without the old validator
        Assert.Equal("\"v2\"", requests[4].IfRange);
        var restarted = new Journal(DataDir).Events<GroupEvents.FileRestarted>().Single();
        Assert.Equal(FileRestartReason.ValidatorChanged, restarted.Reason);
        Assert.Equal([.. Slice(v2, 0, 100), .. Slice(v2, 500, 100), .. Slice(v2, 800, 100)], File.ReadAllBytes(Dir.File("changing.bin")));
    }

    [Fact]
    public async Task A_ranged_download_resumes_inside_its_range_after_a_node_restart()
    {
        // arrange: two 300 kB ranges of a 1 MB file, trickled so checkpoints land inside the second range
        await Node.DisposeAsync();
        var content = LoopbackFileServer.Content(1_000_000, 78);
        var url = Server.Add("/restart.bin", content, new LoopbackFileOptions { TrickleBytesPerSecond = 150_000 }).ToString();
        FileRange[] ranges = [new(600_000, 300_000), new(100_000, 300_000)];
        var journal = new Journal(DataDir);
        Guid groupId, jobId;
        long checkpoint;
        await using (var first = HostedQmgr.Start(DataDir))
        {
            var qm = QueueManager.Create(first.System, "alice");
            var group = await qm.CreateGroupAsync("restart");
            var job = await group.CreateJobAsync("restart");
            (groupId, jobId) = (group.Id, job.Id);
            await job.AddFileWithRangesAsync(url, Dir.File("restart.bin"), ranges);
            await job.ResumeAsync();
            checkpoint = (await journal.WaitForAsync(e => e.OfType<GroupEvents.FileProgressCheckpointed>()
                .FirstOrDefault(c => c.BytesTransferred > 310_000), Deadline)).BytesTransferred;
        }
        var journaled = journal.Groups().Single().FindJob(jobId)!.Files[0].BytesTransferred;
        var before = Server.RequestsFor("/restart.bin").Count;

        // act
        Node = HostedQmgr.Start(DataDir);
        var again = await (await QueueManager.Create(Node.System, "alice").GetGroupAsync(groupId)).GetJobAsync(jobId);
        await again.ResumeAsync();
        var done = await WaitAsync(again, j => j.State is JobState.Transferred or JobState.Error);
        await again.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        Assert.True(journaled >= checkpoint && journaled < 600_000, $"journaled offset {journaled}");
        var resumed = Server.RequestsFor("/restart.bin")[before];
        Assert.Equal($"bytes={100_000 + journaled - 300_000}-399999", resumed.Range);
        Assert.NotNull(resumed.IfRange);
        Assert.Equal([.. Slice(content, 600_000, 300_000), .. Slice(content, 100_000, 300_000)], File.ReadAllBytes(Dir.File("restart.bin")));
    }
}
