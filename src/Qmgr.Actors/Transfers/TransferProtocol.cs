using Akka.Actor;
using Qmgr.Jobs;
using Qmgr.Transport;

namespace Qmgr.Transfers;

/// <summary>Routes a message to the <see cref="TransferActor"/> entity of a job (one running transfer per job).</summary>
public interface IWithTransferKey
{
    Guid JobId { get; }
}

/// <summary>Messages to and from the sharded transfer pool. Every reply carries the <c>TransferId</c> it belongs to.</summary>
public static class TransferProtocol
{
    /// <summary>
    /// Runs <paramref name="Request"/> once a node slot is free, throttled by the group cap
    /// (<paramref name="GroupMaxBytesPerSecond"/>, bytes/s, 0 = none) and, unless Foreground, the background cap.
    /// Replaces any transfer of the same job still running. Facts go to <paramref name="ReplyTo"/>.
    /// </summary>
    public sealed record StartTransfer(Guid TransferId, Guid GroupId, Guid JobId, int FileIndex, DownloadRequest Request,
        JobPriority Priority, long GroupMaxBytesPerSecond, IActorRef ReplyTo) : IWithTransferKey, IQmgrMessage
    {
        /// <summary>The job's credentials as ciphertext; the transferring node decrypts them (never sent in clear).</summary>
        public System.Collections.Immutable.ImmutableList<ProtectedCredentials> Credentials { get; init; } = [];

        /// <summary>The job's custom headers as ciphertext, or null.</summary>
        public string? ProtectedCustomHeaders { get; init; }
    }

    /// <summary>Stops the transfer <paramref name="TransferId"/> of the job if it is still running; its temp file stays as flushed.</summary>
    public sealed record CancelTransfer(Guid JobId, Guid TransferId) : IWithTransferKey, IQmgrMessage;

    /// <summary>A slot was granted and the request is about to be sent (the job goes Queued → Connecting).</summary>
    public sealed record TransferConnecting(Guid TransferId) : IQmgrMessage;

    /// <summary>The transfer entity received <see cref="StartTransfer"/> (sent at once, before it waits for a slot; from
    /// the entity, which the job actor watches). A job actor that hears nothing sends the same start again: a start lost
    /// on its way to a node that is leaving the cluster is not lost for good.</summary>
    public sealed record TransferAccepted(Guid TransferId) : IQmgrMessage;

    /// <summary>A 200/206 was accepted (Connecting → Transferring).</summary>
    public sealed record TransferResponded(Guid TransferId, ResponseInfo Response) : IQmgrMessage;

    /// <summary>A server answered (any status); <paramref name="Headers"/> is the response's header block (BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS).</summary>
    public sealed record TransferResponseHeaders(Guid TransferId, string Headers) : IQmgrMessage;

    /// <summary>The temp file was flushed holding <paramref name="Offset"/> bytes.</summary>
    public sealed record TransferCheckpointed(Guid TransferId, long Offset) : IQmgrMessage;

    /// <summary>On-demand files: the temp file was flushed holding <paramref name="Range"/> of the remote file in place.</summary>
    public sealed record TransferFilled(Guid TransferId, FileRange Range) : IQmgrMessage;

    /// <summary>The file restarted from zero.</summary>
    public sealed record TransferRestarted(Guid TransferId, FileRestartReason Reason, string Detail) : IQmgrMessage;

    /// <summary>A quick in-transfer retry is waiting (Decision 6); informational.</summary>
    public sealed record TransferRetrying(Guid TransferId, int Attempt, TimeSpan Delay, TransferError Error) : IQmgrMessage;

    /// <summary>
    /// The governor took the slot back (<paramref name="Cause"/>): the transfer stopped, its slot is free and its temp
    /// file holds at least the last checkpoint. The job goes Transferring → Queued (BITS T8) and asks again.
    /// </summary>
    public sealed record TransferPreempted(Guid TransferId, PreemptionCause Cause) : IQmgrMessage;

    /// <summary>An upload's server created session <paramref name="SessionId"/>; the source had <paramref name="SourceSize"/>
    /// bytes, last written at <paramref name="SourceLastWrite"/> (UTC).</summary>
    public sealed record TransferUploadSessionCreated(Guid TransferId, string SessionId, long SourceSize, DateTimeOffset SourceLastWrite) : IQmgrMessage;

    /// <summary>Reply progress of an upload-reply transfer: from <paramref name="ReplyUrl"/> ("" = no reply),
    /// <paramref name="BytesTotal"/> bytes (null = unknown), <paramref name="BytesTransferred"/> in the reply temp file.</summary>
    public sealed record TransferReplyProgressed(Guid TransferId, string ReplyUrl, long? BytesTotal, long BytesTransferred) : IQmgrMessage;

    /// <summary>
    /// A cancelled upload job's session: stop the job's running transfer, if any, then send <c>Cancel-Session</c> for
    /// <c>Request.Upload.SessionId</c> over the job's route, with its credentials and custom headers (BITS T19). Best effort;
    /// no reply.
    /// </summary>
    public sealed record CancelUploadSession(Guid JobId, DownloadRequest Request) : IWithTransferKey, IQmgrMessage
    {
        /// <summary>The job's credentials as ciphertext.</summary>
        public System.Collections.Immutable.ImmutableList<ProtectedCredentials> Credentials { get; init; } = [];

        /// <summary>The job's custom headers as ciphertext, or null.</summary>
        public string? ProtectedCustomHeaders { get; init; }
    }

    /// <summary>The transfer ended with <paramref name="Outcome"/>.</summary>
    public sealed record TransferFinished(Guid TransferId, DownloadOutcome Outcome) : IQmgrMessage;
}
