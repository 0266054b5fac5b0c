using Akka.Actor;
using Akka.Event;
using Qmgr.Transfers;
using Qmgr.Transport;
using static Qmgr.Jobs.JobProtocol;
using static Qmgr.Transfers.TransferProtocol;

namespace Qmgr.Jobs;

/// <summary>
/// Drives one job through the BITS state machine (Decision 1: not persisted). Reacts to the job as its parent
/// <see cref="Groups.GroupActor"/> persisted it: asks the transfer pool for the next file while the job is active,
/// stops the transfer when it is not, re-arms its timers from the journaled job (minimum retry delay, maximum download
/// time, inactivity timeout), and turns transfer results and due timers into facts for the parent.
/// </summary>
public sealed class JobActor : ReceiveActor, IWithTimers
{
    private const string RetryTimer = "retry";
    private const string AcceptTimer = "accept";
    private const string MaxDownloadTimer = "max-download-time";
    private const string InactivityTimer = "inactivity";
    private const string UnconfirmedTimer = "unconfirmed";
    // Long timers are armed in steps of at most a day and re-checked when they fire.
    private static readonly TimeSpan LongestTimer = TimeSpan.FromDays(1);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Guid _groupId;
    private readonly IActorRef _transferRegion;
    private readonly QmgrSettings _settings;
    private Job _job;
    private long _groupMax;
    private (Guid TransferId, int FileIndex)? _active;
    // the transfer entity that answered the active transfer (watched: its node may leave the cluster)
    private IActorRef? _transferEntity;
    // the start sent for the active transfer until its entity accepts it (sent again after TransferAcceptTimeout)
    private StartTransfer? _pendingStart;
    // a file whose outcome was reported and not yet seen persisted: a stale JobChanged must not restart it
    private int? _outcomePending;
    // files reported complete (bytes durable) whose FileTransferred is not yet seen persisted: the next file starts at once
    // (its transfer overlaps the journal write) and these are not started again meanwhile
    private readonly SortedSet<int> _doneUnconfirmed = new();
    // on-demand: the plan stamp (owner's requests and position moves) the active transfer started under, and whether it
    // fetches requested ranges only (then it ends at T25)
    private int _activePlan;
    private bool _activeRequestedOnly;
    // on-demand: a requested-ranges-only transfer of a file ended under a plan stamp; nothing starts until the parent
    // decided T25, the owner asked again, or another file has requests (a JobChanged may still show this file's
    // requests before their fills are persisted, so they do not count)
    private (int Plan, int FileIndex)? _requestedDone;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The journaled cause of T8 when a higher priority took the slot.</summary>
    public const string PreemptedByPriorityCause = "preempted by a higher priority";

    /// <summary>The journaled cause of T8 when the transfer's entity stopped (its node left the cluster) mid-transfer.</summary>
    public const string TransferLostCause = "the node running the transfer was lost";

    /// <summary>The journaled cause of T8 when the time slice ended while same-priority jobs wait.</summary>
    public const string TimeSliceEndedCause = "time slice ended";

