using System.Text.Json.Serialization;

namespace Qmgr.Transport;

/// <summary>
/// Where a job failure happened, with BITS's <c>BG_ERROR_CONTEXT</c> values (bits.h).
/// </summary>
public enum ErrorContext
{
    None = 0,
    Unknown = 1,
    GeneralQueueManager = 2,
    QueueManagerNotification = 3,
    LocalFile = 4,
    RemoteFile = 5,
    GeneralTransport = 6,
    RemoteApplication = 7,
    ServerCertificateCallback = 8,
}

/// <summary>
/// Resume validators a server sent with a file (RFC 9110 §8.8). <see cref="ETag"/> keeps its quotes and a
/// <c>W/</c> prefix when weak; only a strong ETag, else <see cref="LastModified"/>, goes into <c>If-Range</c>.
/// </summary>
public sealed record Validators(string? ETag, DateTimeOffset? LastModified)
{
    public static readonly Validators None = new(null, null);
    [JsonIgnore] public bool IsStrongETag => ETag is not null && !ETag.StartsWith("W/", StringComparison.Ordinal);
    [JsonIgnore] public bool IsEmpty => ETag is null && LastModified is null;
}

/// <summary>
/// One file transfer: GET <see cref="Url"/> into <see cref="TempPath"/>, resuming at <see cref="Offset"/> bytes.
/// Sizes in bytes, intervals as <see cref="TimeSpan"/>. The temp file is cut back to <see cref="Offset"/> before the
/// first request (crash cut-back, DESIGN Decision 8).
/// </summary>
/// <param name="Url">absolute http/https URL.</param>
/// <param name="TempPath">absolute path of the hidden temp file beside the target.</param>
/// <param name="Offset">bytes already on disk and journaled (0 = start).</param>
/// <param name="Validators">validators recorded from an earlier response, or <see cref="Transport.Validators.None"/>.</param>
/// <param name="ExpectedSize">total size recorded earlier, or null when unknown.</param>
/// <param name="StrictRangeSupport">true: a 200 to a ranged GET fails with BG_E_INSUFFICIENT_RANGE_SUPPORT instead of restarting (Decision 7).</param>
/// <param name="CheckpointBytes">flush and report a checkpoint every this many bytes (Decision 8, default 4 MiB).</param>
/// <param name="CheckpointInterval">... or at least this often while bytes arrive (default 1 s).</param>
/// <param name="QuickRetryDelays">delays of the quick in-transfer retries (Decision 6: 1 s, 2 s, 4 s).</param>
/// <param name="MaxQuickRetryAfter">a Retry-After longer than this ends quick retries (Decision 6: 30 s).</param>
/// <param name="IdleTimeout">no byte for this long on an open response is a transient fault.</param>
public sealed record DownloadRequest(
    Uri Url,
    string TempPath,
    long Offset,
    Validators Validators,
    long? ExpectedSize,
    bool StrictRangeSupport,
    long CheckpointBytes,
    TimeSpan CheckpointInterval,
    IReadOnlyList<TimeSpan> QuickRetryDelays,
    TimeSpan MaxQuickRetryAfter,
    TimeSpan IdleTimeout)
{
    /// <summary>Extra request headers sent with every request of this transfer (custom headers, <c>Authorization</c>).
    /// Built in the transferring process from encrypted job secrets; never journaled.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>Expected SHA-256 of the whole file as 64 hex digits, or null. Checked before the file is reported complete.</summary>
    public string? ExpectedSha256 { get; init; }

    /// <summary>How to reach the server: the process default, directly, or through a given proxy.</summary>
    public ProxyRoute Proxy { get; init; } = ProxyRoute.Default;

    /// <summary>Server-certificate problems to accept (BITS BG_SSL_IGNORE_* bits); <see cref="TlsIgnore.None"/> by default.</summary>
    public TlsIgnore TlsIgnore { get; init; }

    /// <summary>False: a redirect is not followed and fails the transfer with BG_E_HTTP_ERROR_3xx (BITS
    /// BG_HTTP_REDIRECT_POLICY_DISALLOW). True (default): up to 10 redirects are followed.</summary>
    public bool FollowRedirects { get; init; } = true;

    /// <summary>BG_SSL_ENABLE_CRL_CHECK: the server's certificate chain is checked for revocation online (CRL
    /// distribution points, <c>X509RevocationMode.Online</c>); a revoked certificate fails with
    /// <see cref="BitsErrors.CertRevoked"/>, an unknown status with <see cref="BitsErrors.CertRevocationFailed"/>.
    /// False (default): no revocation check, as SslStream's default <c>X509RevocationMode.NoCheck</c>.</summary>
    public bool CheckRevocation { get; init; }

    /// <summary>BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP: a redirect from https to http is followed (within the
    /// same 10 redirects). False (default): it fails the transfer with <see cref="BitsErrors.RedirectFailed"/>.</summary>
    public bool AllowHttpsToHttp { get; init; }

    /// <summary>The TLS client certificate to present (looked up in the transferring process's store), or null.</summary>
    public ClientCertificate? ClientCertificate { get; init; }

    /// <summary>Clear server and proxy credentials, set in the transferring process only (never serialized): each
    /// answers only a challenge of its own scheme (bits-spec §2.12: BITS answers challenges with the stored pair).</summary>
    [JsonIgnore]
    public TransferCredentials? Credentials { get; init; }

    /// <summary>The byte ranges of the remote file to fetch (BITS AddFileWithRanges), or null for the whole file. The temp
    /// file is their concatenation in this order; <see cref="Offset"/> and <see cref="ExpectedSize"/> count its bytes
    /// (the sum of the ranges once every length is known).</summary>
    public IReadOnlyList<FileRange>? Ranges { get; init; }

    /// <summary>BITS DYNAMIC_CONTENT: bytes on disk are never continued with a Range request; any new request restarts
    /// the file from byte 0 (<see cref="FileRestartReason.DynamicContent"/>).</summary>
    public bool NoResume { get; init; }

    /// <summary>BITS MAX_DOWNLOAD_SIZE left for this file, in bytes, or null for no cap: a response announcing more, or a
    /// body (chunked included) running past it, fails with <see cref="BitsErrors.MaxDownloadSizeLimitReached"/>.</summary>
    public long? MaxBytes { get; init; }

    /// <summary>The request method (BITS IBackgroundCopyJobHttpOptions2::SetHttpMethod), or null for <c>GET</c>. Another
    /// method is sent as given (RFC 9110 §9) and never resumed: bytes on disk restart from byte 0
    /// (<see cref="FileRestartReason.CustomHttpMethod"/>). A <c>HEAD</c> response has no content (RFC 9110 §9.3.2): the file is empty.</summary>
    public string? Method { get; init; }

    /// <summary>BITS SetServerCertificateValidationInterface: the server certificate goes to
    /// <see cref="ServerCertificateValidator"/> once the TLS checks under the security flags passed.</summary>
    public bool ValidateServerCertificate { get; init; }

    /// <summary>The validation callback, set in the transferring process only (never serialized): given the server
    /// certificate and its chain, returns 0 (S_OK) to accept or an HRESULT to refuse; a refusal fails the transfer with
    /// that HRESULT, context <see cref="ErrorContext.ServerCertificateCallback"/>, as a transient error without quick
    /// retries. Null with <see cref="ValidateServerCertificate"/> set: every TLS connection is refused with
    /// BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED (0x80200074).</summary>
    [JsonIgnore]
    public Func<System.Security.Cryptography.X509Certificates.X509Certificate2, System.Security.Cryptography.X509Certificates.X509Chain?, int>? ServerCertificateValidator { get; init; }

    /// <summary>The fencing check, set in the transferring process only (never serialized): asked before the temp file is
    /// opened and before every write into it; once it answers false the transfer writes no further byte and fails with
    /// the transient <see cref="BitsErrors.ShardLeaseNotHeld"/> (no quick retry: the job goes to TransientError). Null:
    /// always allowed (one node, no lease).</summary>
    [JsonIgnore]
    public Func<bool>? WriteFence { get; init; }

    /// <summary>BITS ON_DEMAND_MODE: the file is fetched by random access into a temp file of the remote file's full size,
    /// following this plan (<see cref="Offset"/> is ignored); null for every other file.</summary>
    public OnDemandPlan? OnDemand { get; init; }

    /// <summary>Null for a download. Otherwise this transfer uploads <see cref="UploadRequest.SourcePath"/> to
    /// <see cref="Url"/> with the BITS Upload Protocol (<see cref="BitsUploader"/>); <see cref="Offset"/> is then the
    /// offset the server acknowledged last and <see cref="TempPath"/> is unused.</summary>
    public UploadRequest? Upload { get; init; }
}

