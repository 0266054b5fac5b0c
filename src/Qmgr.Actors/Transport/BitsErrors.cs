namespace Qmgr.Transport;

/// <summary>
/// HRESULT codes the transport puts on <see cref="TransferError.HResult"/>. BITS codes come from bitsmsg.h
/// (bits-spec §2.16), WinHTTP codes are <c>HRESULT_FROM_WIN32(ERROR_WINHTTP_*)</c> (0x80072xxx) and local file codes
/// are <c>HRESULT_FROM_WIN32(ERROR_*)</c> (0x8007xxxx), so a BITS client sees the numbers it knows.
/// </summary>
public static class BitsErrors
{
    /// <summary><c>BG_E_HTTP_ERROR_xxx</c> base: the HRESULT for HTTP status <c>s</c> is <c>0x80190000 + s</c> (§2.16).</summary>
    public const int HttpErrorBase = unchecked((int)0x80190000);

    /// <summary><c>BG_E_INSUFFICIENT_RANGE_SUPPORT</c> (0x80200013): a ranged GET was answered 200 under <see cref="DownloadRequest.StrictRangeSupport"/>. Fatal.</summary>
    public const int InsufficientRangeSupport = unchecked((int)0x80200013);

    /// <summary>
    /// <c>BG_E_INVALID_SERVER_RESPONSE</c> (0x8020001B): a 206 whose <c>Content-Range</c> is missing or does not match the
    /// request even after one restart from byte 0, or a 206 body that ends before the file without making progress.
    /// Transient here (a misbehaving cache may recover); the job's no-progress timeout bounds it.
    /// </summary>
    public const int InvalidServerResponse = unchecked((int)0x8020001B);

    /// <summary><c>BG_E_INVALID_RANGE</c> (0x8020002B): a requested range (AddFileWithRanges) lies outside the remote file
    /// (a 416, or a remote size that ends before the range). Fatal.</summary>
    public const int InvalidRange = unchecked((int)0x8020002B);

    /// <summary><c>BG_E_RANDOM_ACCESS_NOT_SUPPORTED</c> (0x8020006D): an on-demand (ON_DEMAND_MODE) file's ranged GET was
    /// answered 200 with unchanged validators: the server does not (or no longer) honour Range. Fatal.</summary>
    public const int RandomAccessNotSupported = unchecked((int)0x8020006D);

    /// <summary><c>BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED</c> (0x80200064): the job's downloaded bytes would pass its
    /// MAX_DOWNLOAD_SIZE (announced by Content-Length / Content-Range, or counted while streaming). Fatal.</summary>
    public const int MaxDownloadSizeLimitReached = unchecked((int)0x80200064);

    /// <summary>
    /// <c>ERROR_WINHTTP_CONNECTION_ERROR</c> (0x80072EFE, WinINet 12030 "connection aborted"): the connection was reset
    /// or closed mid-response, including a body shorter than its <c>Content-Length</c> (RFC 9112 §6.3). Transient.
    /// </summary>
    public const int ConnectionAborted = unchecked((int)0x80072EFE);

    /// <summary><c>ERROR_WINHTTP_TIMEOUT</c> (0x80072EE2): no byte arrived for <see cref="DownloadRequest.IdleTimeout"/> (headers or body). Transient.</summary>
    public const int Timeout = unchecked((int)0x80072EE2);

    /// <summary><c>ERROR_WINHTTP_CANNOT_CONNECT</c> (0x80072EFD): connection refused or host/network unreachable. Transient.</summary>
    public const int CannotConnect = unchecked((int)0x80072EFD);

    /// <summary><c>ERROR_WINHTTP_NAME_NOT_RESOLVED</c> (0x80072EE7): DNS failure (bits-spec §2.7 lists it as transient).</summary>
    public const int NameNotResolved = unchecked((int)0x80072EE7);