    public JobActor(Guid groupId, Job job, long groupMaxBytesPerSecond, IActorRef transferRegion, QmgrSettings settings)
    {
        _groupId = groupId;
        _job = job;
        _groupMax = groupMaxBytesPerSecond;
        _transferRegion = transferRegion;
        _settings = settings;

        Receive<JobChanged>(c => { _job = c.Job; _groupMax = c.GroupMaxBytesPerSecond; React(); });
        Receive<TransferAccepted>(m => IfCurrent(m.TransferId, _ =>
        {
            _pendingStart = null;
            Timers.Cancel(AcceptTimer);
            WatchTransferEntity(Sender);
        }));
        Receive<TransferConnecting>(m => IfCurrent(m.TransferId, a =>
        {
            WatchTransferEntity(Sender);
            // T3 (Queued -> Connecting) only: a job already Transferring stays so between its files
            if (_job.State != JobState.Transferring) Context.Parent.Tell(new TransferConnected(_job.Id));
        }));
        Receive<Terminated>(t =>
        {
            if (!t.ActorRef.Equals(_transferEntity)) return;
            _transferEntity = null;
            if (CoordinatedShutdown.Get(Context.System).ShutdownReason is not null) return; // this node stops: recovery re-queues
            if (_active is not { } a) return;
            // its node left the cluster (or the entity stopped) mid-transfer: back to Queued from the last checkpoint,
            // and the next start goes wherever the transfer region now places the entity
            _log.Warning("Job [{JobId}] file {FileIndex}: the transfer stopped with its node ({Node}); queued again", _job.Id, a.FileIndex, t.ActorRef.Path.Address);
            _active = null;
            Context.Parent.Tell(new Preempted(_job.Id, a.FileIndex, TransferLostCause));
            React();
        });
        Receive<TransferResponded>(m => IfCurrent(m.TransferId, a => Context.Parent.Tell(new ResponseAccepted(_job.Id, a.FileIndex, m.Response))));
        Receive<TransferResponseHeaders>(m => IfCurrent(m.TransferId, a => Context.Parent.Tell(new ResponseHeadersReceived(_job.Id, a.FileIndex, m.Headers))));
        Receive<TransferCheckpointed>(m => IfCurrent(m.TransferId, a => Context.Parent.Tell(new Checkpointed(_job.Id, a.FileIndex, m.Offset))));
        Receive<TransferFilled>(m => IfCurrent(m.TransferId, a => Context.Parent.Tell(new RangesFilled(_job.Id, a.FileIndex, [m.Range]))));
        Receive<TransferRestarted>(m => IfCurrent(m.TransferId, a => Context.Parent.Tell(new Restarted(_job.Id, a.FileIndex, m.Reason, m.Detail))));
        Receive<TransferUploadSessionCreated>(m => IfCurrent(m.TransferId, a =>
            Context.Parent.Tell(new UploadSessionOpened(_job.Id, a.FileIndex, m.SessionId, m.SourceSize, m.SourceLastWrite))));
        Receive<TransferReplyProgressed>(m => IfCurrent(m.TransferId, a =>
            Context.Parent.Tell(new ReplyProgressed(_job.Id, m.ReplyUrl, m.BytesTotal, m.BytesTransferred))));
        Receive<TransferRetrying>(m => IfCurrent(m.TransferId, a =>
            _log.Warning("Job [{JobId}] file {FileIndex}: {Message}; quick retry {Attempt} in {Delay}", _job.Id, a.FileIndex, m.Error.Message, m.Attempt, m.Delay)));
        Receive<TransferFinished>(m => IfCurrent(m.TransferId, a =>
        {
            _active = null;
            if (m.Outcome is DownloadOutcome.Completed done && CanRunAhead)
            {
                // pipelined: the group journals the file while the next one transfers (a file counts as transferred only
                // once journaled; until then this actor only avoids fetching it twice)
                _doneUnconfirmed.Add(a.FileIndex);
                Context.Parent.Tell(new FileDone(_job.Id, a.FileIndex, done.Size, done.Validators));
                React();
                return;
            }
            _outcomePending = a.FileIndex;
            Context.Parent.Tell(m.Outcome switch
            {
                DownloadOutcome.Completed c => new FileDone(_job.Id, a.FileIndex, c.Size, c.Validators),
                DownloadOutcome.Failed f => (IJobFact)new FileFailed(_job.Id, a.FileIndex, f.Error, f.BytesOnDisk),
                DownloadOutcome.RequestedRangesFilled => new RequestedRangesFilled(_job.Id, a.FileIndex),
                _ => throw new ArgumentOutOfRangeException(nameof(m), m.Outcome.GetType().Name, "unknown outcome"),
            });
            // T25: the requested ranges are present; the parent decides Suspended (or Transferred when every file is complete)
            if (_activeRequestedOnly && m.Outcome is DownloadOutcome.Completed or DownloadOutcome.RequestedRangesFilled)
            {
                _requestedDone = (_activePlan, a.FileIndex);
                if (m.Outcome is DownloadOutcome.Completed) Context.Parent.Tell(new RequestedRangesFilled(_job.Id, a.FileIndex));
            }
        }));
        Receive<TransferPreempted>(m => IfCurrent(m.TransferId, a =>
        {
            // the slot is free: report T8 and ask again at once (the governor queues the request behind its level)
            _active = null;
            Context.Parent.Tell(new Preempted(_job.Id, a.FileIndex, m.Cause == PreemptionCause.HigherPriority
                ? PreemptedByPriorityCause : TimeSliceEndedCause));
            React();
        }));
        Receive<Tick>(t => t.Key == UnconfirmedTimer, _ =>
        {
            // a reported file the group never journaled (its write was rejected, or the fact dropped): fetch it again
            if (_doneUnconfirmed.Count == 0) return;
            _log.Warning("Job [{JobId}] files {Files} were reported transferred but not journaled within {Timeout}; transferring them again",
                _job.Id, string.Join(",", _doneUnconfirmed), _settings.TransferAcceptTimeout);
            _doneUnconfirmed.Clear();
            React();
        });
        Receive<Tick>(t => t.Key == AcceptTimer, _ =>
        {
            // no entity answered the start: it was lost (its node is leaving the cluster) — send it again
            if (_pendingStart is not { } start || _active?.TransferId != start.TransferId) return;
            _log.Warning("Job [{JobId}] file {FileIndex}: no transfer entity accepted the start within {Timeout}; sending it again", _job.Id, start.FileIndex, _settings.TransferAcceptTimeout);
            _transferRegion.Tell(start);
            Timers.StartSingleTimer(AcceptTimer, new Tick(AcceptTimer), _settings.TransferAcceptTimeout);
        });
        Receive<Tick>(t =>
        {
            var now = DateTimeOffset.UtcNow;
            var due = t.Key switch
            {
                RetryTimer => _job.RetryDueAt is { } at && now >= at,
                MaxDownloadTimer => _job.MaximumDownloadTime > TimeSpan.Zero && _job.ActiveTimeAt(now) >= _job.MaximumDownloadTime,
                _ => InactivityDue(now) <= now,
            };
            if (!due) { React(); return; }
            Context.Parent.Tell(t.Key switch
            {
                RetryTimer => new RetryDue(_job.Id),
                MaxDownloadTimer => new MaximumDownloadTimeElapsed(_job.Id),
                _ => (IJobFact)new InactivityTimeoutElapsed(_job.Id, _job.LastActivity),
            });
        });
    }

