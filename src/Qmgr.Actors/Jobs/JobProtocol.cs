using Qmgr.Transport;

namespace Qmgr.Jobs;

/// <summary>
/// Between a <see cref="Groups.GroupActor"/> and its <see cref="JobActor"/> children (always the same node).
/// The parent tells the child the job as persisted; the child reports facts, which the parent journals.
/// </summary>
public static class JobProtocol
{
    /// <summary>The job as now persisted, and the group's cap in bytes/s (0 = none).</summary>
    public sealed record JobChanged(Job Job, long GroupMaxBytesPerSecond);

    /// <summary>A marker for the facts a JobActor reports.</summary>
    public interface IJobFact
    {
        Guid JobId { get; }
    }

    /// <summary>A transfer slot was granted (Queued → Connecting).</summary>
    public sealed record TransferConnected(Guid JobId) : IJobFact;

    /// <summary>A server answered with a body for file <paramref name="FileIndex"/>.</summary>
    public sealed record ResponseAccepted(Guid JobId, int FileIndex, ResponseInfo Response) : IJobFact;

    /// <summary>A server answered a request for file <paramref name="FileIndex"/> with the header block <paramref name="Headers"/>.</summary>
    public sealed record ResponseHeadersReceived(Guid JobId, int FileIndex, string Headers) : IJobFact;

    /// <summary>File <paramref name="FileIndex"/>'s temp file was flushed holding <paramref name="Offset"/> bytes.</summary>
    public sealed record Checkpointed(Guid JobId, int FileIndex, long Offset) : IJobFact;

    /// <summary>On-demand file <paramref name="FileIndex"/>'s temp file was flushed holding <paramref name="Ranges"/> in place.</summary>
    public sealed record RangesFilled(Guid JobId, int FileIndex, System.Collections.Immutable.ImmutableList<FileRange> Ranges) : IJobFact;

    /// <summary>An on-demand transfer of file <paramref name="FileIndex"/> stopped because every range it was asked for is present (T25).</summary>
    public sealed record RequestedRangesFilled(Guid JobId, int FileIndex) : IJobFact;

    /// <summary>File <paramref name="FileIndex"/> restarted from zero.</summary>
    public sealed record Restarted(Guid JobId, int FileIndex, FileRestartReason Reason, string Detail) : IJobFact;

    /// <summary>File <paramref name="FileIndex"/> is complete on disk: <paramref name="Size"/> bytes.</summary>
    public sealed record FileDone(Guid JobId, int FileIndex, long Size, Validators Validators) : IJobFact;

    /// <summary>The transfer of file <paramref name="FileIndex"/> failed after the quick retries.</summary>
    public sealed record FileFailed(Guid JobId, int FileIndex, TransferError Error, long BytesOnDisk) : IJobFact;

    /// <summary>The job's Connecting + Transferring time reached its MaximumDownloadTime (T23).</summary>
    public sealed record MaximumDownloadTimeElapsed(Guid JobId) : IJobFact;

    /// <summary>The job saw no progress and no change since <paramref name="LastActivity"/> for <c>qmgr.job.inactivity-timeout</c> (T22).</summary>
    public sealed record InactivityTimeoutElapsed(Guid JobId, DateTimeOffset? LastActivity) : IJobFact;

    /// <summary>
    /// The transfer of file <paramref name="FileIndex"/> gave its slot back to the scheduler (BITS T8: a higher priority
    /// preempted it, or its time slice ended while same-priority jobs wait); <paramref name="Cause"/> is journaled.
    /// </summary>
    public sealed record Preempted(Guid JobId, int FileIndex, string Cause) : IJobFact;

    /// <summary>The upload server created session <paramref name="SessionId"/> for file <paramref name="FileIndex"/>; the
    /// source had <paramref name="SourceSize"/> bytes, last written at <paramref name="SourceLastWrite"/>.</summary>
    public sealed record UploadSessionOpened(Guid JobId, int FileIndex, string SessionId, long SourceSize, DateTimeOffset SourceLastWrite) : IJobFact;

    /// <summary>The reply of an upload-reply job: from <paramref name="ReplyUrl"/>, <paramref name="BytesTotal"/> bytes
    /// (null = unknown), <paramref name="BytesTransferred"/> in the reply temp file.</summary>
    public sealed record ReplyProgressed(Guid JobId, string ReplyUrl, long? BytesTotal, long BytesTransferred) : IJobFact;

    /// <summary>The TransientError retry time has come (minimum retry delay or Retry-After elapsed).</summary>
    public sealed record RetryDue(Guid JobId) : IJobFact;
}
