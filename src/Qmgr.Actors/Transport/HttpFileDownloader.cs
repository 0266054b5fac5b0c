using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Qmgr.Transport;

/// <summary>
/// <see cref="IFileDownloader"/> over <see cref="HttpClient"/>: one GET (RFC 9110 §9.3.1) per attempt, resumed with
/// <c>Range: bytes=N-</c> (§14.2) and <c>If-Range</c> (§13.1.5), the body streamed into the temp file in buffers of
/// <see cref="BufferSize"/> bytes, each one paid for with the <see cref="BandwidthThrottle"/> before it is written.
/// </summary>
/// <remarks>
/// <para>The host builds the client from <c>IHttpClientFactory</c> with a <c>SocketsHttpHandler</c>:
/// <c>AutomaticDecompression = None</c> (bytes are stored as sent so lengths and ranges agree),
/// <c>AllowAutoRedirect = true</c>, <c>MaxAutomaticRedirections = 10</c>. A 3xx that reaches this class (too many
/// redirects, or no <c>Location</c>) is fatal with <c>BG_E_HTTP_ERROR_3xx</c>.</para>
/// <para>Error classification (bits-spec §2.7, DESIGN Decision 6), codes in <see cref="BitsErrors"/>:</para>
/// <list type="bullet">
/// <item>Transient, quick-retried: HTTP 408, 429 and 5xx (<c>0x80190000 + status</c>, RemoteFile, with
/// <see cref="TransferError.RetryAfter"/> from delta-seconds or an HTTP-date, RFC 9110 §10.2.3); connection refused
/// (<see cref="BitsErrors.CannotConnect"/>), reset or short body (<see cref="BitsErrors.ConnectionAborted"/>), idle
/// timeout (<see cref="BitsErrors.Timeout"/>), DNS failure (<see cref="BitsErrors.NameNotResolved"/>), malformed
/// responses (<see cref="BitsErrors.WinHttpInvalidServerResponse"/>) — GeneralTransport context.</item>
/// <item>Fatal: other 4xx and any 3xx that reaches this class (<c>0x80190000 + status</c>, RemoteFile, with
/// <see cref="TransferError.HttpStatus"/>); TLS failures; non-http(s) URLs; local file faults (LocalFile context,
/// HRESULT from <see cref="BitsErrors.ForLocalException"/>, e.g. 0x80070003 for a missing directory, which is
/// never created here).</item>
/// </list>
/// <para>Choices where the design left room:</para>
/// <list type="bullet">
/// <item>Every request sends <c>Accept-Encoding: identity</c> (RFC 9110 §12.5.3); a server that encodes anyway has its
/// representation stored verbatim, so lengths and ranges stay those of the bytes on disk (fault case C21).</item>
/// <item>A resume without a strong ETag or Last-Modified asks for <see cref="OverlapBytes"/> before the offset and compares
/// them with the disk (C13, C12). Any 206 that starts before the offset has its repeated bytes compared, not written
/// (C03a); a difference restarts the file.</item>
/// <item>A 206 starting after the offset is asked for once more, then the file restarts (C03b); a 206 that ends early is
/// continued with a new range (C03c). A 206 whose total differs from <see cref="DownloadRequest.ExpectedSize"/>, a
/// malformed <c>Content-Range</c>, and a 416 that does not mean "already complete" (or carries a different strong ETag)
/// restart the file from byte 0 with a plain GET (reason <see cref="FileRestartReason.ValidatorChanged"/>). This happens
/// at most once per call; a second one is a transient <see cref="BitsErrors.InvalidServerResponse"/>.</item>
/// <item>A restart never discards the bytes on disk before the replacing 200 has arrived: if the plain GET fails, the
/// partial and <see cref="DownloadOutcome.Failed.BytesOnDisk"/> are kept (C26).</item>
/// <item>A non-transient 4xx (other than 416) to a ranged GET first asks for half the range, down to
/// <see cref="MinRangeLength"/>; an accepted smaller size is remembered per scheme://host:port for this instance (C08).
/// Then one plain GET is tried, and its 200 restarts the file (<see cref="FileRestartReason.RangeIgnored"/>, C07). Only if
/// that fails too is the 4xx returned. Under <see cref="DownloadRequest.StrictRangeSupport"/> the 4xx is returned at once.</item>
/// <item>For 429/503 without <c>Retry-After</c>, an IETF <c>RateLimit</c> <c>t=</c> (or <c>RateLimit-Reset</c>) gives
/// <see cref="TransferError.RetryAfter"/> (C24).</item>
/// <item>Under <see cref="DownloadRequest.StrictRangeSupport"/> a 200 to a resume is fatal
/// (<see cref="BitsErrors.InsufficientRangeSupport"/>) only when the validators did not change; a 200 carrying new
/// validators is the normal If-Range answer for a changed file, and BITS restarts a changed file rather than failing
/// (bits-spec §2.7), so that restarts with <see cref="FileRestartReason.ValidatorChanged"/>.</item>
/// <item>Quick retries: the counter goes back to 0 whenever an attempt takes the good bytes on disk past the highest
/// offset reached earlier in this call, so a long download over a flaky link keeps going while a server that fails
/// before adding bytes exhausts <see cref="DownloadRequest.QuickRetryDelays"/>.</item>
/// <item>A request with <see cref="DownloadRequest.Offset"/> &gt; 0 and no <see cref="DownloadRequest.ExpectedSize"/>
/// continues a file of unknown length, which cannot be resumed: it restarts from 0
/// (<see cref="FileRestartReason.UnknownLength"/>).</item>
/// <item>The idle timeout also covers the wait for response headers.</item>
/// <item>A 401 or 407 to a ranged GET is returned as it is (fatal BG_E_HTTP_ERROR_401 / _407: the handler already
/// answered the challenge with the job's credentials, if it had any of that scheme), never retried with smaller ranges.</item>
/// <item>A redirect from https to http (which HttpClient never follows) is followed here only under
/// <see cref="DownloadRequest.AllowHttpsToHttp"/>, within 10 such hops; otherwise it is fatal
/// <see cref="BitsErrors.RedirectFailed"/>, as WinHTTP fails it for BITS. Under DISALLOW the 3xx is returned as before.</item>
/// <item>A <see cref="TlsRefusedException"/> from the handler's certificate callbacks (revoked certificate, unknown
/// revocation status, client certificate needed) is fatal with its own HRESULT; other TLS failures are
/// <see cref="BitsErrors.SecureFailure"/>.</item>
/// <item>Messages name the URL without user info or query (no credentials or signed tokens in logs).</item>
/// </list>
/// </remarks>
public sealed partial class HttpFileDownloader : IFileDownloader
{
    /// <summary>Bytes read from the network, throttled and written per step (64 KiB).</summary>
    public const int BufferSize = 64 * 1024;

