using Qmgr.Transport;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Api;

/// <summary>
/// The queue manager for one caller (Decision 11): creates, opens and enumerates that caller's groups — every
/// owner's when the caller is an administrator. Every call is asynchronous and cancellable; refusals throw
/// <see cref="QmgrException"/> with the BITS HRESULT. Mirrors <c>IBackgroundCopyQMgr</c> / <c>IBackgroundCopyManager</c>.
/// </summary>
public interface IQueueManager
{
    /// <summary>The caller identity every command carries (the OS user name when embedded or from the CLI).</summary>
    string Caller { get; }

    /// <summary>True when the caller sees and changes every owner's groups.</summary>
    bool IsAdministrator { get; }

    /// <summary>The same queue manager acting for another caller (e.g. the owner a service mapped a token to).</summary>
    IQueueManager ForCaller(string caller, bool isAdministrator = false);

    /// <summary>Creates a group owned by <see cref="Caller"/>. <paramref name="maxBytesPerSecond"/>: bytes/s, 0 = no cap.</summary>
    Task<IGroup> CreateGroupAsync(string displayName, JobPriority priority = JobPriority.Normal, long maxBytesPerSecond = 0, Guid? groupId = null, CancellationToken cancellationToken = default);

    /// <summary>Opens a group; BG_E_NOT_FOUND when it does not exist or belongs to another owner (non-administrators).</summary>
    Task<IGroup> GetGroupAsync(Guid groupId, CancellationToken cancellationToken = default);

    /// <summary>The caller's groups (every group for administrators), in creation order.</summary>
    Task<IReadOnlyList<IGroup>> EnumGroupsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens a job by its id alone, whatever its group (BITS <c>IBackgroundCopyManager::GetJob</c>); final jobs too.
    /// BG_E_NOT_FOUND when no group of the caller's (every group for administrators) holds it.
    /// </summary>
    Task<IJob> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Status and progress of the caller's jobs, as they are persisted (hot: no replay), whichever cluster node runs their
    /// group (<see cref="NotificationRelay"/>); one group's notifications arrive in the order they were persisted.
    /// </summary>
    IObservable<QmgrNotification> Notifications { get; }
}

/// <summary>A group: a persistent container of jobs with properties (BITS 1.0 <c>IBackgroundCopyGroup</c>, jobs per group: many).</summary>
public interface IGroup
{
    Guid Id { get; }