/// <summary>
/// The upload side of a <see cref="DownloadRequest"/> (BITS upload and upload-reply jobs).
/// </summary>
/// <param name="SourcePath">absolute path of the local file, read, never written.</param>
/// <param name="WithReply">upload-reply: after the last fragment, download the server's reply (<c>BITS-Reply-URL</c>) into <paramref name="ReplyTempPath"/>.</param>
/// <param name="SessionId">the journaled session (<c>BITS-Session-Id</c>), or null to create one.</param>
/// <param name="SourceSize">the source's size in bytes when <paramref name="SessionId"/> was created.</param>
/// <param name="SourceLastWrite">the source's last write time (UTC) when <paramref name="SessionId"/> was created.</param>
/// <param name="ReplyTempPath">the reply's temp file (upload-reply only).</param>
/// <param name="ReplyUrl">the journaled reply URL: the upload part is done and only the reply remains; "" = the server sent no reply.</param>
public sealed record UploadRequest(string SourcePath, bool WithReply, string? SessionId, long SourceSize, DateTimeOffset SourceLastWrite,
    string? ReplyTempPath, string? ReplyUrl);

/// <summary>An <see cref="IDownloadObserver"/> that also hears the upload facts the job journals.</summary>
public interface IUploadObserver : IDownloadObserver
{
    /// <summary>The server created upload session <paramref name="sessionId"/>; the source had <paramref name="sourceSize"/>
    /// bytes and was last written at <paramref name="sourceLastWrite"/> (UTC).</summary>
    void OnSessionCreated(string sessionId, long sourceSize, DateTimeOffset sourceLastWrite);

