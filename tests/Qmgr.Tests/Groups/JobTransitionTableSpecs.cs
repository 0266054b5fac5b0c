using System.Collections.Immutable;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Transport;
using Xunit;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;
using static Qmgr.Jobs.JobProtocol;

namespace Qmgr.Tests.Groups;

/// <summary>
/// The BITS job state machine as a table: every one of the 9 states × every command (Suspend, Resume, Cancel, Complete,
/// AddFile, SetPriority) and every transfer outcome, decided by the pure <see cref="GroupDecisions"/>. Each cell names
/// its source: a transition of bits-spec §2.5 (T1–T28) or "inferred" with the reasoning.
/// </summary>
public sealed class JobTransitionTableSpecs
{
    private static readonly QmgrSettings Settings = QmgrSettings.Create(Akka.Configuration.Config.Empty);
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid G = Guid.Parse("11111111-1111-1111-1111-111111111111");
    private static readonly Guid J = Guid.Parse("22222222-2222-2222-2222-222222222222");
    private const string Owner = "alice";

    /// <summary>What a cell expects: a new state, no change (NoOp / ignored fact), or a rejection with an HRESULT.</summary>
    public sealed record Expect(JobState? To, int? Rejected, string Source)
    {
        public static Expect Goes(JobState to, string source) => new(to, null, source);
        public static Expect Stays(string source) => new(null, null, source);
        public static Expect Refused(int hresult, string source) => new(null, hresult, source);
        public override string ToString() => To is { } t ? $"-> {t}" : Rejected is { } r ? $"refused 0x{r:X8}" : "unchanged";
    }

    private static readonly JobState[] All = Enum.GetValues<JobState>();
    private static bool Final(JobState s) => s is JobState.Acknowledged or JobState.Cancelled;
    private static bool Active(JobState s) => s is JobState.Queued or JobState.Connecting or JobState.Transferring;

    private static Expect FinalRefuses => Expect.Refused(HResults.BG_E_INVALID_STATE, "§2.5: final states reject every change with BG_E_INVALID_STATE");

    public static TheoryData<JobState, string, Expect> Cells()
    {
        var data = new TheoryData<JobState, string, Expect>();
        foreach (var s in All)
        {
            data.Add(s, "Suspend", Final(s) ? FinalRefuses
                : s == JobState.Suspended ? Expect.Stays("T17: Suspend on SUSPENDED is a no-op")
                : Expect.Goes(JobState.Suspended, "T17: any non-final state → SUSPENDED"));
            data.Add(s, "Resume", Final(s) ? FinalRefuses
                : Active(s) ? Expect.Stays("T18: Resume in an action state changes nothing")
                : s == JobState.Transferred ? Expect.Stays("inferred: every file is transferred, nothing to queue (T16 needs AddFile first)")
                : Expect.Goes(JobState.Queued, s == JobState.Suspended ? "T2: SUSPENDED with files → QUEUED" : "T14: (TRANSIENT_)ERROR → QUEUED"));
            data.Add(s, "Cancel", Final(s) ? FinalRefuses : Expect.Goes(JobState.Cancelled, "T19: any non-final → CANCELLED"));
            data.Add(s, "Complete", Final(s) ? FinalRefuses : Expect.Goes(JobState.Acknowledged, "T20: download Complete in any non-final state → ACKNOWLEDGED"));
            data.Add(s, "AddFile", Final(s) ? FinalRefuses : Expect.Stays("§2.10: files may be added until Complete/Cancel; the state does not change (T16: then Resume)"));
            data.Add(s, "SetPriority", Final(s) ? FinalRefuses : Expect.Stays("§2.9: Priority is settable in any non-final state; the state does not change"));
            data.Add(s, "TransferConnected", s == JobState.Queued ? Expect.Goes(JobState.Connecting, "T3: the scheduler picks the job")
                : Expect.Stays("inferred: a slot granted to a job that is no longer Queued is stale"));
            data.Add(s, "ResponseAccepted", s is JobState.Queued or JobState.Connecting ? Expect.Goes(JobState.Transferring, "T4: connection succeeds")
                : Expect.Stays(s == JobState.Transferring ? "T4: already TRANSFERRING (size and validators recorded)" : "inferred: a response for an inactive job is stale"));
            data.Add(s, "LastFileDone", Active(s) ? Expect.Goes(JobState.Transferred, "T15: last byte of the last file")
                : Expect.Stays("inferred: a file finished after Suspend/error is recorded, the job waits for Resume"));
            data.Add(s, "TransientFailure", Active(s) ? Expect.Goes(JobState.TransientError, "T5/T7: recoverable failure (after quick retries, Decision 6)")
                : Expect.Stays("inferred: the failure of a transfer already stopped is stale"));
            data.Add(s, "FatalFailure", Active(s) ? Expect.Goes(JobState.Error, "T6: fatal error")
                : Expect.Stays("inferred: the failure of a transfer already stopped is stale"));
            data.Add(s, "Preempted", s is JobState.Connecting or JobState.Transferring
                ? Expect.Goes(JobState.Queued, "T8: a higher priority preempts, or the time slice ends while same-priority jobs wait")
                : Expect.Stays("inferred: a preemption of a job that is not connecting or transferring is stale (Queued stays Queued)"));
            data.Add(s, "RetryDue", s == JobState.TransientError ? Expect.Goes(JobState.Queued, "T11: MinimumRetryDelay elapsed")
                : Expect.Stays("inferred: a retry timer of a job that left TRANSIENT_ERROR is stale"));
        }
        return data;
    }