    /// <summary>
    /// Bytes before the resume offset asked for again and compared with the bytes on disk when the file has no usable
    /// validator (no strong ETag, no Last-Modified), so a file that changed under the same URL is detected (4 KiB).
    /// </summary>
    public const int OverlapBytes = 4 * 1024;

    /// <summary>The smallest range length tried when a server rejects large ranges (256 KiB).</summary>
    public const long MinRangeLength = 256 * 1024;

    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    /// <summary>The client this downloader sends through (its route: proxy, redirects, TLS); uploads share it.</summary>
    internal HttpClient Client => _http;
    private readonly ConcurrentDictionary<string, long> _hostRangeLimits = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates a downloader over <paramref name="httpClient"/> using the system clock.</summary>
    public HttpFileDownloader(HttpClient httpClient)
        : this(httpClient, TimeProvider.System)
    {
    }

    /// <summary>Creates a downloader over <paramref name="httpClient"/>; <paramref name="timeProvider"/> drives checkpoint intervals, retry waits and <c>Retry-After</c> dates.</summary>
    public HttpFileDownloader(HttpClient httpClient, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _http = httpClient;
        _time = timeProvider;
    }

    /// <inheritdoc />
    public async Task<DownloadOutcome> DownloadAsync(
        DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(observer);
        ArgumentNullException.ThrowIfNull(throttle);
        ArgumentOutOfRangeException.ThrowIfNegative(request.Offset);
        cancellationToken.ThrowIfCancellationRequested();
        if (!MayWrite(request))
        {
            return new DownloadOutcome.Failed(BitsErrors.LeaseNotHeld(request.TempPath), request.Offset);
        }

        FileStream file;
        try
        {
            file = new FileStream(request.TempPath, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.Read,
                BufferSize = 0,
            });
        }
        catch (Exception ex) when (IsLocalFault(ex))
        {
            return new DownloadOutcome.Failed(LocalError(ex, request.TempPath), 0);
        }

