using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Transport;
using Xunit;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;
using static Qmgr.Jobs.JobProtocol;

namespace Qmgr.Tests.Groups;

/// <summary>
/// The upload-specific cells of the BITS state machine, decided by the pure <see cref="GroupDecisions"/>: Complete on an
/// upload job (T21), one file per upload job, the reply file name's life, and the upload facts.
/// </summary>
public sealed class UploadDecisionSpecs
{
    private static readonly QmgrSettings Settings = QmgrSettings.Create(Akka.Configuration.Config.Empty);
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid G = Guid.Parse("11111111-1111-1111-1111-111111111111");
    private static readonly Guid J = Guid.Parse("33333333-3333-3333-3333-333333333333");
    private const string Owner = "alice";

    /// <summary>A group whose upload job of <paramref name="type"/> (one 1,000-byte file) is in <paramref name="state"/>.</summary>
    private static GroupState InState(JobType type, JobState state)
    {
        IGroupEvent[] setup =
        [
            new GroupCreated(G, Owner, "g", JobPriority.Normal, 0, T0),
            new JobCreated(J, "j", JobPriority.Normal, JobOptions.Default, Settings.MinimumRetryDelay, Settings.NoProgressTimeout, Settings.MaximumDownloadTime, T0, type),
            new FilesAdded(J, [new NewFile("http://h/in", "/t/up.bin", "/t/.up.bin.tmp")], T0),
        ];
        IGroupEvent[] path = state switch
        {
            JobState.Suspended => [],
            JobState.Transferred => [new FileTransferred(J, 0, 1000, T0), new JobStateChanged(J, JobState.Suspended, JobState.Transferred, "setup", T0)],
            JobState.Acknowledged => [new FileTransferred(J, 0, 1000, T0), new JobCompleted(J, [0], T0)],
            JobState.Cancelled => [new JobCancelled(J, T0)],
            _ => [new JobStateChanged(J, JobState.Suspended, state, "setup", T0)],
        };
        return setup.Concat(path).Aggregate(GroupState.Empty(G), (x, e) => x.Apply(e));
    }

    public static TheoryData<JobType, JobState> UploadStates()
    {
        var data = new TheoryData<JobType, JobState>();
        foreach (var type in new[] { JobType.Upload, JobType.UploadReply })
        foreach (var state in Enum.GetValues<JobState>()) data.Add(type, state);
        return data;
    }

    [Theory]
    [MemberData(nameof(UploadStates))]
    public void Complete_on_an_upload_job_is_allowed_only_in_Transferred(JobType type, JobState state)
    {
        // arrange
        var s = InState(type, state);

        // act
        var (job, rejected) = s.CheckJob(new CompleteJob(G, Owner, J));
        var refusal = rejected ?? GroupDecisions.CompleteRefusal(job!);

        // assert: T21 (final states: §2.5, BG_E_INVALID_STATE as well)
        if (state == JobState.Transferred) Assert.Null(refusal);
        else Assert.Equal(HResults.BG_E_INVALID_STATE, refusal!.HResult);
    }

    [Theory]
    [InlineData(JobState.Queued)]
    [InlineData(JobState.Transferring)]
    [InlineData(JobState.Error)]
    [InlineData(JobState.Suspended)]
    public void Complete_on_a_download_job_is_not_refused_by_the_upload_rule(JobState state)
    {
        var s = InState(JobType.Download, state);
        Assert.Null(GroupDecisions.CompleteRefusal(s.FindJob(J)!));
    }

    [Fact]
    public void An_upload_job_refuses_a_second_file_with_BG_E_TOO_MANY_FILES_and_adds_nothing()
    {
        var (result, events) = InState(JobType.Upload, JobState.Suspended).Decide(new AddFiles(G, Owner, J, [new FileSpec("http://h/x", "/t/x")]), T0, Settings);
        Assert.Equal(HResults.BG_E_TOO_MANY_FILES, result.HResult);
        Assert.Empty(events);
    }