    /// <summary>The group and its jobs as persisted now.</summary>
    Task<GroupState> GetStateAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The cluster node running the group now, as its Akka.NET address (<c>akka.tcp://qmgr@host:port</c>; a single
    /// node answers its own), or null when no node runs it at this moment (not started since the cluster came up, or
    /// passivated: any read or command starts it again). Embedded: the group region's entity-location query, which does
    /// not start the group. Over HTTP: the <c>node</c> of <c>GET /api/v1/groups/{id}</c>, which reads the group first.
    /// </summary>
    Task<string?> GetNodeAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets a property (<see cref="GroupProperty"/>; value as invariant text). A priority applies to unfinished jobs too.</summary>
    Task SetPropertyAsync(GroupProperty property, string value, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets the group's server credentials (Basic), encrypted here; every unfinished and later job of the group gets
    /// them. Both null clears them. Errors: BG_E_USERNAME_TOO_LARGE (&gt; 300), BG_E_PASSWORD_TOO_LARGE (&gt; 65,535),
    /// E_INVALIDARG (only one of the two given).
    /// </summary>
    Task SetCredentialsAsync(string? userName, string? password, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets the group's webhook: every notification its jobs' notify flags select (job transferred, error, modification)
    /// is POSTed as JSON to <paramref name="url"/> (absolute http or https), signed with <c>X-Qmgr-Signature:
    /// sha256=HMAC-SHA256(body, secret)</c>, retried until a 2xx answers, across restarts (the outbox is in the journal).
    /// <paramref name="secret"/> null = a new random one. Returns the secret (stored encrypted, never readable again).
    /// <paramref name="url"/> null clears the webhook. E_INVALIDARG for a bad URL.
    /// </summary>
    Task<string?> SetWebhookAsync(string? url, string? secret = null, CancellationToken cancellationToken = default);

    /// <summary>An administrator makes itself the group's owner (BITS <c>TakeOwnership</c>); the old owner's job
    /// credentials and custom headers are removed. E_ACCESSDENIED for a caller who is not an administrator.</summary>
    Task TakeOwnershipAsync(CancellationToken cancellationToken = default);

    /// <summary>Cancels the group: its unfinished jobs are cancelled (Decision 9, modern semantics), then the group is
    /// gone (BG_E_NOT_FOUND) for every later call. The journal keeps its history.</summary>
    Task CancelAsync(CancellationToken cancellationToken = default);

    /// <summary>Creates a job in Suspended. <paramref name="priority"/> null = the group's priority.</summary>
    Task<IJob> CreateJobAsync(string displayName, JobOptions? options = null, JobPriority? priority = null, Guid? jobId = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates a job of <paramref name="type"/> in Suspended (BITS <c>CreateJob</c> with BG_JOB_TYPE; the type is read-only
    /// afterwards, <see cref="Job.Type"/>). Upload and upload-reply jobs take exactly one file whose local file exists;
    /// E_INVALIDARG for an undefined type.
    /// </summary>
    Task<IJob> CreateJobAsync(string displayName, JobType type, JobOptions? options = null, JobPriority? priority = null, Guid? jobId = null, CancellationToken cancellationToken = default);

    /// <summary>Opens a job of this group; BG_E_NOT_FOUND when unknown.</summary>
    Task<IJob> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>The group's jobs that are not final (BITS: Acknowledged and Cancelled jobs leave enumerations).</summary>
    Task<IReadOnlyList<IJob>> EnumJobsAsync(CancellationToken cancellationToken = default);
}

/// <summary>One job (BITS <c>IBackgroundCopyJob</c>): files, state machine, properties, progress and error record.</summary>
public interface IJob
{
    Guid Id { get; }
    Guid GroupId { get; }

    /// <summary>The owner of the job's group when this handle was opened (BITS <c>IBackgroundCopyJob::GetOwner</c>).</summary>
    string Owner { get; }

    /// <summary>The job as persisted now (state, files with per-file progress, error record, properties, times).</summary>
    Task<Job> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>Adds files (absolute http/https URL → absolute local path). E_INVALIDARG, BG_E_TOO_MANY_FILES_IN_JOB, BG_E_INVALID_STATE.</summary>
    Task AddFilesAsync(IEnumerable<(string RemoteName, string LocalName)> files, CancellationToken cancellationToken = default);

    /// <summary>Adds files given as <see cref="GroupCommands.FileSpec"/> (URL, absolute local path, optional expected
    /// SHA-256 as 64 hex digits checked before the file counts as transferred); errors as the other overload.</summary>
    Task AddFilesAsync(IReadOnlyList<GroupCommands.FileSpec> files, CancellationToken cancellationToken = default);

    /// <summary>Resume (BG_E_EMPTY without files; no-op while active).</summary>
    Task ResumeAsync(CancellationToken cancellationToken = default);

    /// <summary>Suspend (no-op when suspended).</summary>
    Task SuspendAsync(CancellationToken cancellationToken = default);

    /// <summary>Cancel: deletes temp files and results not yet completed (Decision 9).</summary>
    Task CancelAsync(CancellationToken cancellationToken = default);

    /// <summary>Complete: renames transferred files into place. Returns S_OK (0) or BG_S_PARTIAL_COMPLETE (0x00200017).</summary>
    Task<int> CompleteAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets a property (<see cref="JobProperty"/>; value as invariant text, durations in whole seconds).</summary>
    Task SetPropertyAsync(JobProperty property, string value, CancellationToken cancellationToken = default);

    /// <summary>
    /// IBackgroundCopyJob5::SetProperty: sets the property <paramref name="id"/> selects from its field of
    /// <paramref name="value"/> (rules and HRESULTs on <see cref="JobProperty"/>: BG_E_READ_ONLY_PROPERTY_AFTER_RESUME,
    /// _AFTER_ADDFILE, BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE, BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED, BG_E_INVALID_STATE).
    /// E_NOTIMPL for an undefined id (6, 8, ...).
    /// </summary>
    Task SetPropertyAsync(BitsJobPropertyId id, BitsJobPropertyValue value, CancellationToken cancellationToken = default);

    /// <summary>IBackgroundCopyJob5::GetProperty: the value of <paramref name="id"/> as persisted. E_NOTIMPL for an undefined id.</summary>
    Task<BitsJobPropertyValue> GetPropertyAsync(BitsJobPropertyId id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds one file fetched as byte ranges (BITS <c>IBackgroundCopyJob3::AddFileWithRanges</c>): the local file is the
    /// concatenation of <paramref name="ranges"/> in the order given; <see cref="JobFile.Ranges"/> returns them
    /// (IBackgroundCopyFile2::GetFileRanges). Errors: E_INVALIDARG (no ranges, bad names), BG_E_INVALID_RANGE,
    /// BG_E_OVERLAPPING_RANGES, BG_E_TOO_MANY_RANGES_IN_FILE (over <c>qmgr.limits.max-ranges-per-file</c>; administrators
    /// exempt), BG_E_INVALID_STATE (a DYNAMIC_CONTENT job). At run time the job enters Error with BG_E_INVALID_RANGE (a
    /// range outside the remote file), BG_E_INSUFFICIENT_RANGE_SUPPORT (the server ignores Range) or
    /// BG_E_INVALID_SERVER_RESPONSE (a Content-Range that is not the one asked for).
    /// </summary>
    Task AddFileWithRangesAsync(string remoteName, string localName, IReadOnlyList<FileRange> ranges, CancellationToken cancellationToken = default);

    /// <summary>
    /// Asks for byte ranges of file <paramref name="fileIndex"/> (zero-based, in the order added) of an ON_DEMAND_MODE job
    /// to be fetched before anything else (BITS <c>IBackgroundCopyFile6::RequestFileRanges</c>). Offsets and lengths in
    /// bytes of the remote file; a length may be <see cref="FileRange.LengthToEof"/>; overlaps with bytes present or
    /// requested earlier are allowed (only missing bytes are fetched). The job's state does not change: Resume fetches
    /// them, and once every requested range is present the job goes Suspended, or Transferred when the file is complete
    /// (T25); each range is reported once present (<see cref="QmgrNotification.FileRangesTransferred"/>,
    /// <see cref="IJobCallback.FileRangesTransferredAsync"/> under BG_NOTIFY_FILE_RANGES_TRANSFERRED). Errors:
    /// BG_E_RANDOM_ACCESS_NOT_SUPPORTED (not an on-demand job), E_INVALIDARG (no ranges, no such file), BG_E_INVALID_RANGE
    /// (offset BG_LENGTH_TO_EOF, length 0, or outside the file when its size is known; when it is not yet known, the job
    /// enters Error with BG_E_INVALID_RANGE at the first answer), BG_E_INVALID_STATE (final job).
    /// </summary>
    Task RequestFileRangesAsync(int fileIndex, IReadOnlyList<FileRange> ranges, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves the cursor from which the missing bytes of on-demand file <paramref name="fileIndex"/> are filled when no
    /// requested range is pending: from <paramref name="offset"/> (bytes) to the end, then from the start (BITS
    /// <c>IBackgroundCopyFile6::UpdateDownloadPosition</c>); a running transfer switches at once. Errors:
    /// BG_E_RANDOM_ACCESS_NOT_SUPPORTED (not an on-demand job), E_INVALIDARG (no such file), BG_E_INVALID_RANGE (negative,
    /// or at or past the end of a file of known size), BG_E_INVALID_STATE (final job).
    /// </summary>
    Task UpdateDownloadPositionAsync(int fileIndex, long offset, CancellationToken cancellationToken = default);

    /// <summary>
    /// The byte ranges of the remote file present in on-demand file <paramref name="fileIndex"/>'s temp file, as
    /// journaled (sorted, merged; BITS <c>IBackgroundCopyFile6::GetFilledFileRanges</c>); empty before any byte.
    /// Errors: BG_E_RANDOM_ACCESS_NOT_SUPPORTED (not an on-demand job), E_INVALIDARG (no such file).
    /// </summary>
    Task<IReadOnlyList<FileRange>> GetFilledFileRangesAsync(int fileIndex, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets the credentials for (target, scheme) (BITS <c>IBackgroundCopyJob2::SetCredentials</c>). They are encrypted
    /// here, before any message or journal sees them, and are never readable again. The transferring node answers a
    /// server's (401) or proxy's (407) challenge of that scheme with them, and only that: Basic (RFC 7617), Digest
    /// (RFC 7616), NTLM (<c>DOMAIN\user</c>) and Negotiate (RFC 4559); Passport is stored but never sent. A rejected
    /// answer puts the job in Error with BG_E_HTTP_ERROR_401 / _407. Errors: BG_E_USERNAME_TOO_LARGE
    /// (&gt; 300), BG_E_PASSWORD_TOO_LARGE (&gt; 65,535), E_INVALIDARG (Basic/Digest without user or password),
    /// BG_E_INVALID_AUTH_TARGET / _SCHEME, BG_E_INVALID_STATE.
    /// </summary>
    Task SetCredentialsAsync(AuthTarget target, AuthScheme scheme, string userName, string password, CancellationToken cancellationToken = default);

    /// <summary>Removes the credentials for (target, scheme) (<c>RemoveCredentials</c>).</summary>
    Task RemoveCredentialsAsync(AuthTarget target, AuthScheme scheme, CancellationToken cancellationToken = default);

    /// <summary>Changes the URL of file <paramref name="fileIndex"/> (BITS <c>SetRemoteName</c>), until it is transferred.</summary>
    Task SetRemoteNameAsync(int fileIndex, string remoteName, CancellationToken cancellationToken = default);

    /// <summary>Replaces a URL prefix in the files not yet transferred (BITS <c>ReplaceRemotePrefix</c>); returns false
    /// (BITS: S_FALSE) when no URL matched.</summary>
    Task<bool> ReplaceRemotePrefixAsync(string oldPrefix, string newPrefix, CancellationToken cancellationToken = default);

    /// <summary>Sets (null clears) the program run when the job is transferred or enters Error, as its notify flags
    /// select (BITS <c>SetNotifyCmdLine</c>; <c>qmgr.job.allow-notify-cmdline</c>).</summary>
    Task SetNotifyCmdLineAsync(NotifyCommandLine? commandLine, CancellationToken cancellationToken = default);

    /// <summary>Sets the job's proxy settings (BITS <c>SetProxySettings</c>); E_INVALIDARG as <see cref="Groups.GroupCommands.SetJobProxy"/> says.</summary>
    Task SetProxySettingsAsync(ProxySettings proxy, CancellationToken cancellationToken = default);

    /// <summary>Sets custom header lines sent with every request (CRLF-separated, ≤ 16,384 characters; null clears),
    /// stored encrypted (<c>IBackgroundCopyJobHttpOptions::SetCustomHeaders</c>). BG_E_STRING_TOO_LONG beyond.</summary>
    Task SetCustomHeadersAsync(string? headers, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets the TLS client certificate by its SHA-1 hash (20 bytes) in store <paramref name="storeName"/> (e.g. "MY")
    /// at <paramref name="location"/> (BITS <c>IBackgroundCopyJobHttpOptions::SetClientCertificateByID</c>). The
    /// certificate must be there, with its private key, for this process: .NET's <c>X509Store</c> (on Linux
    /// CurrentUser stores are directories under ~/.dotnet/corefx/cryptography/x509stores; LocalMachine holds only
    /// read-only Root and CA certificates). Only the selection is stored; TakeOwnership removes it. Errors: E_NOTIMPL
    /// (a location other than CurrentUser / LocalMachine), HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) (no such store),
    /// CRYPT_E_NOT_FOUND 0x80092004 (no such certificate with a private key), E_INVALIDARG (hash not 20 bytes),
    /// BG_E_STRING_TOO_LONG (store name over 255 characters), BG_E_INVALID_STATE.
    /// </summary>
    Task SetClientCertificateByIdAsync(Transport.CertStoreLocation location, string storeName, byte[] certificateHash, CancellationToken cancellationToken = default);

    /// <summary>Sets the TLS client certificate by subject name (a substring of the subject, the first match with a
    /// private key) (BITS <c>SetClientCertificateByName</c>); store and errors as <see cref="SetClientCertificateByIdAsync"/>.</summary>
    Task SetClientCertificateByNameAsync(Transport.CertStoreLocation location, string storeName, string subjectName, CancellationToken cancellationToken = default);

    /// <summary>Removes the client certificate (BITS <c>RemoveClientCertificate</c>); false (BITS: S_FALSE) when none was set.</summary>
    Task<bool> RemoveClientCertificateAsync(CancellationToken cancellationToken = default);

    /// <summary>The client certificate selection (store, SHA-1 thumbprint or subject), or null when none is set
    /// (BITS <c>GetClientCertificate</c>).</summary>
    Task<Transport.ClientCertificate?> GetClientCertificateAsync(CancellationToken cancellationToken = default);

    /// <summary>Registers <paramref name="callback"/> (null clears it), honouring the job's notify flags. A job already
    /// Transferred or in Error is reported at once, so those notifications are not lost while no callback was set.</summary>
    Task SetNotifyInterfaceAsync(IJobCallback? callback, CancellationToken cancellationToken = default);

    /// <summary>
    /// Names the reply file of an upload-reply job (BITS <c>IBackgroundCopyJob2::SetReplyFileName</c>): an absolute path in
    /// the allowed roots; unset before the first Resume, one is generated beside the upload file. E_NOTIMPL for other job
    /// types, BG_E_INVALID_STATE once the reply download started, E_INVALIDARG / E_ACCESSDENIED for a bad path.
    /// </summary>
    Task SetReplyFileNameAsync(string replyFileName, CancellationToken cancellationToken = default);

    /// <summary>The reply file name of an upload-reply job, null while none is set (<c>GetReplyFileName</c>); E_NOTIMPL for other types.</summary>
    Task<string?> GetReplyFileNameAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The reply's progress in bytes (<c>GetReplyProgress</c>, BG_JOB_REPLY_PROGRESS): BytesTotal is null (BG_SIZE_UNKNOWN)
    /// until the reply download starts, which tells an error in the upload part from one in the reply. E_NOTIMPL for other types.
    /// </summary>
    Task<ReplyProgress> GetReplyProgressAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The whole reply of a Transferred (or, after Complete, Acknowledged) upload-reply job, at most 1 MiB
    /// (<c>GetReplyData</c>). Read from the reply file on this host. BG_E_TOO_LARGE when the reply is larger (its size is
    /// in the message and in <see cref="GetReplyProgressAsync"/>), BG_E_INVALID_STATE in other states, E_NOTIMPL for other types.
    /// </summary>
    Task<byte[]> GetReplyDataAsync(CancellationToken cancellationToken = default);

    /// <summary>The callback registered with <see cref="SetNotifyInterfaceAsync"/> on this queue manager's node, or null
    /// (BITS <c>GetNotifyInterface</c>; callbacks are node-local and not persisted).</summary>
    IJobCallback? GetNotifyInterface();

    /// <summary>
    /// Sets the request method of the job's transfers (BITS <c>IBackgroundCopyJobHttpOptions2::SetHttpMethod</c>), an RFC
    /// 9110 method token sent as given (case-sensitive). <c>GET</c>, the default, does nothing. Another method, before the
    /// first Resume only: the priority becomes Foreground and stays there (SetPriority and a group priority leave it), and the
    /// job cannot resume: any error, even one that would be transient, puts it in Error, and Resume fetches the file again
    /// from byte 0. A <c>HEAD</c> response has no content, so its file is empty. Errors: BG_E_READ_ONLY_PROPERTY_AFTER_RESUME,
    /// BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD (a DYNAMIC_CONTENT job; DYNAMIC_CONTENT and other priorities are refused
    /// afterwards with the same code), E_INVALIDARG (not a token), BG_E_INVALID_STATE.
    /// </summary>
    Task SetHttpMethodAsync(string method, CancellationToken cancellationToken = default);

    /// <summary>The job's request method (BITS <c>GetHttpMethod</c>): <c>GET</c> unless <see cref="SetHttpMethodAsync"/> set another.</summary>
    Task<string> GetHttpMethodAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Registers <paramref name="callback"/> (null removes it) to validate the server certificate of every TLS connection of
    /// the job's transfers, after the checks under its security flags passed (BITS
    /// <c>IBackgroundCopyJobHttpOptions3::SetServerCertificateValidationInterface</c>). The callback lives on this node only
    /// and is not persisted; the job records that it needs one, so a transfer on a node where none is registered (after a
    /// restart, say) enters TransientError with BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED (0x80200074) until it is set
    /// again. A refusal puts the job in TransientError with the callback's HRESULT and context ServerCertificateCallback.
    /// Errors: BG_E_READ_ONLY_WHEN_JOB_ACTIVE (Queued, Connecting, Transferring, TransientError: suspend first), BG_E_INVALID_STATE.
    /// </summary>
    Task SetServerCertificateValidationInterfaceAsync(IServerCertificateValidationCallback? callback, CancellationToken cancellationToken = default);

    /// <summary>Makes the job's custom headers write-only, for good (BITS <c>IBackgroundCopyJobHttpOptions3::MakeCustomHeadersWriteOnly</c>):
    /// they are still sent, and may still be replaced, but <see cref="GetCustomHeadersAsync"/> answers E_ACCESSDENIED. Journaled.</summary>
    Task MakeCustomHeadersWriteOnlyAsync(CancellationToken cancellationToken = default);

    /// <summary>The custom header lines set with <see cref="SetCustomHeadersAsync"/>, decrypted here, or null when none are
    /// set (BITS <c>GetCustomHeaders</c>: S_FALSE). E_ACCESSDENIED once <see cref="MakeCustomHeadersWriteOnlyAsync"/> was called.</summary>
    Task<string?> GetCustomHeadersAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// BITS <c>IBackgroundCopyFile5::GetProperty</c> of file <paramref name="fileIndex"/>: for
    /// <see cref="BitsFilePropertyId.HttpResponseHeaders"/> the header block of the server's last response for that file
    /// (status line, then <c>Name: value</c> lines, CRLF-terminated; journaled, so it survives a restart), or null before
    /// any response. Errors: BG_E_UNKNOWN_PROPERTY_ID (an undefined id), E_INVALIDARG (no such file).
    /// </summary>
    Task<string?> GetFilePropertyAsync(int fileIndex, BitsFilePropertyId id, CancellationToken cancellationToken = default);

    /// <summary>BITS <c>IBackgroundCopyFile5::SetProperty</c>: HTTP_RESPONSE_HEADERS is read-only (BG_E_READ_ONLY_PROPERTY);
    /// BG_E_UNKNOWN_PROPERTY_ID for an undefined id, E_INVALIDARG for no such file.</summary>
    Task SetFilePropertyAsync(int fileIndex, BitsFilePropertyId id, string? value, CancellationToken cancellationToken = default);

    /// <summary>The job's error (BITS <c>IBackgroundCopyJob::GetError</c> → <c>IBackgroundCopyError</c>);
    /// BG_E_ERROR_INFORMATION_UNAVAILABLE when it has none.</summary>
    Task<BackgroundCopyError> GetErrorAsync(CancellationToken cancellationToken = default);

    /// <summary>Waits until the persisted job satisfies <paramref name="condition"/>: checked now, then again on every
    /// notification of the job (pushed, not polled). BG_E_NOT_FOUND when the job is gone.</summary>
    Task<Job> WaitAsync(Func<Job, bool> condition, CancellationToken cancellationToken = default);
}

/// <summary>BITS <c>BG_JOB_REPLY_PROGRESS</c> in bytes; <see cref="BytesTotal"/> null = BG_SIZE_UNKNOWN (the reply has not started).</summary>
public sealed record ReplyProgress(long? BytesTotal, long BytesTransferred)
{
    /// <summary>The reply progress of an upload-reply <paramref name="job"/>; E_NOTIMPL (QmgrException) for other job
    /// types, as BITS's reply members answer (both <see cref="IQueueManager"/> implementations use this one rule).</summary>
    public static ReplyProgress Of(Job job)
    {
        var reply = RequireUploadReply(job).Reply ?? JobReply.None;
        return new ReplyProgress(reply.BytesTotal, reply.BytesTransferred);
    }

    /// <summary><paramref name="job"/> when it is an upload-reply job, else E_NOTIMPL.</summary>
    public static Job RequireUploadReply(Job job) => job.Type == JobType.UploadReply ? job
        : throw new QmgrException(HResults.E_NOTIMPL, $"job {job.Id:D} is a {job.Type} job; only upload-reply jobs have a reply");
}

/// <summary>
/// A job's callback (BITS <c>IBackgroundCopyCallback</c>/<c>2</c>): called from a background thread after the change
/// is persisted, only for the kinds the job's <see cref="Job.NotifyFlags"/> select (BG_NOTIFY_DISABLE silences all).
/// </summary>
public interface IJobCallback
{
    /// <summary>All files transferred (BG_NOTIFY_JOB_TRANSFERRED).</summary>
    Task JobTransferredAsync(IJob job, Job state);

    /// <summary>The job entered Error (BG_NOTIFY_JOB_ERROR); <paramref name="error"/> is its error record.</summary>
    Task JobErrorAsync(IJob job, Job state, JobError error);

    /// <summary>A state, property or progress change (BG_NOTIFY_JOB_MODIFICATION).</summary>
    Task JobModificationAsync(IJob job, Job state);

    /// <summary>One file finished (BG_NOTIFY_FILE_TRANSFERRED).</summary>
    Task FileTransferredAsync(IJob job, Job state, int fileIndex);

    /// <summary>Requested ranges of on-demand file <paramref name="fileIndex"/> are present (BITS
    /// <c>IBackgroundCopyCallback3::FileRangesTransferred</c>, BG_NOTIFY_FILE_RANGES_TRANSFERRED 0x20); byte offsets and
    /// lengths as requested. Does nothing unless implemented.</summary>
    Task FileRangesTransferredAsync(IJob job, Job state, int fileIndex, IReadOnlyList<FileRange> ranges) => Task.CompletedTask;
}
