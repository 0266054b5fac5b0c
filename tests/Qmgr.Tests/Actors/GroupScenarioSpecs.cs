using System.Collections.Immutable;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Actors;

/// <summary>
/// BITS flows through the group and job actors of an embedded node on the real SQLite journal, against a loopback
/// HTTP server, driven with Akka.TestKit (the TestKit runs on the hosted actor system).
/// </summary>
public sealed class GroupScenarioSpecs : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private const string Owner = "alice";
    private readonly TempDirectory _dir;
    private readonly HostedQmgr _qmgr;
    private LoopbackFileServer _server = null!;

    public GroupScenarioSpecs() : this(new TempDirectory()) { }

    private GroupScenarioSpecs(TempDirectory dir) : this(dir, HostedQmgr.Start(dir.File("data"))) { }

    private GroupScenarioSpecs(TempDirectory dir, HostedQmgr qmgr) : base(qmgr.System)
    {
        _dir = dir;
        _qmgr = qmgr;
    }

    private Journal Journal => new(_qmgr.DataDirectory);

    public async Task InitializeAsync() => _server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _qmgr.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<(Guid Group, Guid Job)> CreateJobAsync(JobOptions? options = null, params (Uri Url, string File)[] files)
    {
        var group = Guid.NewGuid();
        var job = Guid.NewGuid();
        Assert.Equal(ResultCode.Ok, (await _qmgr.QueueManager.SendAsync(new CreateGroup(group, Owner, "scenario", JobPriority.Normal, 0))).Code);
        Assert.Equal(ResultCode.Ok, (await _qmgr.QueueManager.SendAsync(new CreateJob(group, Owner, job, "job", null, options ?? JobOptions.Default))).Code);
        if (files.Length > 0)
            Assert.Equal(ResultCode.Ok, (await _qmgr.QueueManager.SendAsync(new AddFiles(group, Owner, job,
                files.Select(f => new FileSpec(f.Url.ToString(), f.File)).ToImmutableList()))).Code);
        return (group, job);
    }

    private async Task<Job> JobAsync(Guid group, Guid job) => (await _qmgr.QueueManager.GetGroupAsync(group)).FindJob(job)!;

    private async Task<Job> AwaitStateAsync(Guid group, Guid job, JobState state)
    {
        await AwaitAssertAsync(async () => Assert.Equal(state, (await JobAsync(group, job)).State), Deadline, TimeSpan.FromMilliseconds(50));
        return await JobAsync(group, job);
    }

    [Fact]
    public async Task Create_add_resume_transfer_then_complete_renames_files_and_journals_every_transition()
    {
        // arrange
        var content = LoopbackFileServer.Content(300_000, seed: 11);
        var target = _dir.File("scenario.bin");
        var (group, job) = await CreateJobAsync(null, (_server.Add("/s.bin", content), target));

        // act
        var resume = await _qmgr.QueueManager.SendAsync(new ResumeJob(group, Owner, job));
        var transferred = await AwaitStateAsync(group, job, JobState.Transferred);
        var tempBeforeComplete = File.Exists(transferred.Files[0].TempName);
        var finalBeforeComplete = File.Exists(target);
        var complete = await _qmgr.QueueManager.SendAsync(new CompleteJob(group, Owner, job));

        // assert
        Assert.Equal(ResultCode.Ok, resume.Code);
        Assert.True(tempBeforeComplete);
        Assert.False(finalBeforeComplete); // files get their final name only on Complete
        Assert.Equal(ResultCode.Ok, complete.Code);
        Assert.Equal(0, complete.HResult);
        Assert.Equal(content, File.ReadAllBytes(target));
        Assert.False(File.Exists(transferred.Files[0].TempName));
        Assert.Equal(JobState.Acknowledged, (await JobAsync(group, job)).State);
        var transitions = Journal.Events<JobStateChanged>().Select(s => (s.From, s.To)).ToArray();
        Assert.Equal([(JobState.Suspended, JobState.Queued), (JobState.Queued, JobState.Connecting),
            (JobState.Connecting, JobState.Transferring), (JobState.Transferring, JobState.Transferred)], transitions);
        Assert.Single(Journal.Events<FileTransferred>());
        Assert.Single(Journal.Events<JobCompleted>());
    }

    [Fact]
    public async Task Resume_without_files_is_BG_E_EMPTY_and_the_job_stays_suspended()
    {
        // arrange
        var (group, job) = await CreateJobAsync();

        // act
        var result = await _qmgr.QueueManager.SendAsync(new ResumeJob(group, Owner, job));

        // assert
        Assert.Equal(ResultCode.Rejected, result.Code);
        Assert.Equal(HResults.BG_E_EMPTY, result.HResult);
        Assert.Equal(JobState.Suspended, (await JobAsync(group, job)).State);
    }

    [Fact]
    public async Task Suspend_stops_the_transfer_and_resume_continues_from_the_bytes_on_disk()
    {
        // arrange: a server trickling 256 KiB/s so the job is still transferring when suspended
        var content = LoopbackFileServer.Content(1024 * 1024, seed: 12);
        var target = _dir.File("suspend.bin");
        var (group, job) = await CreateJobAsync(null, (_server.Add("/slow.bin", content, new LoopbackFileOptions { TrickleBytesPerSecond = 256 * 1024 }), target));
        await _qmgr.QueueManager.SendAsync(new ResumeJob(group, Owner, job));
        await AwaitAssertAsync(async () => Assert.True((await JobAsync(group, job)).BytesTransferred > 0), Deadline, TimeSpan.FromMilliseconds(50));

        // act
        var suspend = await _qmgr.QueueManager.SendAsync(new SuspendJob(group, Owner, job));
        var suspended = await JobAsync(group, job);
        _server.Add("/slow.bin", content); // full speed from now on
        var again = await _qmgr.QueueManager.SendAsync(new SuspendJob(group, Owner, job));
        await _qmgr.QueueManager.SendAsync(new ResumeJob(group, Owner, job));
        await AwaitStateAsync(group, job, JobState.Transferred);
        await _qmgr.QueueManager.SendAsync(new CompleteJob(group, Owner, job));

        // assert
        Assert.Equal(ResultCode.Ok, suspend.Code);
        Assert.Equal(JobState.Suspended, suspended.State);
        Assert.Equal(ResultCode.NoOp, again.Code); // Suspend on a suspended job changes nothing
        var requests = _server.RequestsFor("/slow.bin");
        Assert.Null(requests[0].Range);
        var resumed = requests[^1];
        Assert.StartsWith("bytes=", resumed.Range);
        Assert.True(long.Parse(resumed.Range!["bytes=".Length..^1]) >= suspended.Files[0].BytesTransferred);
        Assert.Equal(206, resumed.Status);
        Assert.Equal(content, File.ReadAllBytes(target));
    }

    [Fact]
    public async Task Cancel_deletes_the_temp_file_and_final_jobs_reject_every_change_with_BG_E_INVALID_STATE()
    {
        // arrange
        var content = LoopbackFileServer.Content(1024 * 1024, seed: 13);
        var target = _dir.File("cancel.bin");
        var (group, job) = await CreateJobAsync(null, (_server.Add("/c.bin", content, new LoopbackFileOptions { TrickleBytesPerSecond = 128 * 1024 }), target));
        await _qmgr.QueueManager.SendAsync(new ResumeJob(group, Owner, job));
        await AwaitAssertAsync(async () => Assert.True((await JobAsync(group, job)).BytesTransferred > 0), Deadline, TimeSpan.FromMilliseconds(50));
        var temp = (await JobAsync(group, job)).Files[0].TempName;

        // act
        var cancel = await _qmgr.QueueManager.SendAsync(new CancelJob(group, Owner, job));
        var resume = await _qmgr.QueueManager.SendAsync(new ResumeJob(group, Owner, job));
        var complete = await _qmgr.QueueManager.SendAsync(new CompleteJob(group, Owner, job));

        // assert
        Assert.Equal(ResultCode.Ok, cancel.Code);
        Assert.Equal(JobState.Cancelled, (await JobAsync(group, job)).State);
        Assert.False(File.Exists(temp));
        Assert.False(File.Exists(target));
        Assert.Equal(HResults.BG_E_INVALID_STATE, resume.HResult);
        Assert.Equal(HResults.BG_E_INVALID_STATE, complete.HResult);
    }

    [Fact]
    public async Task Transient_errors_past_the_quick_retries_wait_the_minimum_retry_delay_then_succeed()
    {
        // arrange: 503 for the first 5 requests: the try and 3 quick retries fail (TransientError); after the minimum
        // retry delay one more 503 is absorbed by a quick retry
        var content = LoopbackFileServer.Content(50_000, seed: 14);
        var target = _dir.File("retry.bin");
        var (group, job) = await CreateJobAsync(new JobOptions(AutoComplete: true),
            (_server.Add("/busy.bin", content, new LoopbackFileOptions { FailFirst = 5, FailStatus = 503 }), target));

        // act
        await _qmgr.QueueManager.SendAsync(new ResumeJob(group, Owner, job));
        var done = await AwaitStateAsync(group, job, JobState.Acknowledged);

        // assert
        Assert.Equal(content, File.ReadAllBytes(target));
        Assert.Equal(1, done.ErrorCount); // quick retries are not BITS errors; the 4th failure is
        var error = Journal.Events<JobErrorRecorded>().Single().Error;
        Assert.Equal(503, error.HttpStatus);
        Assert.Equal(unchecked((int)0x801901F7), error.HResult);
        Assert.Single(Journal.Events<RetryScheduled>());
        Assert.Contains(Journal.Events<JobStateChanged>(), s => s is { From: JobState.TransientError, To: JobState.Queued, Cause: "minimum retry delay elapsed" });
    }

    [Fact]
    public async Task Another_owner_cannot_see_or_change_the_group()
    {
        // arrange
        var (group, job) = await CreateJobAsync();

        // act
        var result = await _qmgr.QueueManager.SendAsync(new SuspendJob(group, "mallory", job));

        // assert
        Assert.Equal(HResults.E_ACCESSDENIED, result.HResult);
    }
}
