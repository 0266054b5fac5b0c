using System.Collections.Immutable;
using Qmgr.Jobs;
using Qmgr.Transport;

namespace Qmgr.Groups;

/// <summary>A group's journaled facts: every property change and every job and file transition (DESIGN: Actors).</summary>
public interface IGroupEvent : IQmgrEvent
{
    /// <summary>When the fact happened (UTC); <see cref="GroupState.Apply"/> reads time only from here.</summary>
    DateTimeOffset At { get; }
}

/// <summary>Group properties that <see cref="GroupEvents.GroupPropertyChanged"/> can change (BITS GROUPPROP plus Qmgr's cap).</summary>
public enum GroupProperty
{
    DisplayName,
    Description,
    Priority,
    /// <summary>this group's cap in bytes per second, 0 = none (Decision 4).</summary>
    MaxBytesPerSecond,
    /// <summary>BITS 1.0 GROUPPROP_NOTIFYFLAGS: QM_NOTIFY_* bits as a decimal integer, default 0 (the legacy facade reads it).</summary>
    NotifyFlags,
    /// <summary>BITS 1.0 GROUPPROP_NOTIFYCLSID: the callback class id in registry form <c>{…}</c>, or empty (none).</summary>
    NotifyClsid,
    /// <summary>the user name of the group's server credentials (BITS 1.0 GROUPPROP_REMOTEUSERID; ≤ 300 characters, not secret).</summary>
    RemoteUserId,
}

/// <summary>The group's events, one record per kind of fact.</summary>
public static class GroupEvents
{
    /// <summary>The <see cref="JobStateChanged.Cause"/> of the owner's Resume (which resets the download-time clock, T14).</summary>
    public const string ResumedCause = "resumed";

    /// <summary>The <see cref="JobStateChanged.Cause"/> of Transferred → Error when AutoComplete could not rename a file
    /// into place (the <see cref="JobErrorRecorded"/> before it says which file and why).</summary>
    public const string AutoCompleteFailedCause = "AutoComplete failed";

    /// <summary>The <see cref="JobStateChanged.Cause"/> of Queued → Transferred when a Resume finds every file already
    /// transferred (BITS T15 at once: nothing to queue).</summary>
    public const string AllFilesTransferredCause = "all files already transferred";

    /// <summary>The group exists, owned by <paramref name="Owner"/> (Decision 11).</summary>
    public sealed record GroupCreated(Guid GroupId, string Owner, string DisplayName, JobPriority Priority, long MaxBytesPerSecond, DateTimeOffset At) : IGroupEvent;

    /// <summary>The group was cancelled: its unfinished jobs were cancelled with it (listed by their own events) and the
    /// group is gone for every caller; the journal keeps it.</summary>
    public sealed record GroupCancelled(DateTimeOffset At) : IGroupEvent;

    /// <summary>The group's server credentials (ciphertext of user name and password) were set, or cleared with null;
    /// the group's unfinished and future jobs carry them (their own <see cref="JobCredentialsSet"/> events).</summary>
    public sealed record GroupCredentialsSet(string? Protected, DateTimeOffset At) : IGroupEvent;

    /// <summary>The group's webhook was set (absolute http(s) URL and the ciphertext of its HMAC secret), or cleared with
    /// nulls. Deliveries already due keep going to the URL they were due for.</summary>
    public sealed record GroupWebhookSet(string? Url, string? ProtectedSecret, DateTimeOffset At) : IGroupEvent;

    /// <summary>The outbox: a webhook delivery became due, journaled in the same write as the fact it reports, so it is
    /// sent at least once, after a restart too. <paramref name="Body"/> is the exact JSON that is POSTed and signed.</summary>
    public sealed record WebhookDeliveryDue(Guid DeliveryId, Guid JobId, string Kind, string Url, string Body, DateTimeOffset At) : IGroupEvent;

    /// <summary>A webhook delivery was answered with a 2xx after <paramref name="Attempts"/> attempts; it leaves the outbox.</summary>
    public sealed record WebhookDelivered(Guid DeliveryId, int Attempts, DateTimeOffset At) : IGroupEvent;

    /// <summary>A group property changed; <paramref name="Value"/> is the invariant-culture text of the new value.</summary>
    public sealed record GroupPropertyChanged(GroupProperty Property, string Value, DateTimeOffset At) : IGroupEvent;

