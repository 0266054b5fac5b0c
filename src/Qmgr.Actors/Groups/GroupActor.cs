using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Qmgr.Cluster;
using Qmgr.Jobs;
using Qmgr.Transport;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;
using static Qmgr.Jobs.JobProtocol;

namespace Qmgr.Groups;

/// <summary>
/// The aggregate root of one group and the only writer of its stream (Decision 1): journals every property change
/// and every job and file transition, replies only after persisting, supervises one <see cref="JobActor"/> per
/// non-final job and re-creates them after recovery. Sharded by group id; persistence id <c>group-{id:N}</c>.
/// </summary>
public sealed class GroupActor : ReceivePersistentActor
{
    /// <summary>Frozen prefix of every group's persistence id.</summary>
    public const string PersistencePrefix = "group";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly QmgrSettings _settings;
    private readonly IActorRef _transferRegion;
    private readonly ShardFence _fence;
    private readonly IActorRef _notifications;
    private GroupState _state;
    // Group commit: facts reported by job actors wait here while a write of facts is in flight, then are decided and
    // journaled together in one write (one transaction, one fsync) instead of one write each.
    private readonly List<IJobFact> _factBuffer = new();
    private bool _factWriteInFlight;
    private bool _flushScheduled;
    // a Complete's renames run on a worker: commands wait for them
    private bool _fileWorkInFlight;
    // sequence number of the last snapshot taken (or recovered)
    private long _snapshotAt;