    /// <summary>Reply progress: from <paramref name="replyUrl"/> ("" = no reply), <paramref name="bytesTotal"/> bytes
    /// (null = unknown yet), <paramref name="bytesTransferred"/> in the reply temp file.</summary>
    void OnReplyProgress(string replyUrl, long? bytesTotal, long bytesTransferred);
}

/// <summary>
/// What an on-demand transfer (BITS <c>IBackgroundCopyFile6</c>) starts from: the byte ranges of the remote file already
/// in the temp file as journaled (<see cref="FileRangeSet"/> form), the requested ranges still wanted (fetched first, in
/// this order; BG_LENGTH_TO_EOF allowed while the size is unknown) and the download position (missing bytes are filled
/// from there to the end, then from the start). With requested ranges the transfer stops once they are present
/// (<see cref="DownloadOutcome.RequestedRangesFilled"/>, BITS T25); without, it fills the whole file.
/// </summary>
public sealed record OnDemandPlan(IReadOnlyList<FileRange> Filled, IReadOnlyList<FileRange> Requested, long Position);

/// <summary>Server-certificate problems a job accepts, with BITS's <c>BG_SSL_IGNORE_*</c> values (bits.h).</summary>
[Flags]
public enum TlsIgnore
{
    None = 0,
    /// <summary>BG_SSL_IGNORE_CERT_CN_INVALID: the certificate names another host.</summary>
    NameMismatch = 0x2,
    /// <summary>BG_SSL_IGNORE_CERT_DATE_INVALID: expired or not yet valid.</summary>
    DateInvalid = 0x4,
    /// <summary>BG_SSL_IGNORE_UNKNOWN_CA: issued by an untrusted or unknown authority (self-signed included).</summary>
    UnknownCa = 0x8,
    /// <summary>BG_SSL_IGNORE_CERT_WRONG_USAGE: not valid for server authentication.</summary>
    WrongUsage = 0x10,
}

