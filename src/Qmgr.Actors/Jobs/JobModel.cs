using System.Collections.Immutable;
using System.Text.Json.Serialization;
using Qmgr.Transport;

namespace Qmgr.Jobs;

/// <summary>A job's state, with BITS's <c>BG_JOB_STATE</c> names, order and values.</summary>
public enum JobState
{
    Queued = 0,
    Connecting = 1,
    Transferring = 2,
    Suspended = 3,
    Error = 4,
    TransientError = 5,
    Transferred = 6,
    Acknowledged = 7,
    Cancelled = 8,
}

/// <summary>A job's priority, with BITS's <c>BG_JOB_PRIORITY</c> values; Foreground skips the background cap (Decision 4).</summary>
public enum JobPriority
{
    Foreground = 0,
    High = 1,
    Normal = 2,
    Low = 3,
}

/// <summary>A job's type, with BITS's <c>BG_JOB_TYPE</c> names and values; given at creation and read-only (<c>GetType</c>).</summary>
public enum JobType
{
    /// <summary>files are downloaded from their URLs (the default).</summary>
    Download = 0,
    /// <summary>one local file is uploaded to its URL with the BITS Upload Protocol.</summary>
    Upload = 1,
    /// <summary>one local file is uploaded, then the server application's reply is downloaded into the reply file.</summary>
    UploadReply = 2,
}

/// <summary>
/// The BITS Upload Protocol session of an upload job, as the server created it (Create-Session): its id, and the size
/// (bytes) and last write time (UTC) of the local file when the session began. A source that no longer matches them
/// fails the job with BG_E_LOCAL_FILE_CHANGED. The acknowledged offset is the file's <see cref="JobFile.BytesTransferred"/>.
/// </summary>
public sealed record UploadSession(string SessionId, long SourceSize, DateTimeOffset SourceLastWrite);

/// <summary>
/// The reply part of an upload-reply job (BITS <c>IBackgroundCopyJob2</c> reply members): the reply file
/// (<see cref="FileName"/>, written to <see cref="TempName"/> until Complete), the URL the server named in
/// <c>BITS-Reply-URL</c> (null until the reply starts), and <c>BG_JOB_REPLY_PROGRESS</c> in bytes
/// (<see cref="BytesTotal"/> null = BG_SIZE_UNKNOWN until the reply download starts).
/// </summary>
public sealed record JobReply(string? FileName, string? TempName, string? Url, long? BytesTotal, long BytesTransferred)
{
    public static readonly JobReply None = new(null, null, null, null, 0);

    /// <summary>True once the reply download started: the reply file name can no longer change.</summary>
    [JsonIgnore]
    public bool Started => Url is not null;

    /// <summary>True once every reply byte is in the temp file.</summary>
    [JsonIgnore]
    public bool Done => BytesTotal is long total && BytesTransferred == total;
}

/// <summary>State classes of the BITS life cycle (bits-spec §2.5).</summary>
public static class JobStates
{
    /// <summary>Acknowledged and Cancelled: immutable; every change is BG_E_INVALID_STATE.</summary>
    public static bool IsFinal(this JobState s) => s is JobState.Acknowledged or JobState.Cancelled;

    /// <summary>Queued, Connecting, Transferring, TransientError: the scheduler owns the job.</summary>
    public static bool IsActive(this JobState s) => s is JobState.Queued or JobState.Connecting or JobState.Transferring or JobState.TransientError;
}

/// <summary>
/// One file of a job: <see cref="RemoteName"/> (absolute URL) → <see cref="LocalName"/> (absolute path), written to
/// <see cref="TempName"/> until Complete. Sizes in bytes; <see cref="BytesTotal"/> is null until a server tells it
/// (BITS reports BG_SIZE_UNKNOWN). Mirrors <c>BG_FILE_INFO</c> + <c>BG_FILE_PROGRESS</c>. <see cref="ResponseHeaders"/> is the
/// header block of the server's last response for the file, or null (BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS).
/// </summary>
public sealed record JobFile(
    string RemoteName,
    string LocalName,
    string TempName,
    long? BytesTotal,
    long BytesTransferred,
    bool Transferred,
    bool Completed,
    Validators Validators,
    string? ExpectedSha256 = null,
    ImmutableList<FileRange>? Ranges = null,
    string? ResponseHeaders = null,
    OnDemandFile? OnDemand = null)
{
    /// <summary>The file's on-demand (random access) state; empty until ranges are requested or filled.</summary>
    [JsonIgnore]
    public OnDemandFile RandomAccess => OnDemand ?? OnDemandFile.Empty;
}

