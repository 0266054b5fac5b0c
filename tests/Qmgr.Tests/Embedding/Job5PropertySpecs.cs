using System.Collections.Concurrent;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// BITS <c>IBackgroundCopyJob5::SetProperty</c> / <c>GetProperty</c> (BITS_JOB_PROPERTY_ID 1..10) on a real node: when
/// each may be set (with the HRESULT BITS answers otherwise) and what each changes in a transfer.
/// </summary>
public sealed class Job5PropertySpecs() : EmbeddedNodeSpecs("alice")
{
    [Fact]
    public async Task Every_BITS_job_property_id_round_trips_through_SetProperty_and_GetProperty_and_is_journaled()
    {
        // arrange
        var job = await NewJobAsync("job5");
        var clsid = Guid.NewGuid();
        var defaults = new Dictionary<BitsJobPropertyId, BitsJobPropertyValue>();
        foreach (var id in Enum.GetValues<BitsJobPropertyId>()) defaults[id] = await job.GetPropertyAsync(id);

        // act
        await job.SetPropertyAsync(BitsJobPropertyId.CostFlags, new BitsJobPropertyValue(Dword: 0x80000067)); // STANDARD
        await job.SetPropertyAsync(BitsJobPropertyId.NotificationClsid, new BitsJobPropertyValue(ClsId: clsid));
        await job.SetPropertyAsync(BitsJobPropertyId.DynamicContent, new BitsJobPropertyValue(Enable: true));
        await job.SetPropertyAsync(BitsJobPropertyId.HighPerformance, new BitsJobPropertyValue(Enable: true));
        await job.SetPropertyAsync(BitsJobPropertyId.MaxDownloadSize, new BitsJobPropertyValue(Uint64: 123_456));
        await job.SetPropertyAsync(BitsJobPropertyId.UseStoredCredentials, new BitsJobPropertyValue(Target: AuthTarget.Proxy));
        await job.SetPropertyAsync(BitsJobPropertyId.MinimumNotificationIntervalMs, new BitsJobPropertyValue(Dword: 2500));
        var unused = await RefusedAsync(() => job.SetPropertyAsync((BitsJobPropertyId)6, new BitsJobPropertyValue(Dword: 1)));
        var unusedGet = await RefusedAsync(() => job.GetPropertyAsync((BitsJobPropertyId)8));
        var onDemand = await RefusedAsync(() => job.SetPropertyAsync(BitsJobPropertyId.OnDemandMode, new BitsJobPropertyValue(Enable: true)));

        // assert
        Assert.Equal(Job5Properties.TransferPolicyAlways, defaults[BitsJobPropertyId.CostFlags].Dword);
        Assert.Equal(ulong.MaxValue, defaults[BitsJobPropertyId.MaxDownloadSize].Uint64);
        Assert.False(defaults[BitsJobPropertyId.DynamicContent].Enable);
        Assert.Equal(0x80000067u, (await job.GetPropertyAsync(BitsJobPropertyId.CostFlags)).Dword);
        Assert.Equal(clsid, (await job.GetPropertyAsync(BitsJobPropertyId.NotificationClsid)).ClsId);
        Assert.True((await job.GetPropertyAsync(BitsJobPropertyId.DynamicContent)).Enable);
        Assert.True((await job.GetPropertyAsync(BitsJobPropertyId.HighPerformance)).Enable);
        Assert.Equal(123_456ul, (await job.GetPropertyAsync(BitsJobPropertyId.MaxDownloadSize)).Uint64);
        Assert.Equal(AuthTarget.Proxy, (await job.GetPropertyAsync(BitsJobPropertyId.UseStoredCredentials)).Target);
        Assert.Equal(2500u, (await job.GetPropertyAsync(BitsJobPropertyId.MinimumNotificationIntervalMs)).Dword);
        Assert.False((await job.GetPropertyAsync(BitsJobPropertyId.OnDemandMode)).Enable);
        Assert.Equal((unchecked((int)0x80200057), unchecked((int)0x80200057), HResults.BG_E_INVALID_STATE), (unused, unusedGet, onDemand)); // not with DYNAMIC_CONTENT
        var journaled = new Journal(DataDir).Events<GroupEvents.JobPropertyChanged>().Where(e => e.JobId == job.Id).Select(e => e.Property);
        Assert.Equal([JobProperty.CostFlags, JobProperty.NotificationClsid, JobProperty.DynamicContent, JobProperty.HighPerformance,
            JobProperty.MaxDownloadSize, JobProperty.UseStoredCredentials, JobProperty.MinimumNotificationInterval], journaled);
    }

