using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Qmgr.Cluster;
using Qmgr.Jobs;
using Qmgr.Transport;
using static Qmgr.Transfers.TransferProtocol;

namespace Qmgr.Transfers;

/// <summary>
/// Sharded entity (one per job) that owns the bytes on the wire: runs <see cref="IFileDownloader"/> off the mailbox,
/// takes bandwidth from the node's <see cref="BandwidthGovernor"/> before each write and reports facts to the
/// requesting JobActor. When the governor asks its slot back (a higher priority, or the end of its time slice) it cancels
/// the download (the temp file keeps at least the last checkpoint) and, once the slot is free, reports
/// <see cref="TransferProtocol.TransferPreempted"/>. Not persisted (Decision 1); passivates when idle.
/// </summary>
public sealed class TransferActor : ReceiveActor, IWithTimers
{
    private const string SlotLingerTimer = "slot-linger";
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IFileDownloader _downloader;
    private readonly BandwidthGovernor _governor;
    private (Guid Id, CancellationTokenSource Cts, object SlotToken)? _running;
    // The governor slot kept between the files of this entity's job: a job's next file starts right after the previous
    // one, so it runs under the same slot (no re-queueing behind the governor per file; the time slice counts from the
    // job's first file). Released when no start comes within the linger time, or when the governor asks it back.
    private (IDisposable Slot, object Token, string Host, Jobs.JobPriority Priority)? _idleSlot;
    private readonly TimeSpan _slotLinger;

    public ITimerScheduler Timers { get; set; } = null!;
    // transfers the governor asked back, by id, until their run ends
    private readonly Dictionary<Guid, PreemptionCause> _preempted = new();
    // the last transfers that ended here: a start sent again for one of them is not run twice
    private readonly Queue<Guid> _ended = new();

    private readonly SecretProtector? _secrets;
    private readonly Api.ServerCertificateCallbacks _certificateCallbacks;
    private readonly ShardFence _fence;

    public TransferActor(IFileDownloader downloader, TimeSpan passivateAfter, SecretProtector? secrets, ShardFence? fence = null, TimeSpan? slotLinger = null)
    {
        _downloader = downloader;
        _slotLinger = slotLinger ?? TimeSpan.Zero;
        _secrets = secrets;
        _fence = fence ?? ShardFence.None;
        _governor = BandwidthGovernor.Get(Context.System);
        _certificateCallbacks = Api.ServerCertificateCallbacks.For(Context.System);
        Context.SetReceiveTimeout(passivateAfter);

        Receive<StartTransfer>(Start);
        Receive<CancelTransfer>(c =>
        {
            if (_running?.Id == c.TransferId) StopRunning();
        });
        Receive<CancelUploadSession>(c =>
        {
            StopRunning();
            if (_downloader is not IUploadSessionCanceller canceller) return;
            DownloadRequest request;
            try
            {
                request = c.Request with
                {
                    Headers = RequestHeaders.From(c.ProtectedCustomHeaders, _secrets),
                    Credentials = RequestHeaders.CredentialsFrom(c.Credentials, _secrets),
                };
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.Security.Cryptography.CryptographicException)
            {
                _log.Warning("Job [{JobId}] upload session not cancelled: {Reason}", c.JobId, ex.Message);
                return;
            }
            var log = _log;
            var jobId = c.JobId;
            // best effort and off the mailbox; BITS retries this for up to a day, Qmgr tries once and logs the outcome
            _ = canceller.CancelUploadSessionAsync(request, CancellationToken.None).ContinueWith(t =>
                log.Info("Job [{JobId}] upload session {SessionId}: Cancel-Session {Outcome}", jobId, c.Request.Upload?.SessionId,
                    t.IsCompletedSuccessfully && t.Result ? "acknowledged" : "not acknowledged"), TaskScheduler.Default);
        });
        Receive<Preempt>(p =>
        {
            if (_idleSlot is { } idle && idle.Token == p.SlotToken)
            {
                ReleaseIdleSlot(); // asked back between two files: nothing to stop
                return;
            }
            if (_running is not { } running || running.SlotToken != p.SlotToken) return;
            _log.Info("Transfer [{TransferId}] preempted: {Cause}", running.Id, p.Cause);
            _preempted[running.Id] = p.Cause;
            running.Cts.Cancel();
        });
        Receive<SlotLingerOver>(l =>
        {
            if (_idleSlot?.Token == l.SlotToken) ReleaseIdleSlot();
        });
        Receive<Ended>(e =>
        {
            if (_running?.Id == e.TransferId) { _running.Value.Cts.Dispose(); _running = null; }
            if (e.Slot is { } slot)
            {
                // kept for the job's next file unless the governor asked for it meanwhile
                if (_preempted.ContainsKey(e.TransferId) || _running is not null || _slotLinger <= TimeSpan.Zero) slot.Slot.Dispose();
                else
                {
                    ReleaseIdleSlot();
                    _idleSlot = slot;
                    Timers.StartSingleTimer(SlotLingerTimer, new SlotLingerOver(slot.Token), _slotLinger);
                }
            }
            _ended.Enqueue(e.TransferId);
            if (_ended.Count > 16) _ended.Dequeue();
            var preempted = _preempted.Remove(e.TransferId, out var cause);
            // a transfer that finished anyway reports its outcome; one stopped by preemption reports T8 (its slot is free now)
            if (e.Outcome is not null) e.ReplyTo.Tell(new TransferFinished(e.TransferId, e.Outcome));
            else if (preempted) e.ReplyTo.Tell(new TransferPreempted(e.TransferId, cause));
        });
        Receive<ReceiveTimeout>(_ =>
        {
            // passivate: nothing to remember once no transfer runs
            if (_running is null) Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        });
    }