    /// <summary>Props for the child of <paramref name="groupId"/> that drives <paramref name="job"/>.</summary>
    public static Props Props(Guid groupId, Job job, long groupMaxBytesPerSecond, IActorRef transferRegion, QmgrSettings settings) =>
        Akka.Actor.Props.Create(() => new JobActor(groupId, job, groupMaxBytesPerSecond, transferRegion, settings));

    /// <summary>The child's name under its group.</summary>
    public static string Name(Guid jobId) => $"job-{jobId:N}";

    protected override void PreStart() => React();

    // While the node stops, its transfer region stops every transfer itself; a CancelTransfer sent now would only be
    // buffered by that region (its shard is being handed off) and hold its graceful shutdown until the phase times out.
    protected override void PostStop()
    {
        if (CoordinatedShutdown.Get(Context.System).ShutdownReason is null) CancelActive();
    }

    /// <summary>Files may run ahead of the journal only in a plain download job: on-demand fills, upload sessions and
    /// MAX_DOWNLOAD_SIZE (which counts the other files' journaled bytes) wait for each outcome.</summary>
    private bool CanRunAhead => _job.Type == JobType.Download && !_job.Properties5.OnDemandMode && _job.Properties5.MaxDownloadSize is null;

    private void React()
    {
        _doneUnconfirmed.RemoveWhere(i => i >= _job.Files.Count || _job.Files[i].Transferred);
        // the job left the active states: what is still unconfirmed is decided again when it resumes
        if (_job.State is not (JobState.Queued or JobState.Connecting or JobState.Transferring)) _doneUnconfirmed.Clear();
        if (_doneUnconfirmed.Count == 0) Timers.Cancel(UnconfirmedTimer);
        else if (_active is null && !Timers.IsTimerActive(UnconfirmedTimer))
            Timers.StartSingleTimer(UnconfirmedTimer, new Tick(UnconfirmedTimer), _settings.TransferAcceptTimeout);
        if (_outcomePending is int pending &&
            (_job.Files[pending].Transferred || _job.State is not (JobState.Connecting or JobState.Transferring)))
            _outcomePending = null;
        if (_requestedDone is { } done && (PlanStamp(_job) != done.Plan || HasRequests(_job, except: done.FileIndex)
                                           || _job.State is not (JobState.Queued or JobState.Connecting or JobState.Transferring)))
        {
            _requestedDone = null;
            _outcomePending = null;
        }
        // on-demand: new requests or a moved position go first, so a transfer started under an older plan starts over
        if (_active is not null && _job.Properties5.OnDemandMode && PlanStamp(_job) != _activePlan) CancelActive();

        var now = DateTimeOffset.UtcNow;
        switch (_job.State)
        {
            case JobState.Queued or JobState.Connecting or JobState.Transferring:
                Timers.Cancel(RetryTimer);
                if (_active is null && _outcomePending is null && _requestedDone is null && NextFile() is int next) StartFile(next);
                break;
            case JobState.TransientError:
                CancelActive();
                if (_job.RetryDueAt is DateTimeOffset due) Arm(RetryTimer, due - now);
                break;
            default:
                Timers.Cancel(RetryTimer);
                CancelActive();
                break;
        }
        if (_job.State is JobState.Connecting or JobState.Transferring && _job.MaximumDownloadTime > TimeSpan.Zero)
            Arm(MaxDownloadTimer, _job.MaximumDownloadTime - _job.ActiveTimeAt(now));
        else
            Timers.Cancel(MaxDownloadTimer);
        if (_settings.InactivityTimeout > TimeSpan.Zero) Arm(InactivityTimer, InactivityDue(now) - now);
    }