/// <summary>
/// How a transfer reaches the network: <see cref="Default"/> (the process's proxy settings: HTTP_PROXY, HTTPS_PROXY,
/// NO_PROXY), <see cref="Direct"/> (no proxy) or through <paramref name="Proxy"/> except for hosts in
/// <paramref name="Bypass"/> (host names or <c>*.suffix</c> patterns; <c>&lt;local&gt;</c> = names without a dot).
/// </summary>
public sealed record ProxyRoute(bool DirectConnection, Uri? Proxy, IReadOnlyList<string> Bypass)
{
    public static readonly ProxyRoute Default = new(false, null, []);
    public static readonly ProxyRoute Direct = new(true, null, []);

    /// <summary>A stable key for caching one HTTP client per route.</summary>
    public string Key => DirectConnection ? "direct" : Proxy is null ? "default" : $"{Proxy}|{string.Join(';', Bypass)}";
}

/// <summary>Why a file's bytes on disk were thrown away and the file restarted from byte 0.</summary>
public enum FileRestartReason
{
    /// <summary>a ranged GET was answered 200 with the whole body (Decision 7).</summary>
    RangeIgnored,
    /// <summary>the server's validator or size differs from the one recorded (RFC 9110 If-Range semantics).</summary>
    ValidatorChanged,
    /// <summary>the length was unknown (chunked) so an interrupted transfer cannot resume (Decision 7).</summary>
    UnknownLength,
    /// <summary>the temp file on disk is shorter than the journaled offset.</summary>
    TempFileShort,
    /// <summary>the finished file failed its SHA-256 check (the caller's or the server's RFC 9530 digest); its bytes were dropped.</summary>
    VerificationFailed,
    /// <summary>the job is DYNAMIC_CONTENT: an interrupted file is fetched again from byte 0, never resumed.</summary>
    DynamicContent,
    /// <summary>the upload server no longer knows the upload session (BG_E_SESSION_NOT_FOUND): a new session starts from byte 0.</summary>
    UploadSessionLost,
    /// <summary>the job has a custom HTTP method (SetHttpMethod): a file is fetched again from byte 0, never resumed.</summary>
    CustomHttpMethod,
}

/// <summary>What the server said in the response that is now being written.</summary>
/// <param name="HttpStatus">200 or 206.</param>
/// <param name="StartOffset">file offset in bytes where this response's new bytes go (a 206 that starts earlier has
/// its repeated bytes compared with the disk, not written, so progress is never counted twice).</param>
/// <param name="TotalSize">total file size in bytes, or null when unknown.</param>
/// <param name="Validators">the ETag / Last-Modified the response carried (or the recorded ones when it carried none).</param>
public sealed record ResponseInfo(int HttpStatus, long StartOffset, long? TotalSize, Validators Validators)
{
    /// <summary>The URL that answered, after redirects (null when it is the requested one).</summary>
    public Uri? FinalUrl { get; init; }
}

/// <summary>
/// Receives facts from a running download. Called from the download's task, never concurrently; implementations
/// must be cheap and thread-safe with respect to their owner (an actor's <c>Tell</c> is).
/// </summary>
public interface IDownloadObserver
{
    /// <summary>A 200/206 response was accepted and its body is about to be written.</summary>
    void OnResponse(ResponseInfo response);

