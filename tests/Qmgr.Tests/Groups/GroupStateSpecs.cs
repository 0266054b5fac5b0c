using System.Collections.Immutable;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Transport;
using Xunit;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Groups;

/// <summary>The pure BITS decisions and the event fold, without an actor system.</summary>
public sealed class GroupStateSpecs
{
    private static readonly QmgrSettings Settings = QmgrSettings.Create(Akka.Configuration.Config.Empty);
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid G = Guid.Parse("11111111-1111-1111-1111-111111111111");
    private static readonly Guid J = Guid.Parse("22222222-2222-2222-2222-222222222222");

    private static GroupState Fold(params IGroupEvent[] events) => events.Aggregate(GroupState.Empty(G), (s, e) => s.Apply(e));

    private static GroupState WithJob(JobState state, int files = 1)
    {
        var s = Fold(new GroupCreated(G, "alice", "g", JobPriority.High, 0, T0),
            new JobCreated(J, "j", JobPriority.High, JobOptions.Default, Settings.MinimumRetryDelay, Settings.NoProgressTimeout, Settings.MaximumDownloadTime, T0));
        if (files > 0)
            s = s.Apply(new FilesAdded(J, Enumerable.Range(0, files).Select(i => new NewFile($"http://h/{i}", $"/t/{i}", $"/t/.{i}.tmp")).ToImmutableList(), T0));
        return state == JobState.Suspended ? s : s.Apply(new JobStateChanged(J, JobState.Suspended, state, "test", T0));
    }

    [Fact]
    public void A_new_job_starts_suspended_with_the_groups_priority_and_BITS_retry_defaults()
    {
        // arrange
        var s = Fold(new GroupCreated(G, "alice", "g", JobPriority.High, 0, T0));

        // act
        var (result, events) = s.Decide(new CreateJob(G, "alice", J, "j", null, JobOptions.Default), T0, Settings);
        var job = events.Aggregate(s, (x, e) => x.Apply(e)).FindJob(J)!;

        // assert
        Assert.Equal(ResultCode.Ok, result.Code);
        Assert.Equal(JobState.Suspended, job.State);
        Assert.Equal(JobPriority.High, job.Priority);
        Assert.Equal(TimeSpan.FromSeconds(600), job.MinimumRetryDelay);
        Assert.Equal(TimeSpan.FromDays(14), job.NoProgressTimeout);
    }

    [Theory]
    [InlineData(JobState.Suspended, ResultCode.Ok)]
    [InlineData(JobState.Error, ResultCode.Ok)]
    [InlineData(JobState.TransientError, ResultCode.Ok)]
    [InlineData(JobState.Queued, ResultCode.NoOp)]
    [InlineData(JobState.Connecting, ResultCode.NoOp)]
    [InlineData(JobState.Transferring, ResultCode.NoOp)]
    [InlineData(JobState.Acknowledged, ResultCode.Rejected)]
    [InlineData(JobState.Cancelled, ResultCode.Rejected)]
    public void Resume_follows_the_BITS_transition_table(JobState from, ResultCode expected)
    {
        // act
        var (result, events) = WithJob(from).Decide(new ResumeJob(G, "alice", J), T0, Settings);

        // assert
        Assert.Equal(expected, result.Code);
        if (expected == ResultCode.Ok) Assert.Equal(JobState.Queued, Assert.IsType<JobStateChanged>(Assert.Single(events)).To);
        else Assert.Empty(events);
        if (expected == ResultCode.Rejected) Assert.Equal(HResults.BG_E_INVALID_STATE, result.HResult);
    }

    [Fact]
    public void Add_files_rejects_relative_paths_and_non_http_urls_with_E_INVALIDARG()
    {
        // arrange
        var s = WithJob(JobState.Suspended, files: 0);

        // act
        var (relative, e1) = s.Decide(new AddFiles(G, "alice", J, [new FileSpec("http://h/x", "x.bin")]), T0, Settings);
        var (ftp, e2) = s.Decide(new AddFiles(G, "alice", J, [new FileSpec("ftp://h/x", "/t/x.bin")]), T0, Settings);

        // assert
        Assert.Equal(HResults.E_INVALIDARG, relative.HResult);
        Assert.Equal(HResults.E_INVALIDARG, ftp.HResult);
        Assert.Empty(e1);
        Assert.Empty(e2);
    }