    /// <summary>A group whose one job (one file, 1,000 bytes) is in <paramref name="state"/>, reached by events.</summary>
    private static GroupState InState(JobState state)
    {
        IGroupEvent[] setup =
        [
            new GroupCreated(G, Owner, "g", JobPriority.Normal, 0, T0),
            new JobCreated(J, "j", JobPriority.Normal, JobOptions.Default, Settings.MinimumRetryDelay, Settings.NoProgressTimeout, Settings.MaximumDownloadTime, T0),
            new FilesAdded(J, [new NewFile("http://h/f", "/t/f", "/t/.f.tmp")], T0),
        ];
        var s = setup.Aggregate(GroupState.Empty(G), (x, e) => x.Apply(e));
        IGroupEvent[] path = state switch
        {
            JobState.Suspended => [],
            JobState.Transferred => [new FileTransferred(J, 0, 1000, T0), new JobStateChanged(J, JobState.Suspended, JobState.Transferred, "setup", T0)],
            JobState.Acknowledged => [new FileTransferred(J, 0, 1000, T0), new JobCompleted(J, [0], T0)],
            JobState.Cancelled => [new JobCancelled(J, T0)],
            _ => [new JobStateChanged(J, JobState.Suspended, state, "setup", T0)],
        };
        return path.Aggregate(s, (x, e) => x.Apply(e));
    }