    [Fact]
    public void An_undefined_job_type_is_E_INVALIDARG_and_old_events_replay_as_downloads()
    {
        var s = InState(JobType.Download, JobState.Suspended);
        var (result, _) = s.Decide(new CreateJob(G, Owner, Guid.NewGuid(), "x", null, JobOptions.Default, (JobType)7), T0, Settings);
        Assert.Equal(HResults.E_INVALIDARG, result.HResult);
        Assert.Equal(JobType.Download, s.FindJob(J)!.Type);
        Assert.Null(s.FindJob(J)!.Reply);
    }

    [Fact]
    public void The_first_Resume_of_an_upload_reply_job_names_a_reply_file_beside_the_upload_file()
    {
        // arrange
        var s = InState(JobType.UploadReply, JobState.Suspended);

        // act
        var (result, events) = s.Decide(new ResumeJob(G, Owner, J), T0, Settings);
        var after = events.Aggregate(s, (x, e) => x.Apply(e)).FindJob(J)!;

        // assert
        Assert.Equal(ResultCode.Ok, result.Code);
        Assert.Equal(JobState.Queued, after.State);
        Assert.StartsWith("/t/up.bin.", after.Reply!.FileName);
        Assert.EndsWith(".reply", after.Reply.FileName);
        Assert.Equal("/t", Path.GetDirectoryName(after.Reply.TempName));
    }

    [Fact]
    public void The_reply_file_name_is_settable_until_the_reply_starts_and_only_on_upload_reply_jobs()
    {
        // arrange
        var s = InState(JobType.UploadReply, JobState.Transferring);
        var started = s.Apply(new ReplyProgressRecorded(J, "http://h/reply/1", null, 0, T0));

        // act
        var (before, setEvents) = s.Decide(new SetReplyFileName(G, Owner, J, "/t/answer"), T0, Settings);
        var (after, _) = started.Decide(new SetReplyFileName(G, Owner, J, "/t/answer"), T0, Settings);
        var (relative, _) = s.Decide(new SetReplyFileName(G, Owner, J, "answer"), T0, Settings);
        var (onUpload, _) = InState(JobType.Upload, JobState.Suspended).Decide(new SetReplyFileName(G, Owner, J, "/t/answer"), T0, Settings);

        // assert
        Assert.Equal(ResultCode.Ok, before.Code);
        Assert.Equal("/t/answer", Assert.IsType<ReplyFileNameSet>(Assert.Single(setEvents)).ReplyFileName);
        Assert.Equal(HResults.BG_E_INVALID_STATE, after.HResult);
        Assert.Equal(HResults.E_INVALIDARG, relative.HResult);
        Assert.Equal(HResults.E_NOTIMPL, onUpload.HResult);
    }

    [Fact]
    public void Upload_facts_journal_the_session_and_the_reply_progress()
    {
        // arrange
        var s = InState(JobType.UploadReply, JobState.Transferring);

        // act
        var session = s.DecideFact(new UploadSessionOpened(J, 0, "{abc}", 1000, T0), T0);
        var reply = s.DecideFact(new ReplyProgressed(J, "http://h/reply/1", 10, 4), T0);
        var after = session.Concat(reply).Aggregate(s, (x, e) => x.Apply(e)).FindJob(J)!;
        var onDownload = InState(JobType.Download, JobState.Transferring).DecideFact(new UploadSessionOpened(J, 0, "{abc}", 1000, T0), T0);

        // assert
        Assert.Equal(new UploadSession("{abc}", 1000, T0), after.Upload);
        Assert.Equal((10L, 4L), (after.Reply!.BytesTotal!.Value, after.Reply.BytesTransferred));
        Assert.True(after.Reply.Started);
        Assert.Empty(onDownload);
    }