/// <summary>
/// The random-access state of one file of an ON_DEMAND_MODE job (BITS <c>IBackgroundCopyFile6</c>), folded from the
/// journal. The temp file has the remote file's full size (sparse, positioned writes); <see cref="Filled"/> says which
/// of its bytes are real.
/// </summary>
/// <param name="Filled">byte ranges of the remote file present in the temp file (<see cref="FileRangeSet"/>: sorted,
/// merged, concrete lengths) — <c>GetFilledFileRanges</c>.</param>
/// <param name="Requested">ranges asked for with <c>RequestFileRanges</c> and not yet wholly present, in the order asked
/// (BG_LENGTH_TO_EOF kept until the size is known); fetched before anything else.</param>
/// <param name="Position">the <c>UpdateDownloadPosition</c> cursor: missing bytes are filled from this offset on, then
/// from the start.</param>
/// <param name="Plan">counts the owner's requests and position moves; a running transfer started under an older count
/// is restarted so new requests go first (not journaled itself: derived from the events).</param>
public sealed record OnDemandFile(ImmutableList<FileRange> Filled, ImmutableList<FileRange> Requested, long Position, int Plan)
{
    public static readonly OnDemandFile Empty = new([], [], 0, 0);
}

/// <summary>
/// The <c>IBackgroundCopyJob5</c> properties of a job (bits-spec §2.9, BITS_JOB_PROPERTY_ID). Defaults are BITS's, except
/// <see cref="MinimumNotificationIntervalMs"/> (0 here: notifications are not throttled unless asked, so jobs that do not
/// use it notify as before; BITS's default is 500 ms).
/// </summary>
/// <param name="CostFlags">BITS_JOB_TRANSFER_POLICY / BITS_COST_STATE bits (default ALWAYS 0x800000FF); stored only: Linux has no network-cost API.</param>
/// <param name="NotificationClsid">callback COM class, <see cref="Guid.Empty"/> = none; stored only: there is no COM on Linux.</param>
/// <param name="DynamicContent">no resume with Range: any interruption restarts the file from byte 0; not with ranges.</param>
/// <param name="HighPerformance">files are written straight into their local names (no temp file) and progress is not journaled.</param>
/// <param name="MaxDownloadSize">cap in bytes on the job's downloaded bytes, null = unlimited (BITS: UINT64 max).</param>
/// <param name="UseStoredCredentials">BG_AUTH_TARGET for which the owner's stored credentials may be used (only Proxy), null = off; stored only.</param>
/// <param name="MinimumNotificationIntervalMs">least milliseconds between two JobModification (progress / property) notifications, 0 = no throttling.</param>
/// <param name="OnDemandMode">random access (IBackgroundCopyFile6): files download into full-size sparse temp files,
/// requested ranges first, then the missing bytes from the download position; see <see cref="OnDemandFile"/>.</param>
public sealed record Job5Properties(
    uint CostFlags = Job5Properties.TransferPolicyAlways,
    Guid NotificationClsid = default,
    bool DynamicContent = false,
    bool HighPerformance = false,
    long? MaxDownloadSize = null,
    AuthTarget? UseStoredCredentials = null,
    uint MinimumNotificationIntervalMs = 0,
    bool OnDemandMode = false)
{
    /// <summary>BITS_JOB_TRANSFER_POLICY_ALWAYS.</summary>
    public const uint TransferPolicyAlways = 0x800000FF;

    public static readonly Job5Properties Default = new();
}