    /// <summary><c>ERROR_WINHTTP_INVALID_SERVER_RESPONSE</c> (0x80072F78): malformed HTTP framing or headers. Transient (§2.7).</summary>
    public const int WinHttpInvalidServerResponse = unchecked((int)0x80072F78);

    /// <summary><c>ERROR_WINHTTP_UNRECOGNIZED_SCHEME</c> (0x80072EE6): the URL is not absolute http/https, so no request can be sent. Fatal.</summary>
    public const int UnrecognizedScheme = unchecked((int)0x80072EE6);

    /// <summary><c>ERROR_WINHTTP_SECURE_FAILURE</c> (0x80072F8F): the TLS handshake or certificate check failed. Fatal.</summary>
    public const int SecureFailure = unchecked((int)0x80072F8F);

    /// <summary><c>ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED</c> (0x80072F0C): the server asked for a TLS client certificate
    /// and the job has none (BITS fails the job even when the certificate is optional). Fatal.</summary>
    public const int ClientAuthCertNeeded = unchecked((int)0x80072F0C);

    /// <summary><c>ERROR_WINHTTP_SECURE_CERT_REV_FAILED</c> (0x80072F19): BG_SSL_ENABLE_CRL_CHECK is set and the
    /// certificate's revocation status could not be found (CRL unreachable or offline). Fatal (bits-spec §2.7).</summary>
    public const int CertRevocationFailed = unchecked((int)0x80072F19);

    /// <summary><c>ERROR_WINHTTP_SECURE_CERT_REVOKED</c> (0x80072F8A): BG_SSL_ENABLE_CRL_CHECK is set and the server's
    /// certificate is revoked. Fatal (bits-spec §2.7).</summary>
    public const int CertRevoked = unchecked((int)0x80072F8A);

    /// <summary><c>ERROR_WINHTTP_REDIRECT_FAILED</c> (0x80072F7C): a redirect from https to http without
    /// BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP (WinHTTP's code for a scheme-changing redirect it refuses). Fatal.</summary>
    public const int RedirectFailed = unchecked((int)0x80072F7C);

    /// <summary><c>CRYPT_E_NOT_FOUND</c> (0x80092004): no certificate with a private key matches the job's client
    /// certificate selection. Fatal.</summary>
    public const int CryptNotFound = unchecked((int)0x80092004);

    /// <summary><c>E_NOTIMPL</c> (0x80004001): a certificate store location .NET has no store for.</summary>
    public const int NotImplemented = unchecked((int)0x80004001);

    /// <summary><c>HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)</c> (0x80070002). Fatal, LocalFile context.</summary>
    public const int FileNotFound = unchecked((int)0x80070002);

    /// <summary><c>HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND)</c> (0x80070003): the temp file's directory does not exist. Fatal, LocalFile context.</summary>
    public const int PathNotFound = unchecked((int)0x80070003);

    /// <summary><c>E_ACCESSDENIED</c> (0x80070005): the temp file cannot be opened or written. Fatal, LocalFile context.</summary>
    public const int AccessDenied = unchecked((int)0x80070005);

    /// <summary><c>HRESULT_FROM_WIN32(ERROR_WRITE_PROTECT)</c> (0x80070013): read-only file system (EROFS). Fatal, LocalFile context.</summary>
    public const int WriteProtect = unchecked((int)0x80070013);

    /// <summary><c>HRESULT_FROM_WIN32(ERROR_GEN_FAILURE)</c> (0x8007001F): device I/O error (EIO). Fatal, LocalFile context.</summary>
    public const int GeneralFailure = unchecked((int)0x8007001F);

    /// <summary><c>HRESULT_FROM_WIN32(ERROR_DISK_FULL)</c> (0x80070070): no space left (ENOSPC, EDQUOT). Fatal, LocalFile context.</summary>
    public const int DiskFull = unchecked((int)0x80070070);