    [Fact]
    public void A_lost_session_restarts_the_upload_from_byte_zero()
    {
        var s = InState(JobType.Upload, JobState.Transferring).Apply(new FileProgressCheckpointed(J, 0, 600, T0));
        var events = s.DecideFact(new Restarted(J, 0, FileRestartReason.UploadSessionLost, "gone"), T0);
        var after = events.Aggregate(s, (x, e) => x.Apply(e)).FindJob(J)!;
        Assert.Equal(0, after.Files[0].BytesTransferred);
    }

    [Theory]
    [InlineData(JobType.Upload)]
    [InlineData(JobType.UploadReply)]
    public void Download_only_members_are_refused_on_an_upload_job_and_change_nothing(JobType type)
    {
        // arrange: an upload job with no file yet
        var s = new IGroupEvent[]
        {
            new GroupCreated(G, Owner, "g", JobPriority.Normal, 0, T0),
            new JobCreated(J, "j", JobPriority.Normal, JobOptions.Default, Settings.MinimumRetryDelay, Settings.NoProgressTimeout, Settings.MaximumDownloadTime, T0, type),
        }.Aggregate(GroupState.Empty(G), (x, e) => x.Apply(e));
        (IGroupCommand Command, int HResult)[] cases =
        [
            // bits-spec §2.9: AddFileWithRanges is for downloads, E_NOTIMPL otherwise
            (new AddFileWithRanges(G, Owner, J, new FileSpec("http://h/in", "/t/up.bin"), [new FileRange(0, 10)]), unchecked((int)0x80004001)),
            // the Job5 download properties: BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY
            (new SetJobProperty(G, Owner, J, JobProperty.HighPerformance, "true"), unchecked((int)0x80200060)),
            (new SetJobProperty(G, Owner, J, JobProperty.DynamicContent, "true"), unchecked((int)0x80200060)),
            (new SetJobProperty(G, Owner, J, JobProperty.MaxDownloadSize, "1000"), unchecked((int)0x80200060)),
            (new SetJobProperty(G, Owner, J, JobProperty.OnDemandMode, "true"), unchecked((int)0x80200060)),
            // a download verb means nothing to the upload protocol (inferred: E_NOTIMPL)
            (new SetJobProperty(G, Owner, J, JobProperty.HttpMethod, "POST"), unchecked((int)0x80004001)),
        ];

        foreach (var (command, hresult) in cases)
        {
            // act
            var (result, events) = s.Decide(command, T0, Settings);

            // assert
            Assert.Equal(ResultCode.Rejected, result.Code);
            Assert.Equal(hresult, result.HResult);
            Assert.Empty(events);
        }
    }

    [Fact]
    public void A_custom_http_method_and_on_demand_mode_refuse_each_other_in_either_order()
    {
        // arrange
        GroupState Download() => new IGroupEvent[]
        {
            new GroupCreated(G, Owner, "g", JobPriority.Normal, 0, T0),
            new JobCreated(J, "j", JobPriority.Normal, JobOptions.Default, Settings.MinimumRetryDelay, Settings.NoProgressTimeout, Settings.MaximumDownloadTime, T0),
        }.Aggregate(GroupState.Empty(G), (x, e) => x.Apply(e));
        var withMethod = Download().Apply(new JobPropertyChanged(J, JobProperty.HttpMethod, "POST", T0));
        var onDemand = Download().Apply(new JobPropertyChanged(J, JobProperty.OnDemandMode, "true", T0));

        // act
        var (first, _) = withMethod.Decide(new SetJobProperty(G, Owner, J, JobProperty.OnDemandMode, "true"), T0, Settings);
        var (second, _) = onDemand.Decide(new SetJobProperty(G, Owner, J, JobProperty.HttpMethod, "POST"), T0, Settings);

        // assert: BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD both ways
        Assert.Equal(unchecked((int)0x80200071), first.HResult);
        Assert.Equal(unchecked((int)0x80200071), second.HResult);
    }
}