    /// <summary>Props for one entity; <paramref name="passivateAfter"/> is <c>qmgr.transfer.passivate-after</c>,
    /// <paramref name="slotLinger"/> <c>qmgr.transfer.slot-linger</c> (how long the governor slot waits for the job's next file).</summary>
    /// <param name="downloader">runs each transfer (HTTP over the route of its proxy settings).</param>
    /// <param name="passivateAfter">idle time before the entity stops (<c>qmgr.transfer.passivate-after</c>).</param>
    /// <param name="secrets">decrypts job credentials and custom headers; null when the node has no key ring (then jobs with secrets fail).</param>
    /// <param name="fence">the lease of this entity's shard: no byte is written while it is not held (null: always held).</param>
    /// <param name="slotLinger">how long a finished transfer's slot is kept for the next start of the same job (0: released at once).</param>
    public static Props Props(IFileDownloader downloader, TimeSpan passivateAfter, SecretProtector? secrets, ShardFence? fence = null, TimeSpan? slotLinger = null) =>
        Akka.Actor.Props.Create(() => new TransferActor(downloader, passivateAfter, secrets, fence, slotLinger));

    private void Start(StartTransfer start)
    {
        start.ReplyTo.Tell(new TransferAccepted(start.TransferId), Self);
        // the job actor sent it again (no accept had reached it yet): already running, or already over
        if (_running?.Id == start.TransferId || _ended.Contains(start.TransferId)) return;
        if (_running is not null) StopRunning();
        var cts = new CancellationTokenSource();
        // the slot kept from the job's previous file, when it fits (same host and priority)
        var host = start.Request.Url.Authority;
        (IDisposable Slot, object Token, string Host, Jobs.JobPriority Priority)? held = null;
        if (_idleSlot is { } idle && idle.Host == host && idle.Priority == start.Priority)
        {
            held = idle;
            _idleSlot = null;
            Timers.Cancel(SlotLingerTimer);
        }
        else ReleaseIdleSlot();
        var token = held?.Token ?? new object();
        _running = (start.TransferId, cts, token);
        var replyTo = start.ReplyTo;
        var throttle = _governor.ThrottleFor(start.GroupId, start.GroupMaxBytesPerSecond, start.Priority);
        _log.Debug("Transfer [{TransferId}] of job [{JobId}] file {FileIndex} from offset {Offset}", start.TransferId, start.JobId, start.FileIndex, start.Request.Offset);
        RunAsync(start, throttle, held?.Slot, token, cts.Token).PipeTo(Self,
            success: r => new Ended(start.TransferId, replyTo, r.Outcome, (r.Slot, token, host, start.Priority)),
            failure: ex => new Ended(start.TransferId, replyTo, ex is OperationCanceledException ? null : Unexpected(ex), null));
    }