    /// <summary><c>HRESULT_FROM_WIN32(ERROR_FILENAME_EXCED_RANGE)</c> (0x800700CE): path or name too long. Fatal, LocalFile context.</summary>
    public const int FileNameTooLong = unchecked((int)0x800700CE);

    /// <summary><c>HRESULT_FROM_WIN32(ERROR_FILE_TOO_LARGE)</c> (0x800700DF): the file system's size limit was hit (EFBIG). Fatal, LocalFile context.</summary>
    public const int FileTooLarge = unchecked((int)0x800700DF);

    /// <summary><c>E_FAIL</c> (0x80004005): a local I/O fault with no better code.</summary>
    public const int Fail = unchecked((int)0x80004005);

    /// <summary>
    /// HRESULT_FROM_WIN32(ERROR_CRC), "data error": the finished file's SHA-256 differs from the expected one (the
    /// caller's <c>--sha256</c> or the server's <c>Repr-Digest</c>/<c>Content-Digest</c>, RFC 9530). Fatal; the file's
    /// bytes are dropped (as BITS resets a file whose validation failed, T27).
    /// </summary>
    public const int ContentVerificationFailed = unchecked((int)0x80070017);

    /// <summary>
    /// <c>HRESULT_FROM_WIN32(ERROR_NOT_OWNER)</c> (0x80070120): this node no longer certainly holds the lease of the
    /// transfer's shard (another node may own the job now), so it stopped writing. Transient, no quick retry, context
    /// <see cref="ErrorContext.GeneralQueueManager"/>: a queue-manager condition, not a fault of the file or the network.
    /// </summary>
    public const int ShardLeaseNotHeld = unchecked((int)0x80070120);

    /// <summary>The transient <see cref="ShardLeaseNotHeld"/> error for a transfer to <paramref name="tempPath"/>.</summary>
    public static TransferError LeaseNotHeld(string tempPath) =>
        new(ErrorContext.GeneralQueueManager, ShardLeaseNotHeld, null,
            $"The shard lease is not held by this node: stopped writing {tempPath}; the job is retried (another node may own it now)",
            IsTransient: true, RetryAfter: null);

    /// <summary>The <c>BG_E_HTTP_ERROR_xxx</c> HRESULT for an HTTP status code (0x80190000 + <paramref name="status"/>).</summary>
    public static int ForHttpStatus(int status) => HttpErrorBase + status;

    /// <summary>
    /// True for the statuses retried as transient (Decision 6, bits-spec §2.7): 408 Request Timeout, 429 Too Many
    /// Requests (RFC 6585 §4) and every 5xx (RFC 9110 §15.6). Other 4xx and unfollowed 3xx are fatal.
    /// </summary>
    public static bool IsTransientHttpStatus(int status) => status is 408 or 429 or >= 500 and <= 599;

    /// <summary>
    /// Maps a local I/O exception to a Win32-style HRESULT: typed .NET exceptions by type, Unix errno values
    /// (which .NET puts in <see cref="Exception.HResult"/> of an <see cref="IOException"/>) by value, an HRESULT that is
    /// already 0x8007xxxx as is, anything else <see cref="Fail"/>.
    /// </summary>
    public static int ForLocalException(Exception exception) => exception switch
    {
        DirectoryNotFoundException => PathNotFound,
        FileNotFoundException => FileNotFound,
        UnauthorizedAccessException => AccessDenied,
        PathTooLongException => FileNameTooLong,
        _ => exception.HResult switch
        {
            28 or 122 => DiskFull,          // ENOSPC, EDQUOT
            13 or 1 => AccessDenied,        // EACCES, EPERM
            30 => WriteProtect,             // EROFS
            5 => GeneralFailure,            // EIO
            27 => FileTooLarge,             // EFBIG
            36 => FileNameTooLong,          // ENAMETOOLONG
            2 => PathNotFound,              // ENOENT
            var hr when (hr & unchecked((int)0xFFFF0000)) == unchecked((int)0x80070000) => hr,
            _ => Fail,
        },
    };
}