    private static (CommandResult? Result, IGroupEvent[] Events) Trigger(GroupState s, string trigger)
    {
        var transient = new TransferError(ErrorContext.RemoteFile, unchecked((int)0x801901F7), 503, "busy", true, null);
        var fatal = transient with { HResult = unchecked((int)0x80190194), HttpStatus = 404, IsTransient = false };
        return trigger switch
        {
            "Suspend" => s.Decide(new SuspendJob(G, Owner, J), T0, Settings),
            "Resume" => s.Decide(new ResumeJob(G, Owner, J), T0, Settings),
            "Cancel" => s.Decide(new CancelJob(G, Owner, J), T0, Settings),
            "Complete" => s.CheckJob(new CompleteJob(G, Owner, J)) is (var job, null)
                ? GroupDecisions.DecideComplete(job!, job!.Files.Select((f, i) => (f, i)).Where(x => x.f.Transferred).Select(x => x.i).ToList(), T0)
                : (s.CheckJob(new CompleteJob(G, Owner, J)).Rejected, []),
            "AddFile" => s.Decide(new AddFiles(G, Owner, J, [new FileSpec("http://h/g", "/t/g")]), T0, Settings),
            "SetPriority" => s.Decide(new SetJobProperty(G, Owner, J, JobProperty.Priority, "High"), T0, Settings),
            "TransferConnected" => (null, s.DecideFact(new TransferConnected(J), T0)),
            "ResponseAccepted" => (null, s.DecideFact(new ResponseAccepted(J, 0, new ResponseInfo(200, 0, 1000, Validators.None)), T0)),
            "LastFileDone" => (null, s.DecideFact(new FileDone(J, 0, 1000, Validators.None), T0)),
            "TransientFailure" => (null, s.DecideFact(new FileFailed(J, 0, transient, 0), T0)),
            "FatalFailure" => (null, s.DecideFact(new FileFailed(J, 0, fatal, 0), T0)),
            "Preempted" => (null, s.DecideFact(new Preempted(J, 0, JobActor.PreemptedByPriorityCause), T0)),
            "RetryDue" => (null, s.DecideFact(new RetryDue(J), T0)),
            _ => throw new ArgumentOutOfRangeException(nameof(trigger)),
        };
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void Every_state_answers_every_trigger_as_the_table_says(JobState from, string trigger, Expect expect)
    {
        // arrange
        var state = InState(from);
        Assert.Equal(from, state.FindJob(J)!.State);

        // act
        var (result, events) = Trigger(state, trigger);
        var after = events.Aggregate(state, (s, e) => s.Apply(e)).FindJob(J)!;

        // assert
        if (expect.Rejected is int hr)
        {
            Assert.Equal(ResultCode.Rejected, result!.Code);
            Assert.Equal(hr, result.HResult);
            Assert.Empty(events);
        }
        else
        {
            Assert.NotEqual(ResultCode.Rejected, result?.Code);
            Assert.Equal(expect.To ?? from, after.State);
        }
    }

    [Fact]
    public void The_table_covers_all_nine_states_and_thirteen_triggers()
    {
        var cells = Cells().Select(row => ((JobState)row[0], (string)row[1])).ToList();
        Assert.Equal(9 * 13, cells.Distinct().Count());
        Assert.All(Cells(), row => Assert.False(string.IsNullOrWhiteSpace(((Expect)row[2]).Source)));
    }

    // The table's Resume cells still hold: in them every state but Transferred has its one file untransferred (T2/T14 →
    // QUEUED). A job whose files are all transferred yet is not Transferred (its AutoComplete failed, or its last file
    // finished while Suspended) had nothing to queue and hung in QUEUED; these facts pin the transition added for it.
    [Theory]
    [InlineData(JobState.Error)]
    [InlineData(JobState.Suspended)]
    [InlineData(JobState.TransientError)]
    public void Resume_of_a_job_whose_files_are_all_transferred_goes_through_Queued_back_to_Transferred(JobState from)
    {
        // arrange: every file transferred, the job left in a resumable state
        var state = InState(from).Apply(new FileTransferred(J, 0, 1000, T0));

        // act
        var (result, events) = state.Decide(new ResumeJob(G, Owner, J), T0, Settings);
        var after = events.Aggregate(state, (s, e) => s.Apply(e)).FindJob(J)!;

        // assert: T14/T2 (the owner's Resume), then T15 at once
        Assert.Equal(ResultCode.Ok, result.Code);
        Assert.Equal([(from, JobState.Queued, ResumedCause), (JobState.Queued, JobState.Transferred, AllFilesTransferredCause)],
            events.Cast<JobStateChanged>().Select(s => (s.From, s.To, s.Cause)));
        Assert.Equal(JobState.Transferred, after.State);
        Assert.Null(after.Error);
    }

    [Fact]
    public void A_failed_AutoComplete_journals_a_LocalFile_error_and_moves_the_job_from_Transferred_to_Error()
    {
        // arrange
        var job = InState(JobState.Transferred).FindJob(J)!;
        var rejected = CommandResult.Rejected(HResults.E_FILE_EXISTS, "/t/f exists and the job does not allow overwriting it");

        // act
        var events = GroupDecisions.DecideCompleteFailed(job, 0, rejected, autoComplete: true, T0);
        var after = events.Aggregate(InState(JobState.Transferred), (s, e) => s.Apply(e)).FindJob(J)!;

        // assert
        Assert.Equal(JobState.Error, after.State);
        Assert.Equal(new JobError(ErrorContext.LocalFile, HResults.E_FILE_EXISTS, null, rejected.Message, 0), after.Error);
        Assert.Equal(AutoCompleteFailedCause, Assert.Single(events.OfType<JobStateChanged>()).Cause);
    }

    [Fact]
    public void A_failed_explicit_Complete_journals_the_error_record_and_the_job_stays_Transferred()
    {
        // arrange
        var job = InState(JobState.Transferred).FindJob(J)!;
        var rejected = CommandResult.Rejected(HResults.E_FILE_EXISTS, "/t/f exists and the job does not allow overwriting it");

        // act
        var events = GroupDecisions.DecideCompleteFailed(job, 0, rejected, autoComplete: false, T0);
        var after = events.Aggregate(InState(JobState.Transferred), (s, e) => s.Apply(e)).FindJob(J)!;

        // assert: BITS returns the error to the caller and keeps the state; GetError shows the record
        Assert.IsType<JobErrorRecorded>(Assert.Single(events));
        Assert.Equal(JobState.Transferred, after.State);
        Assert.Equal((ErrorContext.LocalFile, HResults.E_FILE_EXISTS), (after.Error!.Context, after.Error.HResult));
    }

    [Fact]
    public void Preemption_journals_its_cause_and_keeps_the_checkpointed_bytes()
    {
        // arrange: 400 of 1,000 bytes checkpointed
        var state = InState(JobState.Transferring).Apply(new FileProgressCheckpointed(J, 0, 400, T0));

        // act
        var events = state.DecideFact(new Preempted(J, 0, JobActor.TimeSliceEndedCause), T0);
        var after = events.Aggregate(state, (s, e) => s.Apply(e)).FindJob(J)!;

        // assert
        var changed = Assert.IsType<JobStateChanged>(Assert.Single(events));
        Assert.Equal((JobState.Transferring, JobState.Queued, JobActor.TimeSliceEndedCause), (changed.From, changed.To, changed.Cause));
        Assert.Equal(400, after.Files[0].BytesTransferred);
    }

    [Fact]
    public void Transient_failure_schedules_the_retry_at_the_larger_of_minimum_retry_delay_and_retry_after()
    {
        // arrange
        var state = InState(JobState.Transferring);
        var error = new TransferError(ErrorContext.RemoteFile, unchecked((int)0x801901AD), 429, "slow down", true, TimeSpan.FromHours(1));

        // act
        var events = state.DecideFact(new FileFailed(J, 0, error, 0), T0);

        // assert
        Assert.Equal(T0.AddHours(1), Assert.Single(events.OfType<RetryScheduled>()).DueAt);
    }

    [Fact]
    public void No_progress_timeout_of_zero_makes_every_transient_error_fatal()
    {
        // arrange
        var state = InState(JobState.Transferring).Apply(new JobPropertyChanged(J, JobProperty.NoProgressTimeout, "0", T0));
        var error = new TransferError(ErrorContext.RemoteFile, unchecked((int)0x801901F7), 503, "busy", true, null);

        // act
        var after = state.DecideFact(new FileFailed(J, 0, error, 0), T0).Aggregate(state, (s, e) => s.Apply(e));

        // assert
        Assert.Equal(JobState.Error, after.FindJob(J)!.State);
    }

    [Fact]
    public void A_minimum_retry_delay_below_five_seconds_is_raised_to_five()
    {
        var (result, events) = InState(JobState.Suspended).Decide(new SetJobProperty(G, Owner, J, JobProperty.MinimumRetryDelay, "1"), T0, Settings);
        Assert.Equal(ResultCode.Ok, result.Code);
        Assert.Equal("5", Assert.IsType<JobPropertyChanged>(Assert.Single(events)).Value);
    }

    [Theory]
    [InlineData(JobProperty.DisplayName, 257, true)]
    [InlineData(JobProperty.DisplayName, 256, false)]
    [InlineData(JobProperty.Description, 1025, true)]
    [InlineData(JobProperty.Description, 1024, false)]
    public void Strings_over_the_BITS_limits_are_BG_E_STRING_TOO_LONG(JobProperty property, int length, bool refused)
    {
        var (result, _) = InState(JobState.Suspended).Decide(new SetJobProperty(G, Owner, J, property, new string('x', length)), T0, Settings);
        Assert.Equal(refused ? HResults.BG_E_STRING_TOO_LONG : 0, result.HResult);
    }

    [Fact]
    public void Setting_the_group_priority_applies_it_to_unfinished_jobs()
    {
        var (result, events) = InState(JobState.Queued).Decide(new SetGroupProperty(G, Owner, GroupProperty.Priority, "low"), T0, Settings);
        var after = events.Aggregate(InState(JobState.Queued), (s, e) => s.Apply(e));
        Assert.Equal(ResultCode.Ok, result.Code);
        Assert.Equal(JobPriority.Low, after.Priority);
        Assert.Equal(JobPriority.Low, after.FindJob(J)!.Priority);
    }

    [Fact]
    public void Adding_more_files_than_the_limit_is_BG_E_TOO_MANY_FILES_IN_JOB()
    {
        var files = Enumerable.Range(0, Settings.MaxFilesPerJob).Select(i => new FileSpec($"http://h/{i}", $"/t/{i}")).ToImmutableList();
        var (result, events) = InState(JobState.Suspended).Decide(new AddFiles(G, Owner, J, files), T0, Settings);
        Assert.Equal(HResults.BG_E_TOO_MANY_FILES_IN_JOB, result.HResult);
        Assert.Empty(events);
    }
}