    /// <summary>Runs one transfer under <paramref name="held"/> or a newly acquired slot; returns the slot with the outcome
    /// (the actor keeps it for the job's next file) and releases it when the transfer throws or is cancelled.</summary>
    private async Task<(DownloadOutcome Outcome, IDisposable Slot)> RunAsync(StartTransfer start, BandwidthThrottle throttle, IDisposable? held,
        object slotToken, CancellationToken ct)
    {
        var self = Self;
        var slot = held ?? await _governor.AcquireSlotAsync(start.Request.Url, start.Priority,
            cause => self.Tell(new Preempt(slotToken, cause)), ct).ConfigureAwait(false);
        try
        {
            return (await DownloadAsync(start, throttle, self, ct).ConfigureAwait(false), slot);
        }
        catch
        {
            slot.Dispose();
            throw;
        }
    }

    private async Task<DownloadOutcome> DownloadAsync(StartTransfer start, BandwidthThrottle throttle, IActorRef self, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        start.ReplyTo.Tell(new TransferConnecting(start.TransferId), self); // from this entity: the job actor watches it
        var observer = new Observer(start.TransferId, start.ReplyTo);
        var request = start.Request with
        {
            Headers = RequestHeaders.From(start.ProtectedCustomHeaders, _secrets),
            Credentials = RequestHeaders.CredentialsFrom(start.Credentials, _secrets),
            // node-local, as BITS keeps the callback only while the program that set it runs
            ServerCertificateValidator = start.Request.ValidateServerCertificate ? _certificateCallbacks.ValidatorFor(start.JobId, start.FileIndex) : null,
            // a node that lost its shard's lease writes no further byte (another node may own this job now)
            WriteFence = _fence.IsHeld,
        };
        return await _downloader.DownloadAsync(request, observer, throttle, ct).ConfigureAwait(false);
    }

    private static DownloadOutcome Unexpected(Exception ex) =>
        new DownloadOutcome.Failed(new TransferError(ErrorContext.GeneralQueueManager, unchecked((int)0x80004005), null,
            $"internal error: {ex.GetType().Name}: {ex.Message}", IsTransient: false, RetryAfter: null), 0);

    private void StopRunning()
    {
        if (_running is { } r) _preempted.Remove(r.Id);
        _running?.Cts.Cancel();
        _running = null;
    }

    private void ReleaseIdleSlot()
    {
        if (_idleSlot is not { } idle) return;
        _idleSlot = null;
        Timers.Cancel(SlotLingerTimer);
        idle.Slot.Dispose();
    }

    protected override void PostStop()
    {
        StopRunning();
        ReleaseIdleSlot();
    }

    /// <summary>The governor asks back the slot identified by <paramref name="SlotToken"/>.</summary>
    private sealed record Preempt(object SlotToken, PreemptionCause Cause) : INoSerializationVerificationNeeded;

    private sealed record SlotLingerOver(object SlotToken) : INoSerializationVerificationNeeded;

    private sealed record Ended(Guid TransferId, IActorRef ReplyTo, DownloadOutcome? Outcome,
        (IDisposable Slot, object Token, string Host, Jobs.JobPriority Priority)? Slot) : INoSerializationVerificationNeeded;

    /// <summary>Turns transport callbacks into messages; <c>Tell</c> is safe from the download's task.</summary>
    private sealed class Observer(Guid transferId, IActorRef replyTo) : IUploadObserver
    {
        public void OnSessionCreated(string sessionId, long sourceSize, DateTimeOffset sourceLastWrite) =>
            replyTo.Tell(new TransferUploadSessionCreated(transferId, sessionId, sourceSize, sourceLastWrite));
        public void OnReplyProgress(string replyUrl, long? bytesTotal, long bytesTransferred) =>
            replyTo.Tell(new TransferReplyProgressed(transferId, replyUrl, bytesTotal, bytesTransferred));
        public void OnResponse(ResponseInfo response) => replyTo.Tell(new TransferResponded(transferId, response));
        public void OnRestarted(FileRestartReason reason, string detail) => replyTo.Tell(new TransferRestarted(transferId, reason, detail));
        public void OnCheckpoint(long offset) => replyTo.Tell(new TransferCheckpointed(transferId, offset));
        public void OnQuickRetry(int attempt, TimeSpan delay, TransferError error) => replyTo.Tell(new TransferRetrying(transferId, attempt, delay, error));
        public void OnResponseHeaders(string headers) => replyTo.Tell(new TransferResponseHeaders(transferId, headers));
        public void OnFilled(FileRange range) => replyTo.Tell(new TransferFilled(transferId, range));
    }
}