    /// <summary>The bytes on disk were discarded; the file continues from byte 0.</summary>
    void OnRestarted(FileRestartReason reason, string detail);

    /// <summary>The temp file was flushed and holds <paramref name="offset"/> good bytes.</summary>
    void OnCheckpoint(long offset);

    /// <summary>A transient fault is being retried inside the transfer after <paramref name="delay"/> (Decision 6).</summary>
    void OnQuickRetry(int attempt, TimeSpan delay, TransferError error);

    /// <summary>A server answered (any status, before the body is read): <paramref name="headers"/> is the status line and
    /// the response and content headers, each line CRLF-terminated (BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS). Ignored by default.</summary>
    void OnResponseHeaders(string headers)
    {
    }

    /// <summary>On-demand files only: the temp file was flushed holding <paramref name="range"/> of the remote file in place
    /// (the bytes written since the last report).</summary>
    void OnFilled(FileRange range)
    {
    }
}

/// <summary>
/// Waits until <paramref name="bytes"/> may be written under the bandwidth budget (token bucket). Completes at once
/// when no cap applies; throws <see cref="OperationCanceledException"/> on cancellation.
/// </summary>
public delegate ValueTask BandwidthThrottle(int bytes, CancellationToken cancellationToken);

/// <summary>
/// A failed transfer attempt. <see cref="HResult"/> is a BITS code (<c>BG_E_HTTP_ERROR_xxx</c> = 0x80190000 + status,
/// <c>BG_E_*</c>, or a Win32-style HRESULT for local/transport faults); <see cref="HttpStatus"/> is set when a server
/// answered. <see cref="IsTransient"/> follows bits-spec §2.7 and DESIGN Decision 6.
/// </summary>
public sealed record TransferError(
    ErrorContext Context,
    int HResult,
    int? HttpStatus,
    string Message,
    bool IsTransient,
    TimeSpan? RetryAfter);

/// <summary>The end of one <see cref="IFileDownloader.DownloadAsync"/> call.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$outcome")]
[JsonDerivedType(typeof(Completed), "completed")]
[JsonDerivedType(typeof(Failed), "failed")]
[JsonDerivedType(typeof(RequestedRangesFilled), "requested-ranges-filled")]
public abstract record DownloadOutcome
{
    private DownloadOutcome() { }

    /// <summary>Every byte is on disk and fsynced; <paramref name="Size"/> bytes in all.</summary>
    public sealed record Completed(long Size, Validators Validators) : DownloadOutcome;

    /// <summary>Gave up after the quick retries (transient) or at once (fatal). <paramref name="BytesOnDisk"/> are good.</summary>
    public sealed record Failed(TransferError Error, long BytesOnDisk) : DownloadOutcome;

    /// <summary>On-demand: every requested range of the plan is present (and reported with
    /// <see cref="IDownloadObserver.OnFilled"/>), flushed to disk, while the file is not complete (BITS T25).</summary>
    public sealed record RequestedRangesFilled(Validators Validators) : DownloadOutcome;
}

/// <summary>Ends an upload session on its server (BITS Upload Protocol <c>Cancel-Session</c>).</summary>
public interface IUploadSessionCanceller
{
    /// <summary>Sends <c>Cancel-Session</c> for <c>request.Upload.SessionId</c>; true when the server dropped it. Never throws but for cancellation.</summary>
    Task<bool> CancelUploadSessionAsync(DownloadRequest request, CancellationToken cancellationToken);
}

/// <summary>Downloads one file into its temp file. Plain .NET, no Akka (DESIGN: Transport/).</summary>
public interface IFileDownloader
{
    /// <summary>
    /// Runs the transfer with quick retries. Never throws for HTTP or I/O faults (they become
    /// <see cref="DownloadOutcome.Failed"/>); throws <see cref="OperationCanceledException"/> when cancelled.
    /// </summary>
    Task<DownloadOutcome> DownloadAsync(DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, CancellationToken cancellationToken);
}