/// <summary>
/// The error record of a job in Error or TransientError (BITS <c>IBackgroundCopyError</c>): context, HRESULT, the HTTP
/// status when a server answered, a one-line message and the index of the failing file (null when not file-related).
/// Kept until the job next enters Transferring.
/// </summary>
public sealed record JobError(ErrorContext Context, int HResult, int? HttpStatus, string Message, int? FileIndex);

/// <summary>Options fixed when a job is created (Qmgr extensions to BITS, persisted with the job).</summary>
/// <param name="AutoComplete">the job completes itself once transferred (renames its files), even after recovery in another process.</param>
/// <param name="Overwrite">Complete may replace an existing local file; otherwise Complete fails with E_FILE_EXISTS and the job stays Transferred.</param>
/// <param name="StrictRangeSupport">a 200 to a resume is BG_E_INSUFFICIENT_RANGE_SUPPORT instead of a restart (Decision 7).</param>
public sealed record JobOptions(bool AutoComplete = false, bool Overwrite = false, bool StrictRangeSupport = false)
{
    public static readonly JobOptions Default = new();
}

/// <summary>Job properties settable with <c>SetJobProperty</c> (BITS <c>IBackgroundCopyJob</c> Set* members, bits-spec §2.9).</summary>
public enum JobProperty
{
    /// <summary>string ≤ 256 characters (SetDisplayName).</summary>
    DisplayName,
    /// <summary>string ≤ 1,024 characters (SetDescription).</summary>
    Description,
    /// <summary><see cref="JobPriority"/> name (SetPriority).</summary>
    Priority,
    /// <summary>BG_NOTIFY_* bits as a decimal integer (SetNotifyFlags; default 3).</summary>
    NotifyFlags,
    /// <summary>whole seconds, raised to the 5 s floor (SetMinimumRetryDelay; default 600).</summary>
    MinimumRetryDelay,
    /// <summary>whole seconds, 0 = every transient error is fatal (SetNoProgressTimeout; default 1,209,600).</summary>
    NoProgressTimeout,
    /// <summary>whole seconds of Connecting + Transferring, 0 = no limit (IBackgroundCopyJob4::SetMaximumDownloadTime; default 7,776,000).</summary>
    MaximumDownloadTime,
    /// <summary>BG_HTTP_REDIRECT_POLICY_* as a decimal integer: 0 ALLOW_SILENT (default), 0x100 ALLOW_REPORT (the file's
    /// remote name becomes the final URL), 0x200 DISALLOW (a redirect fails the job) (IBackgroundCopyJobHttpOptions::SetSecurityFlags).
    /// Plus BG_SSL_IGNORE_* bits: 0x2 name mismatch, 0x4 date invalid, 0x8 unknown CA, 0x10 wrong usage;
    /// 0x1 BG_SSL_ENABLE_CRL_CHECK (online revocation check of the server's chain; off: no revocation check);
    /// 0x800 BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP (without it an https to http redirect fails the job with
    /// ERROR_WINHTTP_REDIRECT_FAILED 0x80072F7C). Other bits: E_NOTIMPL.</summary>
    SecurityFlags,
    /// <summary>IBackgroundCopyJob5 BITS_JOB_PROPERTY_ID_COST_FLAGS (Dword): BITS_JOB_TRANSFER_POLICY / cost bits as a decimal integer; any time.</summary>
    CostFlags,
    /// <summary>BITS_JOB_PROPERTY_NOTIFICATION_CLSID (ClsID): a GUID, or empty / the zero GUID to clear; any time.</summary>
    NotificationClsid,
    /// <summary>BITS_JOB_PROPERTY_DYNAMIC_CONTENT (Enable): <c>true</c> / <c>false</c>; before the first Resume
    /// (BG_E_READ_ONLY_PROPERTY_AFTER_RESUME); not with ranged files (BG_E_INVALID_STATE).</summary>
    DynamicContent,
    /// <summary>BITS_JOB_PROPERTY_HIGH_PERFORMANCE (Enable): <c>true</c> / <c>false</c>; before the first AddFile (BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE).</summary>
    HighPerformance,
    /// <summary>BITS_JOB_PROPERTY_MAX_DOWNLOAD_SIZE (Uint64): bytes as a decimal integer, 18446744073709551615 = unlimited;
    /// 0 is BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE; before the first Resume (BG_E_READ_ONLY_PROPERTY_AFTER_RESUME).</summary>
    MaxDownloadSize,
    /// <summary>BITS_JOB_PROPERTY_USE_STORED_CREDENTIALS (Target): <c>0</c> (off) or <c>2</c> (BG_AUTH_TARGET_PROXY);
    /// <c>1</c> (server) is BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED, as in BITS.</summary>
    UseStoredCredentials,
    /// <summary>BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS (Dword): milliseconds as a decimal integer, 0 = no throttling.</summary>
    MinimumNotificationInterval,
    /// <summary>BITS_JOB_PROPERTY_ON_DEMAND_MODE (Enable): <c>true</c> / <c>false</c>; before the first Resume
    /// (BG_E_READ_ONLY_PROPERTY_AFTER_RESUME); not with DYNAMIC_CONTENT nor with ranged files (AddFileWithRanges), either
    /// order (BG_E_INVALID_STATE). Enables RequestFileRanges / UpdateDownloadPosition / GetFilledFileRanges.</summary>
    OnDemandMode,
    /// <summary>IBackgroundCopyJobHttpOptions2::SetHttpMethod: an HTTP method token (RFC 9110 §9, case-sensitive), default
    /// <c>GET</c> (setting it does nothing). Before the first Resume (BG_E_READ_ONLY_PROPERTY_AFTER_RESUME); not with
    /// DYNAMIC_CONTENT (BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD). Another method forces the priority to Foreground and
    /// locks it, and makes every error fatal (Resume restarts the file from byte 0).</summary>
    HttpMethod,
    /// <summary>IBackgroundCopyJobHttpOptions3::MakeCustomHeadersWriteOnly: <c>true</c> (irreversible; <c>false</c> afterwards
    /// is E_INVALIDARG). GetCustomHeaders then answers E_ACCESSDENIED; the headers are still sent.</summary>
    CustomHeadersWriteOnly,
    /// <summary>IBackgroundCopyJobHttpOptions3::SetServerCertificateValidationInterface, the journaled half: <c>true</c> when
    /// the job's server certificates go to a validation callback (the callback itself is node-local, never journaled; a
    /// transfer on a node without it fails with BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED). Not while the job is active
    /// (BG_E_READ_ONLY_WHEN_JOB_ACTIVE).</summary>
    ServerCertificateValidation,
}