    [Fact]
    public void Temp_names_are_hidden_beside_the_target_and_stable_for_a_job_and_index()
    {
        // act
        var (_, events) = WithJob(JobState.Suspended, files: 0).Decide(new AddFiles(G, "alice", J, [new FileSpec("http://h/x", "/data/out/x.bin")]), T0, Settings);
        var temp = Assert.IsType<FilesAdded>(Assert.Single(events)).Files[0].TempName;

        // assert
        Assert.Matches(@"^/data/out/\.x\.bin\.qmgr-[0-9a-f]{8}\.tmp$", temp);
        Assert.Equal(GroupDecisions.TempSuffix(J, 0), temp[^12..^4]);
    }

    [Fact]
    public void Checkpoints_and_restarts_fold_into_file_progress_and_the_error_record_clears_on_transferring()
    {
        // arrange
        var s = WithJob(JobState.Transferring);

        // act
        s = s.Apply(new FileMetadataReceived(J, 0, 1000, new Validators("\"e\"", null), T0))
             .Apply(new FileProgressCheckpointed(J, 0, 400, T0))
             .Apply(new JobErrorRecorded(J, new JobError(ErrorContext.RemoteFile, unchecked((int)0x801901F7), 503, "busy", 0), T0))
             .Apply(new JobStateChanged(J, JobState.Transferring, JobState.TransientError, "transient error", T0));
        var inError = s.FindJob(J)!;
        s = s.Apply(new JobStateChanged(J, JobState.TransientError, JobState.Queued, "retry", T0))
             .Apply(new JobStateChanged(J, JobState.Queued, JobState.Transferring, "200", T0))
             .Apply(new FileRestarted(J, 0, FileRestartReason.RangeIgnored, "200", T0));
        var restarted = s.FindJob(J)!;

        // assert
        Assert.Equal(400, inError.BytesTransferred);
        Assert.Equal(1000, inError.BytesTotal);
        Assert.Equal(503, inError.Error!.HttpStatus);
        Assert.Equal(1, inError.ErrorCount);
        Assert.Null(restarted.Error);
        Assert.Equal(0, restarted.BytesTransferred);
        Assert.Null(restarted.BytesTotal);
        Assert.Equal(1, restarted.ErrorCount); // never reset (BITS GetErrorCount)
    }

    [Fact]
    public void Only_connecting_and_transferring_time_counts_toward_the_maximum_download_time_and_resume_resets_it()
    {
        // arrange
        var s = WithJob(JobState.Queued);
        JobStateChanged At(JobState from, JobState to, int seconds, string cause = "test") => new(J, from, to, cause, T0.AddSeconds(seconds));

        // act
        s = s.Apply(At(JobState.Queued, JobState.Connecting, 0)).Apply(At(JobState.Connecting, JobState.Transferring, 1))
             .Apply(At(JobState.Transferring, JobState.TransientError, 10)).Apply(At(JobState.TransientError, JobState.Queued, 100))
             .Apply(At(JobState.Queued, JobState.Connecting, 200)).Apply(At(JobState.Connecting, JobState.Suspended, 205));
        var counted = s.FindJob(J)!.ActiveTime;
        var resumed = s.Apply(At(JobState.Suspended, JobState.Queued, 300, GroupEvents.ResumedCause)).FindJob(J)!;

        // assert
        Assert.Equal(TimeSpan.FromSeconds(15), counted);
        Assert.Equal(TimeSpan.Zero, resumed.ActiveTime);
        Assert.Equal(TimeSpan.FromSeconds(15), s.Apply(At(JobState.Suspended, JobState.Queued, 300, "other")).FindJob(J)!.ActiveTimeAt(T0.AddSeconds(400)));
    }

    [Fact]
    public void Apply_throws_on_an_event_for_an_unknown_job()
    {
        Assert.Throws<InvalidOperationException>(() => Fold(new GroupCreated(G, "a", "g", JobPriority.Normal, 0, T0))
            .Apply(new JobCancelled(Guid.NewGuid(), T0)));
    }
}