    [Fact]
    public async Task Properties_set_too_late_or_with_bad_values_are_refused_with_the_BITS_codes()
    {
        // arrange: one job resumed once (then suspended), one with a file, one with a ranged file
        var url = Server.Add("/late.bin", LoopbackFileServer.Content(1000, 80)).ToString();
        var resumed = await NewJobAsync("resumed");
        await resumed.AddFilesAsync([(url, Dir.File("late.bin"))]);
        await resumed.ResumeAsync();
        await resumed.SuspendAsync();
        var withFile = await NewJobAsync("with file");
        await withFile.AddFilesAsync([(url, Dir.File("late2.bin"))]);
        var ranged = await NewJobAsync("ranged");
        await ranged.AddFileWithRangesAsync(url, Dir.File("late3.bin"), [new FileRange(0, 10)]);

        // act
        var dynamicAfterResume = await RefusedAsync(() => resumed.SetPropertyAsync(JobProperty.DynamicContent, "true"));
        var maxAfterResume = await RefusedAsync(() => resumed.SetPropertyAsync(JobProperty.MaxDownloadSize, "1000"));
        var fastAfterAddFile = await RefusedAsync(() => withFile.SetPropertyAsync(JobProperty.HighPerformance, "true"));
        var maxZero = await RefusedAsync(() => withFile.SetPropertyAsync(JobProperty.MaxDownloadSize, "0"));
        var maxText = await RefusedAsync(() => withFile.SetPropertyAsync(JobProperty.MaxDownloadSize, "lots"));
        var storedForServer = await RefusedAsync(() => withFile.SetPropertyAsync(BitsJobPropertyId.UseStoredCredentials, new BitsJobPropertyValue(Target: AuthTarget.Server)));
        var dynamicWithRanges = await RefusedAsync(() => ranged.SetPropertyAsync(JobProperty.DynamicContent, "true"));
        await resumed.SetPropertyAsync(JobProperty.CostFlags, "2147483903"); // "any time"
        await resumed.SetPropertyAsync(JobProperty.MinimumNotificationInterval, "0");

        // assert
        Assert.Equal(HResults.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, dynamicAfterResume);
        Assert.Equal(HResults.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, maxAfterResume);
        Assert.Equal(HResults.BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE, fastAfterAddFile);
        Assert.Equal(HResults.BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE, maxZero);
        Assert.Equal(HResults.BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE, maxText);
        Assert.Equal(HResults.BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED, storedForServer);
        Assert.Equal(HResults.BG_E_INVALID_STATE, dynamicWithRanges);
        Assert.Equal(Job5Properties.Default, (await withFile.GetAsync()).Properties5);
        Assert.False((await resumed.GetAsync()).Properties5.DynamicContent);
    }

    [Fact]
    public async Task A_file_announcing_more_than_MAX_DOWNLOAD_SIZE_fails_before_a_byte_is_written()
    {
        // arrange
        var url = Server.Add("/big.bin", LoopbackFileServer.Content(5000, 81)).ToString();
        var job = await NewJobAsync("capped");
        await job.SetPropertyAsync(JobProperty.MaxDownloadSize, "4999");
        await job.AddFilesAsync([(url, Dir.File("big.bin"))]);

        // act
        await job.ResumeAsync();
        var failed = await WaitAsync(job, j => j.State is JobState.Error or JobState.Transferred);

        // assert
        Assert.Equal(JobState.Error, failed.State);
        Assert.Equal(BitsErrors.MaxDownloadSizeLimitReached, failed.Error!.HResult);
        Assert.Equal(0, failed.BytesTransferred);
        Assert.False(File.Exists(failed.Files[0].TempName)); // no byte written, so the empty temp file is not kept either
        Assert.Single(Server.RequestsFor("/big.bin")); // fatal: no retry
    }

