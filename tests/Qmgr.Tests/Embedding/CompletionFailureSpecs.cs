using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// A Complete whose rename fails, on a real node (SQLite journal, loopback server): the failure is a journaled error
/// record (BG_ERROR_CONTEXT_LOCAL_FILE) every surface sees. AutoComplete has no caller, so its job moves to Error (and a
/// waiter for Acknowledged or Error returns); Resume takes it back to Transferred and renames again. An explicit Complete
/// returns the error and the job stays Transferred, as in BITS.
/// </summary>
public sealed class CompletionFailureSpecs() : EmbeddedNodeSpecs("erin")
{
    private Journal Journal => new(DataDir);

    /// <summary>A job (<paramref name="options"/>) downloading <paramref name="content"/> onto <paramref name="target"/>, resumed.</summary>
    private async Task<IJob> StartAsync(string name, byte[] content, string target, JobOptions options)
    {
        var job = await (await Qm.CreateGroupAsync(name)).CreateJobAsync(name, options);
        await job.AddFilesAsync([(Server.Add($"/{name}.bin", content).ToString(), target)]);
        await job.ResumeAsync();
        return job;
    }

    [Fact]
    public async Task AutoComplete_onto_an_existing_target_puts_the_job_in_Error_with_a_LocalFile_error_and_leaves_the_file_untouched()
    {
        // arrange: the target appears while the job runs (Overwrite is off)
        var content = LoopbackFileServer.Content(50_000, 61);
        var target = Dir.File("taken.bin");
        File.WriteAllText(target, "keep me");

        // act
        var job = await StartAsync("taken", content, target, new JobOptions(AutoComplete: true));
        var ended = await WaitAsync(job, j => j.State is JobState.Acknowledged or JobState.Error);
        var error = await job.GetErrorAsync();

        // assert
        Assert.Equal(JobState.Error, ended.State);
        Assert.Equal((ErrorContext.LocalFile, HResults.E_FILE_EXISTS), error.GetError());
        Assert.Contains(target, error.GetErrorDescription());
        Assert.DoesNotContain('\n', error.GetErrorDescription());
        Assert.Equal(target, error.GetFile().LocalName);
        Assert.Equal("keep me", File.ReadAllText(target));
        Assert.Equal(content, File.ReadAllBytes(ended.Files[0].TempName)); // the transferred bytes wait for the retry
        var recorded = Assert.Single(Journal.Events<JobErrorRecorded>());
        Assert.Equal((ErrorContext.LocalFile, HResults.E_FILE_EXISTS, (int?)null), (recorded.Error.Context, recorded.Error.HResult, recorded.Error.HttpStatus));
        Assert.Contains(Journal.Events<JobStateChanged>(), s => (s.From, s.To, s.Cause) == (JobState.Transferred, JobState.Error, AutoCompleteFailedCause));
    }

    [Fact]
    public async Task Resume_after_the_blocking_file_is_removed_renames_again_and_acknowledges_with_the_right_bytes()
    {
        // arrange: AutoComplete failed on an existing target
        var content = LoopbackFileServer.Content(50_000, 62);
        var target = Dir.File("retry.bin");
        File.WriteAllText(target, "in the way");
        var job = await StartAsync("retry", content, target, new JobOptions(AutoComplete: true));
        Assert.Equal(JobState.Error, (await WaitAsync(job, j => j.State is JobState.Acknowledged or JobState.Error)).State);
        var requests = Server.RequestsFor("/retry.bin").Count;

        // act: the user removes the blocking file and resumes
        File.Delete(target);
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Acknowledged or JobState.Error);

        // assert: nothing downloaded again; back through Transferred to Acknowledged
        Assert.Equal(JobState.Acknowledged, done.State);
        Assert.Equal(content, File.ReadAllBytes(target));
        Assert.False(File.Exists(done.Files[0].TempName));
        Assert.Equal(requests, Server.RequestsFor("/retry.bin").Count);
        Assert.Contains(Journal.Events<JobStateChanged>(), s => (s.From, s.To, s.Cause) == (JobState.Queued, JobState.Transferred, AllFilesTransferredCause));
        Assert.Single(Journal.Events<JobCompleted>());
    }

    [Fact]
    public async Task A_failed_explicit_Complete_returns_the_error_journals_its_record_and_the_job_stays_Transferred()
    {
        // arrange: a job without AutoComplete, transferred, whose target appears before Complete
        var content = LoopbackFileServer.Content(50_000, 63);
        var target = Dir.File("explicit.bin");
        var job = await StartAsync("explicit", content, target, JobOptions.Default);
        await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        File.WriteAllText(target, "arrived first");

        // act
        var refused = await RefusedAsync(() => job.CompleteAsync());
        var after = await job.GetAsync();
        var error = await job.GetErrorAsync();

        // assert
        Assert.Equal(HResults.E_FILE_EXISTS, refused);
        Assert.Equal(JobState.Transferred, after.State);
        Assert.Equal((ErrorContext.LocalFile, HResults.E_FILE_EXISTS), error.GetError());
        Assert.Contains(target, error.GetErrorDescription());
        Assert.Equal("arrived first", File.ReadAllText(target));
        Assert.Equal(HResults.E_FILE_EXISTS, Assert.Single(Journal.Events<JobErrorRecorded>()).Error.HResult);
        Assert.DoesNotContain(Journal.Events<JobStateChanged>(), s => s.To == JobState.Error);
    }
}