/// <summary>How a job reaches the network, with BITS's <c>BG_JOB_PROXY_USAGE</c> values.</summary>
public enum ProxyUsage
{
    /// <summary>the process's default (HTTP_PROXY / HTTPS_PROXY / NO_PROXY environment variables on Linux).</summary>
    Preconfig = 0,
    /// <summary>connect directly.</summary>
    NoProxy = 1,
    /// <summary>use <see cref="ProxySettings.ProxyList"/> (first entry) and <see cref="ProxySettings.BypassList"/>.</summary>
    Override = 2,
    /// <summary>auto-detect; .NET has no WPAD on Linux, so this behaves as <see cref="Preconfig"/>.</summary>
    AutoDetect = 3,
}

/// <summary>
/// A job's proxy settings (BITS <c>SetProxySettings</c>): lists are null unless <see cref="ProxyUsage.Override"/>, which
/// needs a proxy list (space- or semicolon-separated <c>host:port</c> or URLs, ≤ 4,000 characters each list).
/// </summary>
public sealed record ProxySettings(ProxyUsage Usage, string? ProxyList, string? BypassList)
{
    public static readonly ProxySettings Preconfig = new(ProxyUsage.Preconfig, null, null);
}

/// <summary>
/// A program run when the job is transferred or enters Error, as the notify flags select (BITS
/// <c>IBackgroundCopyJob2::SetNotifyCmdLine</c>): <see cref="Program"/> is an absolute path, <see cref="Parameters"/> the
/// argument string (without the program name; split as .NET's ProcessStartInfo.Arguments does).
/// </summary>
public sealed record NotifyCommandLine(string Program, string? Parameters);

