using System.Buffers;
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

    /// <summary>What <see cref="CopyBodyAsync"/> does with one buffer it read from the body.</summary>
    /// <param name="Skip">leading bytes of the buffer that are already on disk: received, but neither throttled nor written.</param>
    /// <param name="Stop">ends the copy with this step before any byte of the buffer is written; null goes on.</param>
    private readonly record struct BodyVerdict(int Skip, Step? Stop)
    {
        public static readonly BodyVerdict WriteAll = new(0, null);

        public static BodyVerdict End(Step step) => new(0, step);

        public static BodyVerdict SkipFirst(int bytes) => new(bytes, null);
    }

    /// <summary>
    /// Streams the body of <paramref name="response"/> into <paramref name="file"/> at its current position, in buffers of
    /// <see cref="BufferSize"/> bytes, each read under the request's idle timeout. Every buffer is first shown to
    /// <paramref name="inspect"/> (with the body bytes received before it); the bytes it lets through are paid for with
    /// <paramref name="throttle"/>, written, then handed to <paramref name="wrote"/> (count them, checkpoint when due).
    /// </summary>
    /// <returns>The body bytes received, and what ended the copy early: a network fault (<see cref="NetworkError"/>),
    /// <paramref name="inspect"/>'s stop, or a transient <see cref="BitsErrors.ConnectionAborted"/> when the body ended
    /// before <paramref name="bodyLength"/> bytes (null: framed by the connection or chunks); null when the body was read
    /// to its end.</returns>
    private static async Task<(long Received, Step? Stop)> CopyBodyAsync(
        HttpResponseMessage response, DownloadRequest request, BandwidthThrottle throttle, FileStream file, long? bodyLength,
        Func<ReadOnlyMemory<byte>, long, ValueTask<BodyVerdict>> inspect, Action<int> wrote, CancellationToken ct)
    {
        var idleTimeout = IdleTimeoutOf(request);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Stream body;
        try
        {
            idle.CancelAfter(idleTimeout);
            body = await response.Content.ReadAsStreamAsync(idle.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or IOException or OperationCanceledException)
        {
            return (0, Step.Fault(NetworkError(ex, request.Url, idle.IsCancellationRequested)));
        }

        long received = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await using (body.ConfigureAwait(false))
            {
                while (true)
                {
                    int n;
                    try
                    {
                        idle.CancelAfter(idleTimeout);
                        n = await body.ReadAsync(buffer.AsMemory(0, BufferSize), idle.Token).ConfigureAwait(false);
                        idle.CancelAfter(Timeout.InfiniteTimeSpan);
                    }
                    catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or IOException or OperationCanceledException)
                    {
                        return (received, Step.Fault(NetworkError(ex, request.Url, idle.IsCancellationRequested)));
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    var verdict = await inspect(buffer.AsMemory(0, n), received).ConfigureAwait(false);
                    if (verdict.Stop is { } stop)
                    {
                        return (received, stop);
                    }

                    received += n;
                    var fresh = n - verdict.Skip;
                    if (fresh == 0)
                    {
                        continue;
                    }

                    await throttle(fresh, ct).ConfigureAwait(false);
                    // fenced after the throttle's wait, right before the bytes reach the file
                    if (!MayWrite(request))
                    {
                        return (received, Step.Fault(BitsErrors.LeaseNotHeld(request.TempPath)));
                    }

                    await file.WriteAsync(buffer.AsMemory(verdict.Skip, fresh), ct).ConfigureAwait(false);
                    wrote(fresh);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (bodyLength is { } expected && received < expected)
        {
            return (received, Step.Fault(new TransferError(ErrorContext.GeneralTransport, BitsErrors.ConnectionAborted, null,
                $"Body ended after {received} of {expected} bytes from {Redacted(request.Url)}", IsTransient: true, RetryAfter: null)));
        }

        return (received, null);
    }

    /// <summary>
    /// Streams an accepted <c>206</c> body (the answer to <paramref name="asked"/>, starting at byte <paramref name="from"/>)
    /// into <paramref name="file"/> at its current position with <see cref="CopyBodyAsync"/>. A body that runs past the
    /// <paramref name="remaining"/> bytes asked is a fatal <see cref="BitsErrors.InvalidServerResponse"/>; one that would
    /// take the bytes on disk (<paramref name="onDisk"/>) past <see cref="DownloadRequest.MaxBytes"/> is
    /// <see cref="BitsErrors.MaxDownloadSizeLimitReached"/>; an empty one is a transient
    /// <see cref="BitsErrors.InvalidServerResponse"/>. Returns <see cref="Step.Again"/> once bytes came (the caller asks
    /// for what is still missing), else the fault.
    /// </summary>
    private static async Task<Step> CopyRangeAsync(
        HttpResponseMessage response, DownloadRequest request, BandwidthThrottle throttle, FileStream file, long from, long remaining,
        string asked, Func<long> onDisk, Action<int> wrote, CancellationToken ct)
    {
        var contentRange = response.Content.Headers.ContentRange;
        var bodyLength = response.Content.Headers.ContentLength ?? (contentRange?.To is { } t ? t - from + 1 : null);
        var (received, stop) = await CopyBodyAsync(response, request, throttle, file, bodyLength, Inspect, wrote, ct).ConfigureAwait(false);
        if (stop is { } ended)
        {
            return ended;
        }

        if (received == 0)
        {
            return Step.Fault(new TransferError(ErrorContext.RemoteFile, BitsErrors.InvalidServerResponse, 206,
                $"HTTP 206 with an empty body to {asked} from {Redacted(request.Url)}", IsTransient: true, RetryAfter: null));
        }

        return Step.Again;

        ValueTask<BodyVerdict> Inspect(ReadOnlyMemory<byte> chunk, long before)
        {
            if (before + chunk.Length > remaining)
            {
                return ValueTask.FromResult(BodyVerdict.End(Step.Fault(Fatal(BitsErrors.InvalidServerResponse, 206,
                    $"HTTP 206 body ran past {asked} from {Redacted(request.Url)}"))));
            }

            if (request.MaxBytes is { } limit && onDisk() + chunk.Length > limit)
            {
                return ValueTask.FromResult(BodyVerdict.End(Step.Fault(MaxSizeError(request, onDisk() + chunk.Length, limit))));
            }

            return ValueTask.FromResult(BodyVerdict.WriteAll);
        }
    }

    /// <summary>
    /// Runs one session's <paramref name="run"/>. A local file fault becomes <see cref="DownloadOutcome.Failed"/> with
    /// <see cref="LocalError"/> and the bytes on disk (<paramref name="onDisk"/>); a cancellation of
    /// <paramref name="ct"/> first lets the session keep what it wrote (<paramref name="cancelled"/>), then propagates.
    /// </summary>
    private static async Task<DownloadOutcome> GuardAsync(
        DownloadRequest request, Func<CancellationToken, Task<DownloadOutcome>> run, Action cancelled, Func<long> onDisk, CancellationToken ct)
    {
        try
        {
            return await run(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            cancelled();
            throw;
        }
        catch (Exception ex) when (IsLocalFault(ex))
        {
            return new DownloadOutcome.Failed(LocalError(ex, request.TempPath), onDisk());
        }
    }

    /// <summary>Hands what was written to the OS when cancelling; a failing or closed file keeps whatever reached it.</summary>
    private static void FlushQuietly(FileStream file)
    {
        try
        {
            file.Flush(flushToDisk: false);
        }
        catch (Exception ex) when (IsLocalFault(ex) || ex is ObjectDisposedException)
        {
            // cancelling: the file keeps whatever reached the OS
        }
    }

    /// <summary>
    /// The attempt loop of one call: runs <paramref name="attempt"/> until it completes (the file is fsynced, then
    /// <paramref name="completed"/> gives the outcome) or fails for good. After a fault the file is fsynced (Decision 8);
    /// a fault <paramref name="retryable"/> accepts gets Decision 6's quick retries: the next of
    /// <see cref="DownloadRequest.QuickRetryDelays"/> (or the fault's <see cref="TransferError.RetryAfter"/>, unless it is
    /// longer than <see cref="DownloadRequest.MaxQuickRetryAfter"/>), reported with
    /// <see cref="IDownloadObserver.OnQuickRetry"/>. The count goes back to 0 whenever the bytes on disk
    /// (<paramref name="onDisk"/>) pass the highest count reached earlier in the call, so a long download over a flaky
    /// link keeps going while a server that fails before adding bytes uses the delays up. Otherwise the outcome is
    /// <see cref="DownloadOutcome.Failed"/> with the fault and the bytes on disk.
    /// </summary>
    private async Task<DownloadOutcome> AttemptUntilDoneAsync(
        DownloadRequest request, IDownloadObserver observer, FileStream file, Func<CancellationToken, Task<Step>> attempt,
        Func<TransferError, bool> retryable, Func<long> onDisk, Func<CancellationToken, Task<DownloadOutcome>> completed,
        CancellationToken ct)
    {
        var highWater = onDisk();
        var retries = 0;
        while (true)
        {
            var step = await attempt(ct).ConfigureAwait(false);
            if (step.Kind == StepKind.Completed)
            {
                file.Flush(flushToDisk: true);
                return await completed(ct).ConfigureAwait(false);
            }

            if (step.Kind == StepKind.Again)
            {
                continue;
            }

            var error = step.Error!;
            file.Flush(flushToDisk: true);
            if (!retryable(error))
            {
                return new DownloadOutcome.Failed(error, onDisk());
            }

            if (onDisk() > highWater)
            {
                highWater = onDisk();
                retries = 0;
            }

            if (retries >= request.QuickRetryDelays.Count
                || error.RetryAfter is { } tooLong && tooLong > request.MaxQuickRetryAfter)
            {
                return new DownloadOutcome.Failed(error, onDisk());
            }

            var delay = error.RetryAfter ?? request.QuickRetryDelays[retries];
            retries++;
            observer.OnQuickRetry(retries, delay, error);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
            }
        }
    }
}