    [Fact]
    public async Task Chunked_content_is_capped_by_MAX_DOWNLOAD_SIZE_while_it_streams()
    {
        // arrange: no Content-Length, so the cap is counted on the bytes as they arrive
        var url = Server.Add("/chunked.bin", LoopbackFileServer.Content(300_000, 82), new LoopbackFileOptions { Chunked = true }).ToString();
        var job = await NewJobAsync("chunked");
        await job.SetPropertyAsync(BitsJobPropertyId.DynamicContent, new BitsJobPropertyValue(Enable: true));
        await job.SetPropertyAsync(BitsJobPropertyId.MaxDownloadSize, new BitsJobPropertyValue(Uint64: 100_000));
        await job.AddFilesAsync([(url, Dir.File("chunked.bin"))]);

        // act
        await job.ResumeAsync();
        var failed = await WaitAsync(job, j => j.State is JobState.Error or JobState.Transferred);

        // assert
        Assert.Equal(JobState.Error, failed.State);
        Assert.Equal(BitsErrors.MaxDownloadSizeLimitReached, failed.Error!.HResult);
        Assert.InRange(new FileInfo(failed.Files[0].TempName).Length, 0, 100_000);
        Assert.Null(Server.RequestsFor("/chunked.bin").Single().Range);
    }

    [Fact]
    public async Task MAX_DOWNLOAD_SIZE_caps_the_bytes_of_the_whole_job()
    {
        // arrange: two 600-byte files under a 1,000-byte cap: the first fits, the second would pass it
        var job = await NewJobAsync("job cap");
        await job.SetPropertyAsync(JobProperty.MaxDownloadSize, "1000");
        await job.AddFilesAsync([
            (Server.Add("/one.bin", LoopbackFileServer.Content(600, 83)).ToString(), Dir.File("one.bin")),
            (Server.Add("/two.bin", LoopbackFileServer.Content(600, 84)).ToString(), Dir.File("two.bin"))]);

        // act
        await job.ResumeAsync();
        var failed = await WaitAsync(job, j => j.State is JobState.Error or JobState.Transferred);

        // assert
        Assert.Equal(JobState.Error, failed.State);
        Assert.True(failed.Files[0].Transferred);
        Assert.Equal((BitsErrors.MaxDownloadSizeLimitReached, 1), (failed.Error!.HResult, failed.Error.FileIndex));
    }

    [Fact]
    public async Task A_dynamic_content_job_restarts_an_interrupted_file_from_byte_zero()
    {
        // arrange: the first answer stalls after 70,000 bytes (they surely arrive) until the idle timeout (5 s here);
        // a normal job would then resume with Range
        var content = LoopbackFileServer.Content(200_000, 85);
        var url = Server.Add("/dynamic.bin", content, new LoopbackFileOptions { StallAfter = new Dictionary<int, long> { [0] = 70_000 } }).ToString();
        var job = await NewJobAsync("dynamic");
        await job.SetPropertyAsync(JobProperty.DynamicContent, "true");
        await job.AddFilesAsync([(url, Dir.File("dynamic.bin"))]);

        // act
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Equal([null, null], Server.RequestsFor("/dynamic.bin").Select(r => r.Range));
        Assert.Equal(FileRestartReason.DynamicContent, new Journal(DataDir).Events<GroupEvents.FileRestarted>().Single().Reason);
        Assert.Equal(content, File.ReadAllBytes(Dir.File("dynamic.bin")));
    }

    [Fact]
    public async Task A_high_performance_job_writes_into_the_local_name_and_journals_no_progress()
    {
        // arrange: trickled over about 1.5 s, so a normal job would journal several checkpoints (every 200 ms here)
        var content = LoopbackFileServer.Content(300_000, 86);
        var url = Server.Add("/fast.bin", content, new LoopbackFileOptions { TrickleBytesPerSecond = 200_000 }).ToString();
        var job = await NewJobAsync("fast");
        await job.SetPropertyAsync(BitsJobPropertyId.HighPerformance, new BitsJobPropertyValue(Enable: true));
        await job.AddFilesAsync([(url, Dir.File("fast.bin"))]);

        // act
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        var beforeComplete = File.ReadAllBytes(Dir.File("fast.bin"));
        var result = await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Equal(done.Files[0].LocalName, done.Files[0].TempName); // no temp file
        Assert.Equal(content, beforeComplete); // in place before Complete
        Assert.Equal(HResults.S_OK, result);
        Assert.Equal(JobState.Acknowledged, (await job.GetAsync()).State);
        Assert.DoesNotContain(new Journal(DataDir).Events<GroupEvents.FileProgressCheckpointed>(), c => c.JobId == job.Id);
        Assert.Equal(content, File.ReadAllBytes(Dir.File("fast.bin")));
    }

