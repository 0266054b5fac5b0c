using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace Qmgr.Transport;

// The steps the whole-file, AddFileWithRanges and ON_DEMAND_MODE paths share: building and sending a ranged GET,
// checking a 206 against the range asked, and the errors they word alike.
public sealed partial class HttpFileDownloader
{
    /// <summary>The read timeout of <paramref name="request"/>: <see cref="DownloadRequest.IdleTimeout"/>, or infinite when it is zero.</summary>
    private static TimeSpan IdleTimeoutOf(DownloadRequest request) =>
        request.IdleTimeout > TimeSpan.Zero ? request.IdleTimeout : Timeout.InfiniteTimeSpan;

    /// <summary>A fatal RemoteFile error (the job enters Error).</summary>
    private static TransferError Fatal(int hresult, int? status, string message) =>
        new(ErrorContext.RemoteFile, hresult, status, message, IsTransient: false, RetryAfter: null);

    /// <summary><see cref="BitsErrors.UnrecognizedScheme"/> (fatal) for a URL that is not absolute http or https; null for one that is.</summary>
    private static TransferError? SchemeError(Uri url) =>
        !url.IsAbsoluteUri || url.Scheme is not ("http" or "https")
            ? Fatal(BitsErrors.UnrecognizedScheme, null,
                $"Unsupported URL {Redacted(url)}: only absolute http and https URLs can be downloaded")
            : null;

    /// <summary>The remote file changed a second time within one call: a transient <see cref="BitsErrors.InvalidServerResponse"/>.</summary>
    private static TransferError ChangedAgain(Uri url, string detail) =>
        new(ErrorContext.RemoteFile, BitsErrors.InvalidServerResponse, null,
            $"Invalid server response for {Redacted(url)}: {detail}", IsTransient: true, RetryAfter: null);

    /// <summary>
    /// The error for an HTTP status no path handles itself: <c>0x80190000 + status</c> (<see cref="BitsErrors.ForHttpStatus"/>),
    /// RemoteFile; transient for 408, 429 and 5xx, then with the response's <c>Retry-After</c> (or rate-limit reset).
    /// </summary>
    private TransferError StatusError(HttpResponseMessage response, int status, Uri url)
    {
        var reason = response.ReasonPhrase is { Length: > 0 } phrase ? phrase : ((HttpStatusCode)status).ToString();
        var transient = BitsErrors.IsTransientHttpStatus(status);
        return new TransferError(ErrorContext.RemoteFile, BitsErrors.ForHttpStatus(status), status,
            $"HTTP {status} {reason} for {Redacted(url)}", transient, transient ? RetryAfterOf(response) : null);
    }

    /// <summary>
    /// A request for <paramref name="target"/> with <c>Accept-Encoding: identity</c> (RFC 9110 §12.5.3) and the job's
    /// custom headers; with <paramref name="range"/>, also <c>Range: bytes=From-To</c> (§14.2, To null = to the end) and
    /// <c>If-Range</c> (§13.1.5) with the strong ETag of <paramref name="validators"/>, else its Last-Modified, else none.
    /// </summary>
    private static HttpRequestMessage NewRequest(
        DownloadRequest request, HttpMethod method, Uri target, (long From, long? To)? range, Validators validators)
    {
        var message = new HttpRequestMessage(method, target);
        message.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        foreach (var (name, value) in request.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        if (range is { } asked)
        {
            message.Headers.Range = new RangeHeaderValue(asked.From, asked.To);
            if (validators.IsStrongETag && EntityTagHeaderValue.TryParse(validators.ETag, out var etag))
            {
                message.Headers.IfRange = new RangeConditionHeaderValue(etag);
            }
            else if (validators.LastModified is { } lastModified)
            {
                message.Headers.IfRange = new RangeConditionHeaderValue(lastModified);
            }
        }

        return message;
    }

    /// <summary>
    /// Sends one ranged request (<see cref="NewRequest"/>) and waits for its response headers under the request's idle
    /// timeout. Returns the response (the caller disposes it) and whether it carried <c>If-Range</c>, or the network
    /// fault (<see cref="NetworkError"/>) when no response came.
    /// </summary>
    private async Task<(HttpResponseMessage? Response, bool Conditional, TransferError? Error)> SendRangedAsync(
        DownloadRequest request, HttpMethod method, long from, long? to, Validators validators, CancellationToken ct)
    {
        using var message = NewRequest(request, method, request.Url, (from, to), validators);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        idle.CancelAfter(IdleTimeoutOf(request));
        try
        {
            var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, idle.Token).ConfigureAwait(false);
            return (response, message.Headers.IfRange is not null, null);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or IOException or OperationCanceledException or SocketException)
        {
            return (null, false, NetworkError(ex, request.Url, idle.IsCancellationRequested));
        }
    }

    /// <summary>
    /// True when a <c>206</c>'s <c>Content-Range</c> fits the range asked (bytes <paramref name="from"/> to
    /// <paramref name="to"/>, null = to the end): a byte range that starts at <paramref name="from"/> and ends neither
    /// before it nor past <paramref name="to"/>. When it does not, <see cref="ContentRangeMisfit"/> is the error.
    /// </summary>
    private static bool ContentRangeFits([NotNullWhen(true)] ContentRangeHeaderValue? contentRange, long from, long? to) =>
        contentRange is not null && contentRange.HasRange && contentRange.From == from
        && string.Equals(contentRange.Unit, "bytes", StringComparison.OrdinalIgnoreCase)
        && !(contentRange.To is { } last && (last < from || to is { } end && last > end));

    /// <summary>A <c>206</c> whose <c>Content-Range</c> does not fit the range asked: fatal <see cref="BitsErrors.InvalidServerResponse"/>.</summary>
    private static TransferError ContentRangeMisfit(ContentRangeHeaderValue? contentRange, string asked, Uri url) =>
        Fatal(BitsErrors.InvalidServerResponse, 206,
            $"HTTP 206 with Content-Range {contentRange?.ToString() ?? "none"} to {asked} from {Redacted(url)}");
}