    private DateTimeOffset InactivityDue(DateTimeOffset now) =>
        _settings.InactivityTimeout > TimeSpan.Zero ? (_job.LastActivity ?? _job.ModificationTime) + _settings.InactivityTimeout : DateTimeOffset.MaxValue;

    private void Arm(string key, TimeSpan delay)
    {
        delay = delay < TimeSpan.Zero ? TimeSpan.Zero : delay > LongestTimer ? LongestTimer : delay;
        Timers.StartSingleTimer(key, new Tick(key), delay);
    }

    // on-demand jobs serve a file with requested ranges first; otherwise files go in order (Decision 5)
    private int? NextFile() =>
        _job.Properties5.OnDemandMode && _job.Files.FindIndex(f => !f.Transferred && !f.RandomAccess.Requested.IsEmpty) is var requested and >= 0
            ? requested
            : _doneUnconfirmed.Count == 0 ? _job.NextFileIndex : NextNotReported();

    /// <summary>The first file neither transferred nor reported done and awaiting its journal write.</summary>
    private int? NextNotReported()
    {
        for (var i = 0; i < _job.Files.Count; i++)
            if (!_job.Files[i].Transferred && !_doneUnconfirmed.Contains(i)) return i;
        return null;
    }

    private static int PlanStamp(Job job) => job.Files.Sum(f => f.RandomAccess.Plan);

    private static bool HasRequests(Job job, int except) =>
        job.Files.Where((_, i) => i != except).Any(f => !f.Transferred && !f.RandomAccess.Requested.IsEmpty);

    private void StartFile(int index)
    {
        // A node that is stopping starts no transfer: the transfer region would hold the request until its shutdown phase
        // timed out (10 s, a warning a second) — short CLI verbs wake groups and stop at once. The job stays as journaled.
        if (CoordinatedShutdown.Get(Context.System).ShutdownReason is not null) return;
        var file = _job.Files[index];
        var onDemand = _job.Properties5.OnDemandMode
            ? new OnDemandPlan(file.RandomAccess.Filled, file.RandomAccess.Requested, file.RandomAccess.Position)
            : null;
        _activePlan = PlanStamp(_job);
        _activeRequestedOnly = onDemand is { Requested.Count: > 0 };
        var request = new DownloadRequest(new Uri(file.RemoteName), file.TempName, file.BytesTransferred, file.Validators, file.BytesTotal,
            // a job with a custom HTTP method never retries: every error is fatal (bits-spec T28)
            _job.Options.StrictRangeSupport, _settings.CheckpointBytes, _settings.CheckpointInterval, _job.HttpMethod is null ? _settings.QuickRetryDelays : [],
            _settings.MaxQuickRetryAfter, _settings.IdleTimeout) { ExpectedSha256 = file.ExpectedSha256, Proxy = RouteFor(_job.Proxy), FollowRedirects = (_job.SecurityFlags & 0x700) != 0x200,
            TlsIgnore = (TlsIgnore)(_job.SecurityFlags & 0x1E), CheckRevocation = (_job.SecurityFlags & 0x1) != 0,
            AllowHttpsToHttp = (_job.SecurityFlags & 0x800) != 0, ClientCertificate = _job.ClientCertificate,
            Ranges = file.Ranges, NoResume = _job.Properties5.DynamicContent, MaxBytes = MaxBytesFor(index), Upload = UploadFor(_job, file),
            Method = _job.HttpMethod, ValidateServerCertificate = _job.ServerCertificateValidation, OnDemand = onDemand };
        _active = (Guid.NewGuid(), index);
        // the URL without user info or query: no credential or signed token in the log
        // (Debug: a job of 10,000 small files is not 10,000 lines on an embedding host's console)
        if (_log.IsDebugEnabled)
            _log.Debug("Job [{JobId}] file {FileIndex} {Url} -> {LocalName} from byte {Offset}", _job.Id, index,
                HttpFileDownloader.Redacted(new Uri(file.RemoteName)), file.LocalName, file.BytesTransferred);
        _pendingStart = new StartTransfer(_active.Value.TransferId, _groupId, _job.Id, index, request, _job.Priority, _groupMax, Self)
        {
            Credentials = _job.Credentials,
            ProtectedCustomHeaders = _job.ProtectedCustomHeaders,
        };
        _transferRegion.Tell(_pendingStart);
        Timers.StartSingleTimer(AcceptTimer, new Tick(AcceptTimer), _settings.TransferAcceptTimeout);
    }