    public GroupActor(Guid groupId, QmgrSettings settings, IActorRef transferRegion, IActorRef notifications, ShardFence? fence = null)
    {
        _settings = settings;
        _transferRegion = transferRegion;
        _notifications = notifications;
        _fence = fence ?? ShardFence.None;
        _state = GroupState.Empty(groupId);
        PersistenceId = PersistenceIdFor(groupId);
        if (settings.GroupPassivateAfter > TimeSpan.Zero) Context.SetReceiveTimeout(settings.GroupPassivateAfter);

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not GroupState s) return;
            _state = s;
            _snapshotAt = offer.Metadata.SequenceNr;
        });
        Recover<IGroupEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ =>
        {
            _log.Debug("Group [{GroupId}] recovered at sequence {SequenceNr} with {JobCount} jobs", groupId, LastSequenceNr, _state.Jobs.Count);
            Self.Tell(AfterRecovery.Instance);
        });

        Command<AfterRecovery>(_ =>
        {
            if (StashWhileBusy()) return;
            if (_state.Exists) Context.System.EventStream.Publish(new Telemetry.GroupLoaded(_state));
            RequeueActiveJobs();
            // AutoComplete of a job that reached Transferred just before a stop or crash (its renames never ran)
            foreach (var job in _state.Jobs.Where(j => j is { State: JobState.Transferred, Options.AutoComplete: true }))
                Self.Tell(new AutoComplete(job.Id));
            DeliverWebhooks(); // the outbox: deliveries due before a stop or crash go out now
        });
        Command<WebhookDeliverer.Delivered>(d =>
        {
            if (StashWhileBusy()) return;
            if (_state.PendingDeliveries.Exists(p => p.DeliveryId == d.DeliveryId))
                PersistThenReply([new GroupEvents.WebhookDelivered(d.DeliveryId, d.Attempts, DateTimeOffset.UtcNow)], CommandResult.Ok, null);
        });
        Command<ReceiveTimeout>(_ =>
        {
            if (_factWriteInFlight || _fileWorkInFlight || _factBuffer.Count > 0) return; // not idle
            // idle: nothing to transfer, retry or deliver; the shard stops it (a remembered entity must ask its shard)
            if (!_state.Jobs.Any(j => j.State.IsActive()) && _state.PendingDeliveries.IsEmpty)
            {
                _log.Debug("Group [{GroupId}] idle for {Idle}: passivating", groupId, settings.GroupPassivateAfter);
                Context.Parent.Tell(new Akka.Cluster.Sharding.Passivate(StopIdle.Instance));
            }
        });
        Command<StopIdle>(_ =>
        {
            if (StashWhileBusy()) return;
            Context.Stop(Self);
        });
        Command<GroupQueries.GetGroup>(q => Sender.Tell(q.Caller is null || q.Administrator || q.Caller == _state.Owner ? _state : GroupState.Empty(_state.Id)));
        Command<FilesCompleted>(done =>
        {
            _fileWorkInFlight = false;
            PersistThenReply(done.Events, done.Result, done.ReplyTo);
            Stash.UnstashAll();
        });
        Command<AutoComplete>(c =>
        {
            if (StashWhileBusy()) return;
            OnAutoComplete(c);
        });
        Command<CompleteJob>(c =>
        {
            if (StashWhileBusy()) return;
            Complete(c);
        });
        Command<AddFiles>(add =>
        {
            if (StashWhileBusy()) return;
            // an upload's local file must exist when it is added (BITS AddFile on upload jobs); checked here, not in the pure Decide
            if (_state.FindJob(add.JobId) is { Type: not JobType.Download } upload && _state.CheckJob(add).Rejected is null
                && add.Files.FirstOrDefault(f => Path.IsPathFullyQualified(f.LocalName) && !File.Exists(f.LocalName)) is { } missing)
            {
                Sender.Tell(CommandResult.Rejected(HResults.E_FILE_NOT_FOUND, $"the file to upload does not exist: {missing.LocalName} (job {upload.Id:D})"));
                return;
            }
            var (result, events) = _state.Decide(add, DateTimeOffset.UtcNow, _settings);
            PersistThenReply(events, result, Sender);
        });
        Command<IGroupCommand>(command =>
        {
            if (StashWhileBusy()) return;
            var (result, events) = _state.Decide(command, DateTimeOffset.UtcNow, _settings);
            PersistThenReply(events, result, Sender);
        });
        Command<IJobFact>(fact =>
        {
            _factBuffer.Add(fact);
            // facts already in the mailbox join the buffer before the flush message arrives
            if (_factWriteInFlight || _flushScheduled) return;
            _flushScheduled = true;
            Self.Tell(FlushFacts.Instance);
        });
        Command<FlushFacts>(_ =>
        {
            _flushScheduled = false;
            if (!_factWriteInFlight) WriteFacts();
        });
        Command<Terminated>(t => OnChildStopped(t.ActorRef));
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning("Group [{GroupId}] snapshot failed: {Reason}", groupId, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning("Group [{GroupId}] old snapshots not deleted: {Reason}", groupId, f.Cause.Message));
    }

    public override string PersistenceId { get; }

    /// <summary>The message an idle group asks its shard to send back when passivating it.</summary>
    private sealed class StopIdle
    {
        public static readonly StopIdle Instance = new();
    }

    /// <summary>
    /// Events between snapshots: <c>qmgr.persistence.snapshot-every</c>, or the group's file count when larger — a
    /// snapshot's size grows with the files, so it is written no more often than once per that many events (its cost per
    /// event stays constant; recovery replays at most that many events).
    /// </summary>
    private long SnapshotInterval => Math.Max(_settings.SnapshotEvery, _state.Jobs.Sum(j => (long)j.Files.Count));

    private sealed class FlushFacts
    {
        public static readonly FlushFacts Instance = new();
    }

    /// <summary>
    /// A command that arrives while facts are being journaled, or while a Complete's renames run, waits for them (as it
    /// waits for any write of its own): it is decided on the state they made, and sees no fact twice. Queries are answered
    /// at once.
    /// </summary>
    private bool StashWhileBusy()
    {
        if (!_factWriteInFlight && !_fileWorkInFlight) return false;
        Stash.Stash();
        return true;
    }

    /// <summary><c>group-{id:N}</c>: frozen once shipped; queries find groups by this prefix.</summary>
    public static string PersistenceIdFor(Guid groupId) => $"{PersistencePrefix}-{groupId:N}";

    /// <summary>
    /// Props for the entity of <paramref name="groupId"/>; transfers go to <paramref name="transferRegion"/>;
    /// notifications are published through <paramref name="notifications"/>, the node's DistributedPubSub mediator
    /// (<see cref="Api.NotificationRelay"/>). <paramref name="fence"/> is the lease of the entity's shard: transfer facts
    /// are journaled and files renamed only while it is held (null: always held).
    /// </summary>
    public static Props Props(Guid groupId, QmgrSettings settings, IActorRef transferRegion, IActorRef notifications, ShardFence? fence = null) =>
        Akka.Actor.Props.Create(() => new GroupActor(groupId, settings, transferRegion, notifications, fence));

    // A JobActor that throws is stopped and re-created from the persisted job, never restarted with a stale one.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private void RequeueActiveJobs()
    {
        // Decision 10: Connecting and Transferring come back as Queued (BITS re-queues active jobs).
        var now = DateTimeOffset.UtcNow;
        var events = _state.Jobs
            .Where(j => j.State is JobState.Connecting or JobState.Transferring)
            .Select(j => (IGroupEvent)new JobStateChanged(j.Id, j.State, JobState.Queued, "recovered after restart", now))
            .ToArray();
        if (events.Length > 0) PersistThenReply(events, CommandResult.Ok, null);
        // a requeued job's child starts once Queued is journaled (AfterPersisted syncs it): started from the stale
        // Transferring state, a fast transfer could finish before the requeue and be started a second time
        var requeued = events.OfType<JobStateChanged>().Select(s => s.JobId).ToHashSet();
        foreach (var job in _state.Jobs.Where(j => !j.State.IsFinal() && !requeued.Contains(j.Id))) SyncChild(job.Id);
    }

    /// <summary>Hands every pending delivery to the deliverer child (it ignores ids it already has). While the group
    /// has no webhook, pending deliveries wait.</summary>
    private void DeliverWebhooks()
    {
        if (_state.Webhook is not { } hook || _state.PendingDeliveries.IsEmpty) return;
        var deliverer = Context.Child("webhooks");
        if (deliverer.IsNobody())
        {
            var resolver = Akka.DependencyInjection.DependencyResolver.For(Context.System).Resolver;
            var http = resolver.GetService<IHttpClientFactory>().CreateClient(Transport.WebhookSender.HttpClientName);
            var secrets = resolver.GetService<Jobs.SecretProtector>();
            deliverer = Context.ActorOf(WebhookDeliverer.Props(new Transport.WebhookSender(http), secrets.UnprotectWebhookSecret, _settings), "webhooks");
        }
        foreach (var delivery in _state.PendingDeliveries) deliverer.Tell(new WebhookDeliverer.Deliver(delivery, hook.ProtectedSecret));
    }

    /// <summary>
    /// Decides every buffered fact in arrival order, each on the state the previous ones made (BITS transitions as in
    /// <see cref="GroupDecisions.DecideFact"/>), and journals all their events in one write. While it is in flight new facts
    /// are buffered and commands stashed; once persisted (and folded in, notified, children synced) the stashed commands
    /// go first, then the next batch of facts. Transfer facts are dropped while the shard lease is not held.
    /// </summary>
    private void WriteFacts()
    {
        if (_factBuffer.Count == 0) return;
        var facts = _factBuffer.ToArray();
        _factBuffer.Clear();
        var now = DateTimeOffset.UtcNow;
        var decided = _state;
        var events = new List<IGroupEvent>();
        var failures = new List<FileFailed>();
        var unchanged = new HashSet<Guid>();
        foreach (var fact in facts)
        {
            if (IsTransferFact(fact) && !_fence.IsHeld())
            {
                // another node may own this group now: it redoes the transfer from the last journaled checkpoint
                _log.Warning("Job [{JobId}] {Fact} dropped: the shard lease is not held by this node", fact.JobId, fact.GetType().Name);
                continue;
            }
            var decision = decided.DecideFact(fact, now);
            if (decision.Length == 0)
            {
                // the child may be waiting to see a reported outcome it will not see journaled
                if (fact is FileDone or FileFailed or RequestedRangesFilled) unchanged.Add(fact.JobId);
                continue;
            }
            foreach (var e in decision) decided = decided.Apply(e);
            events.AddRange(decision);
            if (fact is FileFailed failed) failures.Add(failed);
        }
        if (events.Count == 0)
        {
            foreach (var jobId in unchanged) SyncChild(jobId);
            return;
        }
        _factWriteInFlight = true;
        PersistThenReply([.. events], CommandResult.Ok, null, () =>
        {
            foreach (var failed in failures) DropEmptyTempFile(failed);
            foreach (var jobId in unchanged) SyncChild(jobId);
        }, async: true);
    }

    /// <summary>A rejected write of facts (the journal refused an event, e.g. a serializer failure) ends it too: the facts are
    /// lost (the transfer redoes them from the last journaled checkpoint), commands go on.</summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        base.OnPersistRejected(cause, @event, sequenceNr);
        if (_factWriteInFlight) FactsWritten();
    }

    /// <summary>The write of facts ended: stashed commands go next, then the facts buffered meanwhile.</summary>
    private void FactsWritten()
    {
        _factWriteInFlight = false;
        Stash.UnstashAll();
        if (_factBuffer.Count == 0 || _flushScheduled) return;
        _flushScheduled = true;
        Self.Tell(FlushFacts.Instance);
    }

    /// <summary>Facts about bytes on disk (progress, restarts, files and jobs transferred): journaled only under the fence.</summary>
    private static bool IsTransferFact(IJobFact fact) =>
        fact is Checkpointed or RangesFilled or RequestedRangesFilled or Restarted or FileDone or ReplyProgressed;

    /// <summary>
    /// After a failure that put the job in Error, deletes the failed file's temp file when it holds no journaled byte (a
    /// 404 or another fatal answer before any body; a checksum mismatch, which dropped the bytes): nothing in it is worth
    /// keeping, and the next Resume creates it again. A temp file with good bytes stays for that Resume, and a
    /// HIGH_PERFORMANCE file (written in place, no temp file) is never touched. The transfer has ended (the failure is its
    /// outcome), so nothing writes to the file any more.
    /// </summary>
    private void DropEmptyTempFile(FileFailed failed)
    {
        if (_state.FindJob(failed.JobId) is not { State: JobState.Error, Type: JobType.Download } job) return;
        var file = job.Files[failed.FileIndex];
        if (file.Transferred || file.BytesTransferred > 0 || file.TempName == file.LocalName) return;
        try
        {
            if (TempFiles.Delete(file.TempName))
                _log.Debug("Job [{JobId}] file {FileIndex}: empty temp file {TempName} deleted", job.Id, failed.FileIndex, file.TempName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _log.Warning("Job [{JobId}] file {FileIndex}: temp file {TempName} not deleted: {Reason}", job.Id, failed.FileIndex, file.TempName, ex.Message);
        }
    }

    /// <summary>
    /// Complete (BITS T20): renames every transferred file into place (fsync happened when it was transferred),
    /// deletes the other temp files, then journals <see cref="JobCompleted"/>. A failed rename (target exists without
    /// Overwrite, I/O error) is answered with its HRESULT once its error record is journaled (GetError shows it); the job
    /// keeps its state (<see cref="GroupDecisions.DecideCompleteFailed"/>).
    /// </summary>
    private void Complete(CompleteJob command)
    {
        var (job, rejected) = _state.CheckJob(command);
        if (rejected is not null)
        {
            Sender.Tell(rejected);
            return;
        }
        if (GroupDecisions.CompleteRefusal(job!) is { } refused)
        {
            Sender.Tell(refused);
            return;
        }
        CompleteOffMailbox(job!, autoComplete: false, Sender);
    }

    /// <summary>
    /// BITS Complete's file work (renames into place, temp files deleted) on a worker thread, piped back to the actor
    /// (<see cref="FilesCompleted"/>), so queries are answered meanwhile; commands wait for it (as for a write) and see
    /// its outcome. The fence is checked first, on the actor.
    /// </summary>
    private void CompleteOffMailbox(Job job, bool autoComplete, IActorRef? replyTo)
    {
        if (!_fence.IsHeld())
        {
            // renames are writes: a node that may have lost the group to another one leaves the files alone
            _log.Warning("Job [{JobId}] not completed: the shard lease is not held by this node", job.Id);
            replyTo?.Tell(CommandResult.Rejected(Transport.BitsErrors.ShardLeaseNotHeld, $"the shard lease of group {_state.Id:D} is not held by this node; try again"));
            return;
        }
        _fileWorkInFlight = true;
        var now = DateTimeOffset.UtcNow;
        Task.Run(() => CompleteFiles(job, autoComplete, now)).PipeTo(Self,
            success: r => new FilesCompleted(r.Item1, r.Item2, replyTo),
            failure: ex => new FilesCompleted(CommandResult.Rejected(unchecked((int)0x80004005), $"internal error completing job {job.Id:D}: {ex.Message}"), [], replyTo));
    }

    /// <summary>The file work of a Complete is done: its events are journaled, then the waiting commands go on.</summary>
    private sealed record FilesCompleted(CommandResult Result, IGroupEvent[] Events, IActorRef? ReplyTo);

    /// <summary>
    /// Complete of a Transferred upload job (BITS T21): the upload file stays where it is (the server renamed its copy
    /// when the last fragment arrived); an upload-reply job's reply temp file is renamed to the reply file name.
    /// </summary>
    private static (CommandResult, IGroupEvent[]) CompleteUpload(Job job, bool autoComplete, DateTimeOffset now)
    {
        if (job.Reply is { TempName: { } temp, FileName: { } target })
        {
            CommandResult? failed = null;
            try
            {
                if (File.Exists(temp))
                {
                    if (File.Exists(target) && !job.Options.Overwrite)
                        failed = CommandResult.Rejected(HResults.E_FILE_EXISTS, $"{target} exists and the job does not allow overwriting it");
                    else
                        File.Move(temp, target, overwrite: job.Options.Overwrite);
                }
                else if (!File.Exists(target))
                    failed = CommandResult.Rejected(HResults.E_FILE_NOT_FOUND, $"reply temp file {temp} of {target} is missing");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                failed = CommandResult.Rejected(ex.HResult, $"cannot rename {temp} to {target}: {OneLine(ex.Message)}");
            }
            if (failed is not null) return (failed, GroupDecisions.DecideCompleteFailed(job, null, failed, autoComplete, now));
        }
        return GroupDecisions.DecideComplete(job, [0], now);
    }

    /// <summary>
    /// Renames the transferred files of <paramref name="job"/> into place and decides Complete; on the first rename that
    /// fails, the rejection (its HRESULT, a one-line message naming the target) and the events that journal it
    /// (<see cref="GroupDecisions.DecideCompleteFailed"/>: Error when <paramref name="autoComplete"/>). Files renamed
    /// before the failure stay renamed, and the next attempt skips them (their temp file is gone, their target exists).
    /// </summary>
    /// Pure apart from the file system: runs on a worker (<see cref="CompleteOffMailbox"/>).
    private static (CommandResult, IGroupEvent[]) CompleteFiles(Job job, bool autoComplete, DateTimeOffset now)
    {
        if (job.Type != JobType.Download) return CompleteUpload(job, autoComplete, now);
        var completed = ImmutableList.CreateBuilder<int>();
        for (var i = 0; i < job.Files.Count; i++)
        {
            var f = job.Files[i];
            if (!f.Transferred) continue;
            CommandResult? failed = null;
            try
            {
                // HIGH_PERFORMANCE: written in place, nothing to rename
                if (f.TempName == f.LocalName && File.Exists(f.LocalName)) { completed.Add(i); continue; }
                if (File.Exists(f.TempName))
                {
                    if (File.Exists(f.LocalName) && !job.Options.Overwrite)
                        failed = CommandResult.Rejected(HResults.E_FILE_EXISTS, $"{f.LocalName} exists and the job does not allow overwriting it");
                    else
                        File.Move(f.TempName, f.LocalName, overwrite: job.Options.Overwrite);
                }
                else if (!File.Exists(f.LocalName))
                    failed = CommandResult.Rejected(HResults.E_FILE_NOT_FOUND, $"temp file {f.TempName} of {f.LocalName} is missing");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                failed = CommandResult.Rejected(ex.HResult, $"cannot rename {f.TempName} to {f.LocalName}: {OneLine(ex.Message)}");
            }
            if (failed is not null) return (failed, GroupDecisions.DecideCompleteFailed(job, i, failed, autoComplete, now));
            completed.Add(i);
        }
        foreach (var f in job.Files.Where(f => !f.Transferred && f.TempName != f.LocalName)) TempFiles.Delete(f.TempName);
        return GroupDecisions.DecideComplete(job, completed.ToImmutable(), now);
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    /// <summary>
    /// Persists <paramref name="events"/>, folds them in, then runs <paramref name="onPersisted"/> (side effects of the
    /// persisted facts that every observer must see: it runs before the reply and the notifications), replies
    /// <paramref name="result"/> and syncs the children. Nothing to persist: only the reply.
    /// </summary>
    private void PersistThenReply(IGroupEvent[] events, CommandResult result, IActorRef? replyTo, Action? onPersisted = null, bool async = false)
    {
        if (events.Length == 0)
        {
            replyTo?.Tell(result);
            return;
        }
        // the outbox: webhook deliveries due for these facts are journaled in the same write
        events = [.. events, .. WebhookOutbox.DeliveriesFor(_state, events, DateTimeOffset.UtcNow, Guid.NewGuid)];
        var remaining = events.Length;
        // the state before each event, for notifications that compare a file before and after its own event
        var befores = new GroupState[events.Length];
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        void Handler(IGroupEvent e)
        {
            befores[events.Length - remaining] = _state;
            _state = _state.Apply(e);
            if (LastSequenceNr - _snapshotAt >= _settings.SnapshotEvery && LastSequenceNr - _snapshotAt >= SnapshotInterval)
            {
                SaveSnapshot(_state);
                _snapshotAt = LastSequenceNr;
            }
            if (--remaining > 0) return;
            Telemetry.QmgrMetrics.RecordJournalWrite(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            onPersisted?.Invoke();
            replyTo?.Tell(result);
            AfterPersisted(events, befores);
            if (async) FactsWritten();
        }
        // facts: no stash of the mailbox while they are written (new facts join the next batch, commands stash themselves)
        if (async) PersistAllAsync(events, Handler);
        else PersistAll(events, Handler);
    }

    private void AfterPersisted(IGroupEvent[] events, GroupState[] befores)
    {
        Notify(events, befores);
        if (events.Any(e => e is GroupEvents.WebhookDeliveryDue or GroupEvents.GroupWebhookSet)) DeliverWebhooks();
        foreach (var e in events)
        {
            switch (e)
            {
                case JobStateChanged s:
                    _log.Info("Job [{JobId}] {From} -> {To} ({Cause})", s.JobId, s.From, s.To, s.Cause);
                    break;
                // Information, not Warning: a job error is a journaled outcome every surface reports itself (the CLI prints
                // its own one-line failure). The HTTP part only when a server answered; messages name URLs without user
                // info or query (the transport redacts them), so no credential reaches the log.
                case JobErrorRecorded { Error.HttpStatus: int status } r:
                    _log.Info("Job [{JobId}] error: context {Context}, code 0x{HResult:X8}, HTTP {HttpStatus}: {Message}",
                        r.JobId, r.Error.Context, r.Error.HResult, status, r.Error.Message);
                    break;
                case JobErrorRecorded r:
                    _log.Info("Job [{JobId}] error: context {Context}, code 0x{HResult:X8}: {Message}",
                        r.JobId, r.Error.Context, r.Error.HResult, r.Error.Message);
                    break;
                case FileRestarted r:
                    _log.Warning("Job [{JobId}] file {FileIndex} restarts from zero: {Reason} ({Detail})", r.JobId, r.FileIndex, r.Reason, r.Detail);
                    break;
                case JobCancelled c:
                    var cancelled = _state.FindJob(c.JobId)!;
                    // HIGH_PERFORMANCE files were written in place: BITS does no cleanup for them (bits-spec §2.9)
                    foreach (var f in cancelled.Files.Where(f => !f.Completed && f.TempName != f.LocalName)) TempFiles.Delete(f.TempName);
                    if (cancelled.Reply?.TempName is { } replyTemp) TempFiles.Delete(replyTemp);
                    // BITS T19: the server is told to drop an open upload session
                    if (JobActor.CancelSessionFor(cancelled, _settings.IdleTimeout) is { } cancelSession) _transferRegion.Tell(cancelSession);
                    _log.Info("Job [{JobId}] cancelled", c.JobId);
                    break;
                case JobCompleted c:
                    _log.Info("Job [{JobId}] completed ({Count} files)", c.JobId, c.CompletedFiles.Count);
                    break;
            }
        }
        foreach (var jobId in events.Select(JobIdOf).OfType<Guid>().Distinct()) SyncChild(jobId);
        if (events.Any(e => e is GroupPropertyChanged)) foreach (var j in _state.Jobs) SyncChild(j.Id);

        // AutoComplete as a command of its own, after this write: a write started from inside the handler of an
        // asynchronous write (the facts') would leave Akka.Persistence's count of stashing writes unbalanced
        foreach (var jobId in events.OfType<JobStateChanged>().Where(s => s.To == JobState.Transferred).Select(s => s.JobId))
            if (_state.FindJob(jobId)!.Options.AutoComplete) Self.Tell(new AutoComplete(jobId));
    }

    /// <summary>AutoComplete of a job whose Transferred state is journaled: renames its files into place (BITS T20) unless
    /// it moved on meanwhile (cancelled, completed by its owner, resumed after a change). A failed rename is journaled too
    /// (error record, then Error), so a caller waiting for Acknowledged or Error returns.</summary>
    private void OnAutoComplete(AutoComplete command)
    {
        if (_state.FindJob(command.JobId) is not { State: JobState.Transferred, Options.AutoComplete: true } job) return;
        CompleteOffMailbox(job, autoComplete: true, replyTo: null);
    }

    private sealed record AutoComplete(Guid JobId);

    /// <summary>
    /// Publishes what subscribers of <see cref="Api.IQueueManager.Notifications"/> see, once persisted: cluster-wide on
    /// the notification topic (every node's <see cref="Api.NotificationRelay"/> puts it on that node's event stream), and
    /// node-locally as <see cref="Telemetry.GroupNotified"/> for this node's metrics.
    /// </summary>
    private void Notify(IGroupEvent[] events, GroupState[] befores)
    {
        for (var i = 0; i < events.Length; i++)
        {
            var (e, before) = (events[i], befores[i]);
            var after = i + 1 < events.Length ? befores[i + 1] : _state;
            if (JobIdOf(e) is not Guid jobId || _state.FindJob(jobId) is not { } job) continue;
            Api.QmgrNotification? n = e switch
            {
                JobStateChanged s => new Api.QmgrNotification.StateChanged(_state.Id, _state.Owner, job, s.From, s.To, s.Cause),
                JobCompleted => new Api.QmgrNotification.StateChanged(_state.Id, _state.Owner, job, before.FindJob(jobId)!.State, JobState.Acknowledged, "completed"),
                JobCancelled => new Api.QmgrNotification.StateChanged(_state.Id, _state.Owner, job, before.FindJob(jobId)!.State, JobState.Cancelled, "cancelled"),
                FileProgressCheckpointed or FileRangesFilled => new Api.QmgrNotification.Progress(_state.Id, _state.Owner, job),
                FileTransferred t => new Api.QmgrNotification.FileTransferred(_state.Id, _state.Owner, job, t.FileIndex),
                JobPropertyChanged p => new Api.QmgrNotification.Modified(_state.Id, _state.Owner, job, p.Property),
                _ => null,
            };
            if (n is not null && !Throttled(n, job)) Publish(n);
            if (RangesTransferred(e, before, after.FindJob(jobId) ?? job) is { } ranges) Publish(ranges);
            if (e is JobStateChanged { To: JobState.Transferred or JobState.Error } changed && _settings.AllowNotifyCmdLine)
                NotifyCommandLineRunner.RunIfSelected(job, changed.To, _log);
        }
    }

    private void Publish(Api.QmgrNotification n)
    {
        _notifications.Tell(Api.NotificationRelay.Publication(n));
        Context.System.EventStream.Publish(new Telemetry.GroupNotified(n));
    }

    /// <summary>
    /// BITS FileRangesTransferred (IBackgroundCopyCallback3): the requested ranges of an on-demand file that a fill made
    /// wholly present, or those already present when they were requested; null when there are none.
    /// </summary>
    private Api.QmgrNotification.FileRangesTransferred? RangesTransferred(IGroupEvent e, GroupState before, Job job)
    {
        var (fileIndex, candidates) = e switch
        {
            FileRangesFilled f => (f.FileIndex, before.FindJob(job.Id)!.Files[f.FileIndex].RandomAccess.Requested),
            FileRangesRequested r => (r.FileIndex, r.Ranges),
            _ => (-1, ImmutableList<FileRange>.Empty),
        };
        if (fileIndex < 0) return null;
        var file = job.Files[fileIndex];
        var present = candidates.Where(r => FileRangeSet.Covers(file.RandomAccess.Filled, r, file.BytesTotal))
            .Select(r => r.ToEndOfFile && file.BytesTotal is { } size ? new FileRange(r.InitialOffset, size - r.InitialOffset) : r)
            .ToImmutableList();
        return present.IsEmpty ? null : new Api.QmgrNotification.FileRangesTransferred(_state.Id, _state.Owner, job, fileIndex, present);
    }

    // when each job last published a JobModification-kind notification (progress, property change)
    private readonly Dictionary<Guid, DateTimeOffset> _lastModification = new();

    /// <summary>
    /// BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS: a progress or property notification within the job's interval
    /// of the previous one is dropped (BITS throttles JobModification the same way). State changes, file and job
    /// transferred and errors are never dropped. An interval of 0 (Qmgr's default) publishes every one.
    /// </summary>
    private bool Throttled(Api.QmgrNotification n, Job job)
    {
        if (n is not (Api.QmgrNotification.Progress or Api.QmgrNotification.Modified)) return false;
        var interval = TimeSpan.FromMilliseconds(job.Properties5.MinimumNotificationIntervalMs);
        if (interval <= TimeSpan.Zero) return false;
        var now = DateTimeOffset.UtcNow;
        if (_lastModification.TryGetValue(job.Id, out var last) && now - last < interval) return true;
        _lastModification[job.Id] = now;
        return false;
    }

    private static Guid? JobIdOf(IGroupEvent e) => e switch
    {
        FileWithRangesAdded x => x.JobId,
        JobCreated x => x.JobId, JobPropertyChanged x => x.JobId, FilesAdded x => x.JobId,
        FileRemoteNameChanged x => x.JobId, JobCredentialsSet x => x.JobId, JobCredentialsRemoved x => x.JobId, JobCustomHeadersSet x => x.JobId, JobProxyChanged x => x.JobId,
        JobNotifyCmdLineSet x => x.JobId, JobStateChanged x => x.JobId, FileMetadataReceived x => x.JobId,
        FileProgressCheckpointed x => x.JobId, FileRestarted x => x.JobId, FileTransferred x => x.JobId,
        JobErrorRecorded x => x.JobId, RetryScheduled x => x.JobId, JobCompleted x => x.JobId, JobCancelled x => x.JobId,
        JobClientCertificateSet x => x.JobId,
        UploadSessionCreated x => x.JobId, ReplyFileNameSet x => x.JobId, ReplyProgressRecorded x => x.JobId,
        FileRangesRequested x => x.JobId, DownloadPositionUpdated x => x.JobId, FileRangesFilled x => x.JobId,
        _ => null,
    };

    /// <summary>Makes the child match the persisted job: created for a non-final job, told its state, stopped when final.</summary>
    private void SyncChild(Guid jobId)
    {
        var job = _state.FindJob(jobId);
        if (job is null) return;
        var child = Context.Child(JobActor.Name(jobId));
        if (job.State.IsFinal())
        {
            if (!child.IsNobody()) Context.Stop(child);
            return;
        }
        if (child.IsNobody())
            Context.Watch(Context.ActorOf(JobActor.Props(_state.Id, job, _state.MaxBytesPerSecond, _transferRegion, _settings), JobActor.Name(jobId)));
        else
            child.Tell(new JobChanged(job, _state.MaxBytesPerSecond));
    }

    private void OnChildStopped(IActorRef child)
    {
        var job = _state.Jobs.Find(j => JobActor.Name(j.Id) == child.Path.Name);
        if (job is null || job.State.IsFinal()) return;
        _log.Warning("Job [{JobId}] actor stopped unexpectedly; re-creating it from the journaled state", job.Id);
        Context.Watch(Context.ActorOf(JobActor.Props(_state.Id, job, _state.MaxBytesPerSecond, _transferRegion, _settings), JobActor.Name(job.Id)));
    }

    private sealed class AfterRecovery
    {
        public static readonly AfterRecovery Instance = new();
    }
}