    /// <summary>A job was created in state Suspended (BITS T1).</summary>
    /// <remarks><paramref name="Type"/> was added later: events journaled without it replay as <see cref="JobType.Download"/>.</remarks>
    public sealed record JobCreated(Guid JobId, string DisplayName, JobPriority Priority, JobOptions Options, TimeSpan MinimumRetryDelay,
        TimeSpan NoProgressTimeout, TimeSpan MaximumDownloadTime, DateTimeOffset At, JobType Type = JobType.Download) : IGroupEvent;

    /// <summary>A job property changed; <paramref name="Value"/> is its invariant text (see <see cref="JobProperty"/>).</summary>
    public sealed record JobPropertyChanged(Guid JobId, JobProperty Property, string Value, DateTimeOffset At) : IGroupEvent;

    /// <summary>Credentials for (target, scheme) were set or replaced; only their ciphertext is journaled.</summary>
    public sealed record JobCredentialsSet(Guid JobId, AuthTarget Target, AuthScheme Scheme, string Protected, DateTimeOffset At) : IGroupEvent;

    /// <summary>Credentials for (target, scheme) were removed.</summary>
    public sealed record JobCredentialsRemoved(Guid JobId, AuthTarget Target, AuthScheme Scheme, DateTimeOffset At) : IGroupEvent;

    /// <summary>File <paramref name="FileIndex"/>'s remote name changed (BITS <c>SetRemoteName</c> / <c>ReplaceRemotePrefix</c>).
    /// Its bytes and validators stay: the next request resumes with If-Range, so a different file at the new URL restarts it.</summary>
    public sealed record FileRemoteNameChanged(Guid JobId, int FileIndex, string RemoteName, DateTimeOffset At) : IGroupEvent;

    /// <summary>An administrator took ownership of the group (BITS <c>TakeOwnership</c>): the previous owner's job
    /// credentials and custom headers are removed by their own events.</summary>
    public sealed record GroupOwnershipTaken(string Owner, DateTimeOffset At) : IGroupEvent;

    /// <summary>The job's notify command line was set, or cleared with null.</summary>
    public sealed record JobNotifyCmdLineSet(Guid JobId, NotifyCommandLine? CommandLine, DateTimeOffset At) : IGroupEvent;

    /// <summary>The job's proxy settings changed (BITS <c>SetProxySettings</c>).</summary>
    public sealed record JobProxyChanged(Guid JobId, ProxySettings Proxy, DateTimeOffset At) : IGroupEvent;

    /// <summary>Custom headers were set (ciphertext) or cleared (null).</summary>
    public sealed record JobCustomHeadersSet(Guid JobId, string? Protected, DateTimeOffset At) : IGroupEvent;

    /// <summary>The job's client certificate selection was set, or removed with null (BITS
    /// <c>SetClientCertificateByID</c> / <c>ByName</c> / <c>RemoveClientCertificate</c>; TakeOwnership removes it too).
    /// Only the store and the thumbprint or subject are journaled, never a key.</summary>
    public sealed record JobClientCertificateSet(Guid JobId, Transport.ClientCertificate? Certificate, DateTimeOffset At) : IGroupEvent;

    /// <summary>A server answered a request for file <paramref name="FileIndex"/>; <paramref name="Headers"/> is its header
    /// block as received (status line, then <c>Name: value</c> lines, each CRLF-terminated), whatever the status
    /// (IBackgroundCopyFile5 BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS: the last response's headers).</summary>
    public sealed record FileResponseHeadersReceived(Guid JobId, int FileIndex, string Headers, DateTimeOffset At) : IGroupEvent;

    /// <summary>A file to add: absolute URL, absolute local path and the temp file beside it (Decision 14).</summary>
    public sealed record NewFile(string RemoteName, string LocalName, string TempName, string? ExpectedSha256 = null);

    /// <summary>One file appended to a job with the byte ranges to fetch, in the order given (BITS
    /// <c>IBackgroundCopyJob3::AddFileWithRanges</c>); its local file is their concatenation.</summary>
    public sealed record FileWithRangesAdded(Guid JobId, NewFile File, ImmutableList<FileRange> Ranges, DateTimeOffset At) : IGroupEvent;

    /// <summary>The owner asked for byte ranges of file <paramref name="FileIndex"/> of an ON_DEMAND_MODE job to be fetched
    /// first (BITS <c>IBackgroundCopyFile6::RequestFileRanges</c>); overlaps with present or pending bytes are allowed.
    /// A BG_LENGTH_TO_EOF length stays only while the file's size is unknown.</summary>
    public sealed record FileRangesRequested(Guid JobId, int FileIndex, ImmutableList<FileRange> Ranges, DateTimeOffset At) : IGroupEvent;