    /// <summary>BITS MAX_DOWNLOAD_SIZE left for file <paramref name="index"/>: the job's cap less the other files' bytes, or null (no cap).</summary>
    private long? MaxBytesFor(int index) => _job.Properties5.MaxDownloadSize is { } cap
        ? Math.Max(0, cap - _job.Files.Where((_, i) => i != index).Sum(f => f.BytesTransferred))
        : null;

    /// <summary>The upload side of a transfer of <paramref name="job"/> (null for a download job): the source is the file's
    /// local name; the journaled session, source stamp and reply URL let it continue where the server is.</summary>
    public static UploadRequest? UploadFor(Job job, JobFile file) => job.Type == JobType.Download ? null
        : new UploadRequest(file.LocalName, job.Type == JobType.UploadReply, job.Upload?.SessionId, job.Upload?.SourceSize ?? 0,
            job.Upload?.SourceLastWrite ?? default, job.Reply?.TempName, job.Reply?.Url);

    /// <summary>The <c>Cancel-Session</c> request for a cancelled upload job whose session is still open, or null.</summary>
    public static CancelUploadSession? CancelSessionFor(Job job, TimeSpan idleTimeout)
    {
        if (job.Type == JobType.Download || job.Upload is null || job.Files.Count == 0 || job.Files[0].Transferred) return null;
        var file = job.Files[0];
        var request = new DownloadRequest(new Uri(file.RemoteName), file.TempName, file.BytesTransferred, Validators.None, file.BytesTotal,
            false, 1, TimeSpan.FromSeconds(1), [], TimeSpan.Zero, idleTimeout)
        {
            Proxy = RouteFor(job.Proxy), FollowRedirects = (job.SecurityFlags & 0x700) != 0x200, TlsIgnore = (TlsIgnore)(job.SecurityFlags & 0x1E),
            CheckRevocation = (job.SecurityFlags & 0x1) != 0, AllowHttpsToHttp = (job.SecurityFlags & 0x800) != 0,
            ClientCertificate = job.ClientCertificate, Upload = UploadFor(job, file),
        };
        return new CancelUploadSession(job.Id, request) { Credentials = job.Credentials, ProtectedCustomHeaders = job.ProtectedCustomHeaders };
    }

    /// <summary>The transport's route for BITS proxy settings (Preconfig and AutoDetect: the process default).</summary>
    private static ProxyRoute RouteFor(ProxySettings? proxy) => proxy?.Usage switch
    {
        ProxyUsage.NoProxy => ProxyRoute.Direct,
        ProxyUsage.Override => new ProxyRoute(false, Groups.GroupDecisions.ProxyUri(proxy.ProxyList!),
            (proxy.BypassList ?? "").Split([' ', ';'], StringSplitOptions.RemoveEmptyEntries)),
        _ => ProxyRoute.Default,
    };

    private void CancelActive()
    {
        if (_active is { } a) _transferRegion.Tell(new CancelTransfer(_job.Id, a.TransferId));
        _active = null;
    }

    private void IfCurrent(Guid transferId, Action<(Guid TransferId, int FileIndex)> handle)
    {
        if (_active is { } a && a.TransferId == transferId) handle(a);
    }

    // the transfer entity may run on another node: watch it, so losing that node re-queues the job (T8)
    private void WatchTransferEntity(IActorRef entity)
    {
        if (entity.IsNobody() || entity.Equals(_transferEntity)) return;
        if (_transferEntity is not null) Context.Unwatch(_transferEntity);
        _transferEntity = entity;
        Context.Watch(entity);
    }

    private sealed record Tick(string Key) : INoSerializationVerificationNeeded, IDeadLetterSuppression;
}