    [Fact]
    public async Task A_high_performance_job_starts_its_file_over_from_byte_zero_after_a_node_restart()
    {
        // arrange: stop the node while the file is transferring (no progress was journaled)
        await Node.DisposeAsync();
        var content = LoopbackFileServer.Content(400_000, 88);
        var url = Server.Add("/fast-restart.bin", content, new LoopbackFileOptions { TrickleBytesPerSecond = 100_000 }).ToString();
        var journal = new Journal(DataDir);
        Guid groupId, jobId;
        await using (var first = HostedQmgr.Start(DataDir))
        {
            var job = await (await QueueManager.Create(first.System, "alice").CreateGroupAsync("fast restart")).CreateJobAsync("fast restart");
            (groupId, jobId) = (job.GroupId, job.Id);
            await job.SetPropertyAsync(JobProperty.HighPerformance, "true");
            await job.AddFilesAsync([(url, Dir.File("fast-restart.bin"))]);
            await job.ResumeAsync();
            await journal.WaitForAsync(e => e.OfType<GroupEvents.FileMetadataReceived>().FirstOrDefault(m => m.JobId == jobId), Deadline);
        }

        // act
        Node = HostedQmgr.Start(DataDir);
        var again = await (await QueueManager.Create(Node.System, "alice").GetGroupAsync(groupId)).GetJobAsync(jobId);
        var done = await WaitAsync(again, j => j.State is JobState.Transferred or JobState.Error);

        // assert: the request after the restart starts at byte 0 again (BITS T24: no checkpoints for HIGH_PERFORMANCE)
        Assert.Equal(JobState.Transferred, done.State);
        var requests = Server.RequestsFor("/fast-restart.bin");
        Assert.Equal(2, requests.Count);
        Assert.Null(requests[1].Range);
        Assert.Equal(content, File.ReadAllBytes(Dir.File("fast-restart.bin")));
    }

    [Fact]
    public async Task A_minimum_notification_interval_lets_only_the_first_modification_through()
    {
        // arrange: two trickled jobs with several checkpoints each; one throttled with the longest interval
        var seen = new ConcurrentQueue<QmgrNotification>();
        var bothTransferred = new TaskCompletionSource();
        var transferredCount = 0;
        using var subscription = Qm.Notifications.Subscribe(new Observer(n =>
        {
            seen.Enqueue(n);
            if (n is QmgrNotification.StateChanged { To: JobState.Transferred } && Interlocked.Increment(ref transferredCount) == 2)
                bothTransferred.TrySetResult();
        }));
        var content = LoopbackFileServer.Content(300_000, 87);
        var options = new LoopbackFileOptions { TrickleBytesPerSecond = 300_000 };
        var throttled = await NewJobAsync("throttled");
        await throttled.SetPropertyAsync(BitsJobPropertyId.MinimumNotificationIntervalMs, new BitsJobPropertyValue(Dword: uint.MaxValue));
        await throttled.AddFilesAsync([(Server.Add("/t.bin", content, options).ToString(), Dir.File("t.bin"))]);
        var plain = await NewJobAsync("plain");
        await plain.AddFilesAsync([(Server.Add("/p.bin", content, options).ToString(), Dir.File("p.bin"))]);

        // act
        await throttled.ResumeAsync();
        await plain.ResumeAsync();
        // each group publishes in order, so once both Transferred arrived every earlier notification of both jobs has too
        await bothTransferred.Task.WaitAsync(Deadline);

        // assert: progress events went to the journal for both, but the throttled job notified only its property change
        var checkpoints = new Journal(DataDir).Events<GroupEvents.FileProgressCheckpointed>();
        Assert.True(checkpoints.Count(c => c.JobId == throttled.Id) >= 2, "the throttled job journaled several checkpoints");
        var modifications = seen.Where(n => n is QmgrNotification.Progress or QmgrNotification.Modified).ToList();
        Assert.Equal([JobProperty.MinimumNotificationInterval],
            modifications.Where(n => n.Job.Id == throttled.Id).Select(n => ((QmgrNotification.Modified)n).Property));
        Assert.Equal(checkpoints.Count(c => c.JobId == plain.Id), modifications.Count(n => n.Job.Id == plain.Id));
        Assert.Contains(seen, n => n is QmgrNotification.StateChanged { To: JobState.Transferred } s && s.Job.Id == throttled.Id);
        Assert.Contains(seen, n => n is QmgrNotification.FileTransferred f && f.Job.Id == throttled.Id);
    }

    private sealed class Observer(Action<QmgrNotification> onNext) : IObserver<QmgrNotification>
    {
        public void OnNext(QmgrNotification value) => onNext(value);
        public void OnError(Exception error) { }
        public void OnCompleted() { }
    }
}