        await using (file)
        {
            if (request.OnDemand is not null)
            {
                return await RunOnDemandAsync(request, observer, throttle, file, cancellationToken).ConfigureAwait(false);
            }

            if (request.Ranges is { Count: > 0 })
            {
                return await RunRangesAsync(request, observer, throttle, file, cancellationToken).ConfigureAwait(false);
            }

            var session = new Session(this, request, observer, throttle, file);
            return await GuardAsync(request, session.RunAsync, () => FlushQuietly(file), () => session.SafeOffset, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>The request method: <see cref="DownloadRequest.Method"/>, or GET.</summary>
    private static HttpMethod MethodOf(DownloadRequest request) => request.Method is { } method ? new HttpMethod(method) : HttpMethod.Get;

    /// <summary>A transient fault worth a quick retry: not a validation callback's refusal (the job's retry delay applies,
    /// as BITS moves the job to TRANSIENT_ERROR). A job with a custom HTTP method is given no quick retry delays at all.</summary>
    private static bool QuickRetryable(TransferError error) =>
        error.IsTransient && error.Context != ErrorContext.ServerCertificateCallback && error.HResult != BitsErrors.ShardLeaseNotHeld;

    /// <summary>The fencing check (<see cref="DownloadRequest.WriteFence"/>): true when no fence is set or it holds.</summary>
    private static bool MayWrite(DownloadRequest request) => request.WriteFence?.Invoke() ?? true;

    /// <summary>The response's header block as WinHTTP's raw headers give it: the status line, then every response and
    /// content header as <c>Name: value</c>, each line CRLF-terminated.</summary>
    internal static string HeaderBlock(HttpResponseMessage response)
    {
        var block = new System.Text.StringBuilder();
        block.Append(CultureInfo.InvariantCulture, $"HTTP/{response.Version.Major}.{response.Version.Minor} {(int)response.StatusCode} {response.ReasonPhrase}\r\n");
        foreach (var (name, values) in response.Headers.NonValidated.Concat(response.Content.Headers.NonValidated))
        {
            foreach (var value in values)
            {
                block.Append(name).Append(": ").Append(value).Append("\r\n");
            }
        }

        return block.ToString();
    }

    internal static bool IsLocalFault(Exception ex) =>
        ex is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException;

    internal static TransferError LocalError(Exception ex, string path) =>
        new(ErrorContext.LocalFile, BitsErrors.ForLocalException(ex), null,
            $"Local file error on {path}: {OneLine(ex.Message)}", IsTransient: false, RetryAfter: null);

    private static string OneLine(string text)
    {
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }

    internal static string Redacted(Uri url) =>
        url.IsAbsoluteUri
            ? url.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped)
            : url.ToString();

    /// <summary>Classifies a fault raised while sending the request or reading the body (never a local file fault).</summary>
    internal static TransferError NetworkError(Exception ex, Uri url, bool timedOut)
    {
        var where = Redacted(url);
        if (timedOut || ex is OperationCanceledException or TimeoutException)
        {
            return Transient(BitsErrors.Timeout, $"No data for the idle timeout from {where}");
        }

        HttpRequestError? kind = ex switch
        {
            HttpRequestException hre => hre.HttpRequestError,
            HttpIOException hio => hio.HttpRequestError,
            _ => null,
        };
        if (FindInner<TlsRefusedException>(ex) is { } refused)
        {
            return new TransferError(refused.Context, refused.HResult, null,
                $"TLS refused for {where}: {refused.Message}", refused.IsTransient, RetryAfter: null);
        }

        var socket = FindInner<SocketException>(ex);
        var detail = OneLine((socket as Exception ?? ex).Message);

        if (kind == HttpRequestError.NameResolutionError
            || socket?.SocketErrorCode is SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData)
        {
            return Transient(BitsErrors.NameNotResolved, $"Name not resolved for {where}: {detail}");
        }

        if (socket?.SocketErrorCode is SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable
            or SocketError.HostDown or SocketError.NetworkDown)
        {
            return Transient(BitsErrors.CannotConnect, $"Cannot connect to {where}: {detail}");
        }

        if (socket?.SocketErrorCode is SocketError.TimedOut)
        {
            return Transient(BitsErrors.Timeout, $"Timed out talking to {where}: {detail}");
        }

        if (kind == HttpRequestError.SecureConnectionError)
        {
            return new TransferError(ErrorContext.GeneralTransport, BitsErrors.SecureFailure, null,
                $"TLS failure for {where}: {detail}", IsTransient: false, RetryAfter: null);
        }

        if (kind is HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError)
        {
            return Transient(BitsErrors.WinHttpInvalidServerResponse, $"Invalid HTTP response from {where}: {detail}");
        }

        if (kind == HttpRequestError.ConnectionError && socket is null)
        {
            return Transient(BitsErrors.CannotConnect, $"Cannot connect to {where}: {detail}");
        }

        return Transient(BitsErrors.ConnectionAborted, $"Connection aborted by {where}: {detail}");

        static TransferError Transient(int hr, string message) =>
            new(ErrorContext.GeneralTransport, hr, null, message, IsTransient: true, RetryAfter: null);
    }

    private static T? FindInner<T>(Exception? ex) where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T found)
            {
                return found;
            }
        }

        return null;
    }

    private TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - _time.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return RateLimitResetOf(response);
    }

    /// <summary>
    /// The reset time of an IETF rate-limit header when no <c>Retry-After</c> came: <c>RateLimit: "policy";r=0;t=S</c>
    /// (draft-ietf-httpapi-ratelimit-headers-08 and later, structured fields) or <c>RateLimit-Reset: S</c> (drafts up to
    /// -07), both delta-seconds. The smallest <c>t</c> of the listed items is taken.
    /// </summary>
    private static TimeSpan? RateLimitResetOf(HttpResponseMessage response)
    {
        TimeSpan? best = null;
        if (response.Headers.TryGetValues("RateLimit", out var values))
        {
            foreach (var item in values.SelectMany(v => v.Split(',')))
            {
                foreach (var parameter in item.Split(';').Skip(1))
                {
                    var pair = parameter.Trim();
                    if (pair.StartsWith("t=", StringComparison.Ordinal)
                        && long.TryParse(pair[2..], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                        && (best is null || seconds < best.Value.TotalSeconds))
                    {
                        best = TimeSpan.FromSeconds(seconds);
                    }
                }
            }
        }

        if (best is null && response.Headers.TryGetValues("RateLimit-Reset", out var resets)
            && long.TryParse(resets.First().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var reset))
        {
            best = TimeSpan.FromSeconds(reset);
        }

        return best;
    }

    private static Validators ValidatorsOf(HttpResponseMessage response) =>
        new(response.Headers.ETag?.ToString(), response.Content.Headers.LastModified);

    /// <summary>True when a recorded validator exists and the server now sends a different (or no) value for it.</summary>
    private static bool Differ(Validators recorded, Validators now) =>
        (recorded.ETag is not null && !string.Equals(recorded.ETag, now.ETag, StringComparison.Ordinal))
        || (recorded.LastModified is not null && recorded.LastModified != now.LastModified);

    private enum StepKind
    {
        Completed,
        Again,
        Fault,
    }

    private readonly record struct Step(StepKind Kind, TransferError? Error)
    {
        public static readonly Step Completed = new(StepKind.Completed, null);
        public static readonly Step Again = new(StepKind.Again, null);

        public static Step Fault(TransferError error) => new(StepKind.Fault, error);
    }

    /// <summary>The state of one <see cref="DownloadAsync"/> call: file position, validators and counters.</summary>
    private sealed class Session(
        HttpFileDownloader owner, DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, FileStream file)
    {
        private long _offset;
        private long? _expectedSize = request.ExpectedSize;
        private Validators _validators = request.Validators ?? Validators.None;
        private bool _unknownLength;
        private byte[]? _serverSha256;
        private int _protocolRestarts;
        private int _misplacedRanges;
        private (FileRestartReason Reason, string Detail)? _pendingRestart;
        private bool _rangeFallbackTried;
        private long? _rangeLength = owner._hostRangeLimits.TryGetValue(HostKey(request.Url), out var limit) ? limit : null;
        private bool _rangeLengthReduced;
        private long _sinceCheckpoint;
        private long _lastCheckpointAt;

        /// <summary>Good bytes on disk.</summary>
        public long SafeOffset => _offset;

        private static string HostKey(Uri url) => url.IsAbsoluteUri ? $"{url.Scheme}://{url.Authority}" : "";

        public async Task<DownloadOutcome> RunAsync(CancellationToken ct)
        {
            PrepareTempFile();
            return await owner.AttemptUntilDoneAsync(request, observer, file, AttemptAsync, QuickRetryable, () => _offset,
                async token => await VerifyAsync(token).ConfigureAwait(false) ?? new DownloadOutcome.Completed(_offset, _validators),
                ct).ConfigureAwait(false);
        }

        /// <summary>Decision 8: cut junk past the journaled offset; a file shorter than it restarts from 0.</summary>
        private void PrepareTempFile()
        {
            var kept = TempFiles.CutBack(file, request.Offset);
            if (kept < request.Offset)
            {
                observer.OnRestarted(FileRestartReason.TempFileShort,
                    $"temp file holds {kept} bytes, journal says {request.Offset}");
                Truncate();
                return;
            }

            _offset = request.Offset;
            file.Position = _offset;
            _unknownLength = _offset > 0 && _expectedSize is null;
        }

        private void Truncate()
        {
            file.SetLength(0);
            file.Position = 0;
            _offset = 0;
            _sinceCheckpoint = 0;
        }

        private void Restart(FileRestartReason reason, string detail)
        {
            observer.OnRestarted(reason, detail);
            Truncate();
        }

        /// <summary>
        /// The bytes on disk cannot be continued: the next request is a plain GET, and the bytes are discarded only when
        /// its 200 arrives, so a failing server never costs the partial file. Allowed once per call, then a transient
        /// invalid-response fault.
        /// </summary>
        private Step ProtocolRestart(string detail, FileRestartReason reason = FileRestartReason.ValidatorChanged)
        {
            if (_protocolRestarts++ > 0)
            {
                return Step.Fault(ChangedAgain(request.Url, detail));
            }

            _pendingRestart = (reason, detail);
            return Step.Again;
        }

        /// <summary>Where the next ranged request starts: the offset, or <see cref="OverlapBytes"/> before it without a usable validator.</summary>
        private long RequestStart =>
            _validators.IsStrongETag || _validators.LastModified is not null ? _offset : _offset - Math.Min(_offset, OverlapBytes);

        /// <summary>
        /// Checks the finished temp file against the caller's SHA-256 and the server's RFC 9530 digest, if any. A
        /// mismatch drops the file's bytes (reported as a restart) and is a fatal <see cref="BitsErrors.ContentVerificationFailed"/>.
        /// </summary>
        private async Task<DownloadOutcome?> VerifyAsync(CancellationToken ct)
        {
            byte[]? expected = null;
            string? source = null;
            if (request.ExpectedSha256 is { } hex)
            {
                expected = Convert.FromHexString(hex);
                source = "the expected SHA-256";
            }

            if (expected is null && _serverSha256 is not null)
            {
                expected = _serverSha256;
                source = "the server's digest (RFC 9530)";
            }

            if (expected is null)
            {
                return null;
            }

            file.Position = 0;
            var actual = await System.Security.Cryptography.SHA256.HashDataAsync(file, ct).ConfigureAwait(false);
            var serverDisagrees = _serverSha256 is not null && !_serverSha256.AsSpan().SequenceEqual(actual);
            if (actual.AsSpan().SequenceEqual(expected) && !serverDisagrees)
            {
                return null;
            }

            var detail = serverDisagrees && actual.AsSpan().SequenceEqual(expected)
                ? $"SHA-256 {Convert.ToHexStringLower(actual)} differs from the server's digest (RFC 9530)"
                : $"SHA-256 {Convert.ToHexStringLower(actual)} differs from {source} {Convert.ToHexStringLower(expected)}";
            file.SetLength(0);
            file.Flush(flushToDisk: true);
            _offset = 0;
            observer.OnRestarted(FileRestartReason.VerificationFailed, detail);
            return new DownloadOutcome.Failed(new TransferError(ErrorContext.RemoteFile, BitsErrors.ContentVerificationFailed, null,
                $"{Redacted(request.Url)}: {detail}", IsTransient: false, RetryAfter: null), 0);
        }

        private async Task<Step> AttemptAsync(CancellationToken ct)
        {
            if (SchemeError(request.Url) is { } scheme)
            {
                return Step.Fault(scheme);
            }

            if (_offset > 0 && request.NoResume)
            {
                _pendingRestart ??= (FileRestartReason.DynamicContent, $"dynamic content: {_offset} bytes are not resumed");
            }

            if (_offset > 0 && request.Method is { } custom)
            {
                _pendingRestart ??= (FileRestartReason.CustomHttpMethod, $"HTTP method {custom}: {_offset} bytes are not resumed");
            }

            if (_offset > 0 && _unknownLength)
            {
                _pendingRestart ??= (FileRestartReason.UnknownLength, $"length unknown, {_offset} bytes cannot be resumed");
            }

            var ranged = _offset > 0 && _pendingRestart is null;
            var requestStart = ranged ? RequestStart : 0;
            long? requestEnd = null;
            if (ranged && _rangeLength is { } maxLength && _expectedSize is { } size && size - requestStart > maxLength)
            {
                requestEnd = requestStart + maxLength - 1;
            }

            HttpRequestMessage NewMessage(Uri target) =>
                NewRequest(request, MethodOf(request), target, ranged ? (requestStart, requestEnd) : null, _validators);

            using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
            idle.CancelAfter(IdleTimeoutOf(request));
            HttpResponseMessage response;
            var target = request.Url;
            var downgrades = 0;
            while (true)
            {
                try
                {
                    // the response keeps its request message (RequestMessage, FinalUrl); both are disposed with the response
                    response = await owner._http.SendAsync(NewMessage(target), HttpCompletionOption.ResponseHeadersRead, idle.Token)
                        .ConfigureAwait(false);
                }
                catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or IOException or OperationCanceledException or SocketException)
                {
                    return Step.Fault(NetworkError(ex, target, idle.IsCancellationRequested));
                }

                // HttpClient never follows https -> http (RFC 9110 §15.4 leaves it to the client); BITS follows it only
                // under BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP and fails otherwise (WinHTTP's REDIRECT_FAILED).
                if (!request.FollowRedirects || DowngradeOf(response) is not { } downgrade)
                {
                    break;
                }

                response.Dispose();
                if (!request.AllowHttpsToHttp)
                {
                    return Step.Fault(new TransferError(ErrorContext.RemoteFile, BitsErrors.RedirectFailed, null,
                        $"Redirect from {Redacted(target)} to {Redacted(downgrade)} refused: https to http needs BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP",
                        IsTransient: false, RetryAfter: null));
                }

                if (++downgrades > 10)
                {
                    return Step.Fault(new TransferError(ErrorContext.RemoteFile, BitsErrors.RedirectFailed, null,
                        $"Too many redirects from {Redacted(request.Url)}", IsTransient: false, RetryAfter: null));
                }

                target = downgrade;
            }

            using (response.RequestMessage)
            using (response)
            {
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                observer.OnResponseHeaders(HeaderBlock(response));
                var status = (int)response.StatusCode;
                var validators = ValidatorsOf(response);
                var asked = ranged ? $"Range: bytes={requestStart}-{requestEnd}" : "a plain GET";
                switch (status)
                {
                    case 200:
                        var changed = Differ(_validators, validators);
                        if (ranged && request.StrictRangeSupport && !changed)
                        {
                            return Step.Fault(new TransferError(ErrorContext.RemoteFile, BitsErrors.InsufficientRangeSupport, 200,
                                $"Server ignored {asked} (HTTP 200) for {Redacted(request.Url)}",
                                IsTransient: false, RetryAfter: null));
                        }

                        if (_offset > 0)
                        {
                            var (reason, detail) = _pendingRestart ?? (changed
                                ? (FileRestartReason.ValidatorChanged,
                                    $"validators changed from {Describe(_validators)} to {Describe(validators)}; HTTP 200 to {asked}")
                                : (FileRestartReason.RangeIgnored, $"HTTP 200 to {asked}"));
                            Restart(reason, detail);
                        }

                        _pendingRestart = null;
                        // RFC 9110 §9.3.2: a HEAD response has no content, whatever its Content-Length says
                        var length = response.RequestMessage?.Method == HttpMethod.Head ? 0 : response.Content.Headers.ContentLength;
                        return await AcceptAsync(response, 200, 0, length, length, validators, ct).ConfigureAwait(false);

                    case 206 when _pendingRestart is not null:
                        return Step.Fault(new TransferError(ErrorContext.RemoteFile, BitsErrors.InvalidServerResponse, 206,
                            $"HTTP 206 to a plain GET from {Redacted(request.Url)}", IsTransient: true, RetryAfter: null));

                    case 206:
                        var range = response.Content.Headers.ContentRange;
                        if (range is null || !range.HasRange || range.From is not { } from
                            || !string.Equals(range.Unit, "bytes", StringComparison.OrdinalIgnoreCase)
                            || range.To is { } last && last < from)
                        {
                            return ProtocolRestart($"HTTP 206 without a usable Content-Range ({range?.ToString() ?? "none"}) to {asked}");
                        }

                        if (range.HasLength && _expectedSize is { } expected && range.Length != expected)
                        {
                            return ProtocolRestart($"size changed from {expected} to {range.Length} bytes");
                        }

                        if (from > _offset)
                        {
                            // Starts after the bytes we have (a hole): ask once more, then restart.
                            return _misplacedRanges++ == 0
                                ? Step.Again
                                : ProtocolRestart($"HTTP 206 Content-Range {range} does not match {asked}");
                        }

                        if (_rangeLengthReduced && _rangeLength is { } accepted)
                        {
                            owner._hostRangeLimits[HostKey(request.Url)] = accepted;
                        }

                        var bodyLength = response.Content.Headers.ContentLength
                            ?? (range.To is { } to ? to - from + 1 : null);
                        var total = range.HasLength ? range.Length : _expectedSize;

                        return await AcceptAsync(response, 206, from, bodyLength, total, validators.IsEmpty ? _validators : validators, ct)
                            .ConfigureAwait(false);

                    case 416 when ranged:
                        var unsatisfied = response.Content.Headers.ContentRange;
                        var remoteSize = unsatisfied?.HasLength == true ? unsatisfied.Length : _expectedSize;
                        if (_expectedSize == _offset && remoteSize == _offset && !(validators.IsStrongETag && Differ(_validators, validators)))
                        {
                            if (!validators.IsEmpty)
                            {
                                _validators = validators;
                            }

                            return Step.Completed;
                        }

                        return ProtocolRestart(
                            $"HTTP 416 to {asked} (remote size {remoteSize?.ToString(CultureInfo.InvariantCulture) ?? "unknown"}, validators {Describe(validators)})");

                    case >= 400 and <= 499 when ranged && !BitsErrors.IsTransientHttpStatus(status) && status is not (401 or 407):
                        return RangeRejected(response, status, requestStart, requestEnd, asked);

                    default:
                        return Step.Fault(HttpError(response, status));
                }
            }
        }

        /// <summary>The http URL a redirect answered to an https request points at, or null for any other response.</summary>
        private static Uri? DowngradeOf(HttpResponseMessage response)
        {
            var status = (int)response.StatusCode;
            if (status is not (301 or 302 or 303 or 307 or 308) || response.Headers.Location is not { } location
                || response.RequestMessage?.RequestUri is not { Scheme: "https" } from)
            {
                return null;
            }

            var to = location.IsAbsoluteUri ? location : new Uri(from, location);
            return to.Scheme == "http" ? to : null;
        }

        /// <summary>
        /// A 4xx to a ranged GET (C07, C08): first ask for smaller ranges (halving down to <see cref="MinRangeLength"/>,
        /// remembered per host once one is accepted), then one plain GET; the bytes on disk are dropped only if that GET
        /// answers 200. Under <see cref="DownloadRequest.StrictRangeSupport"/> the 4xx is returned as it is.
        /// </summary>
        private Step RangeRejected(HttpResponseMessage response, int status, long requestStart, long? requestEnd, string asked)
        {
            if (request.StrictRangeSupport)
            {
                return Step.Fault(HttpError(response, status));
            }

            var askedLength = (requestEnd ?? (_expectedSize is { } size ? size - 1 : long.MaxValue - 1)) - requestStart + 1;
            if (_expectedSize is not null && askedLength > MinRangeLength)
            {
                _rangeLength = Math.Max(MinRangeLength, askedLength / 2);
                _rangeLengthReduced = true;
                return Step.Again;
            }

            if (!_rangeFallbackTried)
            {
                _rangeFallbackTried = true;
                _pendingRestart = (FileRestartReason.RangeIgnored, $"HTTP {status} to {asked}; a plain GET answered instead");
                return Step.Again;
            }

            return Step.Fault(HttpError(response, status));
        }

        private TransferError HttpError(HttpResponseMessage response, int status)
        {
            if (status is >= 300 and <= 399)
            {
                var reason = response.ReasonPhrase is { Length: > 0 } phrase ? phrase : ((HttpStatusCode)status).ToString();
                return Fatal(BitsErrors.ForHttpStatus(status), status,
                    $"HTTP {status} {reason} for {Redacted(request.Url)}: redirect not followed (too many redirects or no Location)");
            }

            return owner.StatusError(response, status, request.Url);
        }

        private static string Describe(Validators v) =>
            v.IsEmpty ? "none" : string.Join(' ', new[] { v.ETag, v.LastModified?.ToString("R") }.Where(s => s is not null));

        /// <summary>
        /// Writes an accepted 200/206 body that starts at file offset <paramref name="bodyStart"/> ≤ <see cref="_offset"/>:
        /// the bytes before <see cref="_offset"/> are compared with the ones on disk (never written twice); a difference
        /// means the remote file changed, and the file restarts with a plain GET.
        /// </summary>
        /// <param name="bodyLength">bytes the body must have (Content-Length), or null when framed by the connection/chunks.</param>
        /// <param name="total">total file size, or null when unknown.</param>
        /// <param name="response">the accepted response; its body is read here.</param>
        /// <param name="status">200 or 206.</param>
        /// <param name="bodyStart">file offset of the body's first byte.</param>
        /// <param name="validators">the response's validators, recorded for later resumes.</param>
        /// <param name="ct">cancels the read and the writes.</param>
        private async Task<Step> AcceptAsync(
            HttpResponseMessage response, int status, long bodyStart, long? bodyLength, long? total, Validators validators, CancellationToken ct)
        {
            if (request.MaxBytes is { } cap && total is { } announced && announced > cap)
            {
                return Step.Fault(MaxSizeError(request, announced, cap));
            }

            var previousValidators = _validators;
            _validators = validators;
            // RFC 9530: Repr-Digest covers the whole representation (200 or 206); Content-Digest only this message's
            // content, which is the whole file for a 200 with identity encoding.
            _serverSha256 = ContentDigest.Sha256Of(response, status == 200) ?? _serverSha256;
            _expectedSize = total;
            _unknownLength = total is null;
            file.Position = _offset;
            var overlap = _offset - bodyStart;
            var answered = response.RequestMessage?.RequestUri;
            observer.OnResponse(new ResponseInfo(status, _offset, total, validators)
            {
                FinalUrl = answered is not null && answered != request.Url ? answered : null,
            });
            _lastCheckpointAt = owner._time.GetTimestamp();

            long written = 0;
            var onDisk = overlap > 0 ? ArrayPool<byte>.Shared.Rent(BufferSize) : null;
            try
            {
                var (_, stop) = await CopyBodyAsync(response, request, throttle, file, bodyLength, Inspect, Wrote, ct).ConfigureAwait(false);
                if (stop is { } ended)
                {
                    return ended;
                }
            }
            finally
            {
                if (onDisk is not null)
                {
                    ArrayPool<byte>.Shared.Return(onDisk);
                }
            }

            if (total is { } size && _offset < size)
            {
                // A 206 that ended before the file did (RFC 9110 §14.4): ask for the rest at once when new bytes came.
                return written > 0
                    ? Step.Again
                    : Step.Fault(new TransferError(ErrorContext.RemoteFile, BitsErrors.InvalidServerResponse, status,
                        $"HTTP {status} ended at {_offset} of {size} bytes from {Redacted(request.Url)}", IsTransient: true, RetryAfter: null));
            }

            if (total is { } exact && _offset > exact)
            {
                return ProtocolRestart($"HTTP {status} body ran past the {exact}-byte size it announced");
            }

            return Step.Completed;

            // the bytes the server sends again before the offset are compared with the disk, not written
            async ValueTask<BodyVerdict> Inspect(ReadOnlyMemory<byte> chunk, long _)
            {
                var compared = 0;
                if (overlap > 0)
                {
                    var compare = (int)Math.Min(overlap, chunk.Length);
                    file.Position = _offset - overlap;
                    await file.ReadExactlyAsync(onDisk.AsMemory(0, compare), ct).ConfigureAwait(false);
                    file.Position = _offset;
                    if (!chunk.Span[..compare].SequenceEqual(onDisk.AsSpan(0, compare)))
                    {
                        _validators = previousValidators;
                        return BodyVerdict.End(ProtocolRestart(
                            $"bytes {bodyStart}-{_offset - 1} sent again by the server differ from the ones on disk (remote file changed)"));
                    }

                    overlap -= compare;
                    compared = compare;
                }

                if (compared == chunk.Length)
                {
                    return BodyVerdict.SkipFirst(compared);
                }

                if (request.MaxBytes is { } limit && _offset + (chunk.Length - compared) > limit)
                {
                    // chunked / dynamic content announces no size: the cap is counted while streaming
                    return BodyVerdict.End(Step.Fault(MaxSizeError(request, _offset + (chunk.Length - compared), limit)));
                }

                return BodyVerdict.SkipFirst(compared);
            }

            void Wrote(int n)
            {
                _offset += n;
                written += n;
                _sinceCheckpoint += n;
                MaybeCheckpoint();
            }
        }

        private void MaybeCheckpoint()
        {
            var now = owner._time.GetTimestamp();
            if (_sinceCheckpoint < request.CheckpointBytes
                && owner._time.GetElapsedTime(_lastCheckpointAt, now) < request.CheckpointInterval)
            {
                return;
            }

            file.Flush(flushToDisk: false);
            _sinceCheckpoint = 0;
            _lastCheckpointAt = now;
            observer.OnCheckpoint(_offset);
        }
    }
}