/// <summary>BITS <c>BG_NOTIFY_*</c> flags (bits.h).</summary>
[Flags]
public enum NotifyFlags
{
    None = 0,
    JobTransferred = 0x1,
    JobError = 0x2,
    Disable = 0x4,
    JobModification = 0x8,
    FileTransferred = 0x10,
    FileRangesTransferred = 0x20,
}

/// <summary>
/// One BITS job inside a group, as an immutable record. Times are UTC; <see cref="MinimumRetryDelay"/>,
/// <see cref="NoProgressTimeout"/> and <see cref="MaximumDownloadTime"/> follow BITS (600 s, 14 days, 90 days by default).
/// <see cref="HttpMethod"/> is the SetHttpMethod verb (null = GET), <see cref="CustomHeadersWriteOnly"/> the
/// MakeCustomHeadersWriteOnly switch, <see cref="ServerCertificateValidation"/> true when the job's server certificates go to
/// a validation callback (see <see cref="JobProperty"/>).
/// </summary>
public sealed record Job(
    Guid Id,
    string DisplayName,
    string Description,
    NotifyFlags NotifyFlags,
    TimeSpan MaximumDownloadTime,
    JobState State,
    JobPriority Priority,
    JobOptions Options,
    ImmutableList<JobFile> Files,
    JobError? Error,
    int ErrorCount,
    TimeSpan MinimumRetryDelay,
    TimeSpan NoProgressTimeout,
    DateTimeOffset CreationTime,
    DateTimeOffset ModificationTime,
    DateTimeOffset? TransferCompletionTime,
    DateTimeOffset? RetryDueAt,
    DateTimeOffset? FirstTransientErrorAt,
    ImmutableList<ProtectedCredentials> Credentials,
    string? ProtectedCustomHeaders,
    ProxySettings? Proxy = null,
    NotifyCommandLine? NotifyCmdLine = null,
    int SecurityFlags = 0,
    TimeSpan ActiveTime = default,
    DateTimeOffset? ActiveSince = null,
    DateTimeOffset? LastActivity = null,
    ClientCertificate? ClientCertificate = null,
    Job5Properties? Job5 = null,
    bool Resumed = false,
    JobType Type = JobType.Download,
    UploadSession? Upload = null,
    JobReply? Reply = null,
    string? HttpMethod = null,
    bool CustomHeadersWriteOnly = false,
    bool ServerCertificateValidation = false)
{
    /// <summary>The job's IBackgroundCopyJob5 properties (defaults when none was set).</summary>
    [JsonIgnore]
    public Job5Properties Properties5 => Job5 ?? Job5Properties.Default;

    /// <summary>
    /// Connecting + Transferring time counted against <see cref="MaximumDownloadTime"/> up to <paramref name="now"/>
    /// (BITS T23: Queued and TransientError time is not counted; Resume resets it).
    /// </summary>
    public TimeSpan ActiveTimeAt(DateTimeOffset now) => ActiveTime + (ActiveSince is { } since && now > since ? now - since : TimeSpan.Zero);

    /// <summary>Total bytes of all files, or null while any size is unknown (BG_JOB_PROGRESS.BytesTotal).</summary>
    [JsonIgnore]
    public long? BytesTotal => Files.Any(f => f.BytesTotal is null) ? null : Files.Sum(f => f.BytesTotal!.Value);

    /// <summary>Bytes on disk across all files (BG_JOB_PROGRESS.BytesTransferred).</summary>
    [JsonIgnore]
    public long BytesTransferred => Files.Sum(f => f.BytesTransferred);

    /// <summary>Files fully transferred (BG_JOB_PROGRESS.FilesTransferred).</summary>
    [JsonIgnore]
    public int FilesTransferred => Files.Count(f => f.Transferred);

    /// <summary>Index of the first file not yet transferred, or null when all are.</summary>
    [JsonIgnore]
    public int? NextFileIndex
    {
        get
        {
            var i = Files.FindIndex(f => !f.Transferred);
            return i < 0 ? null : i;
        }
    }
}