    /// <summary>The "fill missing bytes from here" cursor of file <paramref name="FileIndex"/> moved to byte
    /// <paramref name="Offset"/> (BITS <c>IBackgroundCopyFile6::UpdateDownloadPosition</c>).</summary>
    public sealed record DownloadPositionUpdated(Guid JobId, int FileIndex, long Offset, DateTimeOffset At) : IGroupEvent;

    /// <summary>The temp file of an on-demand file was flushed holding these byte ranges of the remote file in place
    /// (concrete lengths; added to its filled map, BITS <c>GetFilledFileRanges</c>).</summary>
    public sealed record FileRangesFilled(Guid JobId, int FileIndex, ImmutableList<FileRange> Ranges, DateTimeOffset At) : IGroupEvent;

    /// <summary>Files appended to a job, in order.</summary>
    public sealed record FilesAdded(Guid JobId, ImmutableList<NewFile> Files, DateTimeOffset At) : IGroupEvent;

    /// <summary>A job moved between states; <paramref name="Cause"/> says why in a few words.</summary>
    public sealed record JobStateChanged(Guid JobId, JobState From, JobState To, string Cause, DateTimeOffset At) : IGroupEvent;

    /// <summary>A server answered for a file: its total size in bytes (null = unknown) and its validators.</summary>
    public sealed record FileMetadataReceived(Guid JobId, int FileIndex, long? BytesTotal, Validators Validators, DateTimeOffset At) : IGroupEvent;

    /// <summary>The temp file was flushed holding <paramref name="BytesTransferred"/> good bytes (Decision 8).</summary>
    public sealed record FileProgressCheckpointed(Guid JobId, int FileIndex, long BytesTransferred, DateTimeOffset At) : IGroupEvent;

    /// <summary>A file's bytes were discarded and it restarts from zero (Decision 7), with the reason.</summary>
    public sealed record FileRestarted(Guid JobId, int FileIndex, FileRestartReason Reason, string Detail, DateTimeOffset At) : IGroupEvent;

    /// <summary>Every byte of a file is on disk and fsynced; <paramref name="Size"/> bytes.</summary>
    public sealed record FileTransferred(Guid JobId, int FileIndex, long Size, DateTimeOffset At) : IGroupEvent;

    /// <summary>A job failure: the error record replaces the previous one and ErrorCount grows by one.</summary>
    public sealed record JobErrorRecorded(Guid JobId, JobError Error, DateTimeOffset At) : IGroupEvent;

    /// <summary>The TransientError retry is due at <paramref name="DueAt"/> (journaled so the timer is re-armed after recovery).</summary>
    public sealed record RetryScheduled(Guid JobId, DateTimeOffset DueAt, DateTimeOffset At) : IGroupEvent;

    /// <summary>Complete: the listed files were renamed into place; the job is Acknowledged.</summary>
    public sealed record JobCompleted(Guid JobId, ImmutableList<int> CompletedFiles, DateTimeOffset At) : IGroupEvent;

    /// <summary>
    /// An upload job's server created a BITS Upload Protocol session (Create-Session) for file <paramref name="FileIndex"/>;
    /// the local file had <paramref name="SourceSize"/> bytes and was last written at <paramref name="SourceLastWrite"/>.
    /// A later session replaces an earlier one (the server forgot it; a <see cref="FileRestarted"/> precedes it).
    /// </summary>
    public sealed record UploadSessionCreated(Guid JobId, int FileIndex, string SessionId, long SourceSize, DateTimeOffset SourceLastWrite, DateTimeOffset At) : IGroupEvent;

    /// <summary>The reply file of an upload-reply job was named (BITS <c>SetReplyFileName</c>, or generated at the first Resume),
    /// with its temp file beside it (Decision 14).</summary>
    public sealed record ReplyFileNameSet(Guid JobId, string ReplyFileName, string ReplyTempName, DateTimeOffset At) : IGroupEvent;

    /// <summary>
    /// Reply progress of an upload-reply job (<c>BG_JOB_REPLY_PROGRESS</c>): the reply comes from <paramref name="ReplyUrl"/>
    /// (the server's <c>BITS-Reply-URL</c>), <paramref name="BytesTotal"/> bytes (null = not known yet), of which
    /// <paramref name="BytesTransferred"/> are in the reply temp file.
    /// </summary>
    public sealed record ReplyProgressRecorded(Guid JobId, string ReplyUrl, long? BytesTotal, long BytesTransferred, DateTimeOffset At) : IGroupEvent;

    /// <summary>Cancel: the job is Cancelled; its temp files and uncompleted results were removed.</summary>
    public sealed record JobCancelled(Guid JobId, DateTimeOffset At) : IGroupEvent;
}
