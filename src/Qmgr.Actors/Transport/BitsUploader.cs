using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace Qmgr.Transport;

/// <summary>
/// The client side of the BITS Upload Protocol ([MC-BUP], BITS 1.5 protocol
/// <c>{7df0354d-249b-430f-820d-3d2a9bef4931}</c>) over one <see cref="HttpClient"/> route: every packet is an HTTP
/// request with method <c>BITS_POST</c> and a <c>BITS-Packet-Type</c> header.
/// </summary>
/// <remarks>
/// <list type="number">
/// <item><c>Ping</c>, then <c>Create-Session</c> (<c>BITS-Supported-Protocols</c>); the server's Ack names the protocol
/// (<c>BITS-Protocol</c>, else BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH) and the session (<c>BITS-Session-Id</c>), which is
/// reported with the source's size and last write time so the job journals it.</item>
/// <item><c>Fragment</c>s in order, <see cref="DownloadRequest.CheckpointBytes"/> bytes each (<c>Content-Range: bytes a-b/total</c>,
/// <c>Content-Length</c>, <c>Content-Name</c> on the first), the body paid for with the <see cref="BandwidthThrottle"/>
/// in steps of 64 KiB. The Ack's <c>BITS-Received-Content-Range</c> (the next offset the server expects) is reported as
/// a checkpoint; a 416 answer carries it too and the upload continues there. A resumed upload therefore continues at the
/// server's offset, never from zero unless the server lost the session (<c>BITS-Error-Code</c> BG_E_SESSION_NOT_FOUND):
/// then one new session starts from byte 0 (<see cref="FileRestartReason.UploadSessionLost"/>).</item>
/// <item>Upload-reply: the Ack of the last fragment names the reply (<c>BITS-Reply-URL</c>, relative to the upload URL);
/// it is downloaded with the route's <see cref="HttpFileDownloader"/> into the reply temp file (no URL: an empty reply).</item>
/// <item><c>Close-Session</c> ends the session (best effort: the server already has the file). <see cref="CancelSessionAsync"/>
/// sends <c>Cancel-Session</c>.</item>
/// </list>
/// <para>Errors: <c>BITS-Error-Code</c> (hex HRESULT) and <c>BITS-Error-Context</c> (BG_ERROR_CONTEXT, 7 = the server
/// application) when the server sends them, else <c>BG_E_HTTP_ERROR_xxx</c>; 408/429/5xx outside the server
/// application and network faults are transient and quick-retried like downloads (Decision 6), except 501 and 405 without
/// <c>BITS-Error-Code</c>: the server does not implement <c>BITS_POST</c> at all (a plain web server), so the job fails at once
/// with BG_E_HTTP_ERROR_501 / BG_E_HTTP_ERROR_405 (0x801901F5 / 0x80190195, RemoteFile context), as BITS reports an HTTP
/// status it cannot use. The source is checked
/// before and after every fragment: a different size or last write time than when the session was created is fatal
/// BG_E_LOCAL_FILE_CHANGED (LocalFile context). Empty files cannot be uploaded (a fragment carries at least one byte).</para>
/// </remarks>
public sealed class BitsUploader
{
    /// <summary>The BITS 1.5 Upload Protocol GUID, the only one offered in <c>BITS-Supported-Protocols</c>.</summary>
    public const string ProtocolGuid = "{7df0354d-249b-430f-820d-3d2a9bef4931}";

    /// <summary>BG_E_LOCAL_FILE_CHANGED (0x8020001D): the upload's source changed after its session began. Fatal.</summary>
    public const int LocalFileChanged = unchecked((int)0x8020001D);

    /// <summary>BG_E_SESSION_NOT_FOUND (0x8020001F): the server does not know the upload session.</summary>
    public const int SessionNotFound = unchecked((int)0x8020001F);

    /// <summary>BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH (0x80200022): the server chose no protocol this client speaks. Fatal.</summary>
    public const int ProtocolMismatch = unchecked((int)0x80200022);

    private static readonly HttpMethod BitsPost = new("BITS_POST");
    private readonly HttpClient _http;
    private readonly IFileDownloader _replyDownloader;

    /// <summary>An uploader over <paramref name="http"/>; replies are downloaded with <paramref name="replyDownloader"/> (the same route).</summary>
    public BitsUploader(HttpClient http, IFileDownloader replyDownloader)
    {
        _http = http;
        _replyDownloader = replyDownloader;
    }

    /// <summary>
    /// Runs the upload (and the reply download of an upload-reply job) with quick retries. Never throws for HTTP or
    /// I/O faults (they become <see cref="DownloadOutcome.Failed"/> whose <c>BytesOnDisk</c> is the acknowledged offset);
    /// throws <see cref="OperationCanceledException"/> when cancelled. Completed carries the upload's size in bytes.
    /// </summary>
    public async Task<DownloadOutcome> UploadAsync(DownloadRequest request, IUploadObserver observer, BandwidthThrottle throttle, CancellationToken cancellationToken)
    {
        var state = new State(request);
        var retries = 0;
        var best = state.Acked;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var outcome = await AttemptAsync(state, observer, throttle, cancellationToken).ConfigureAwait(false);
            if (outcome is not DownloadOutcome.Failed { Error.IsTransient: true } failed) return outcome;
            if (state.Acked > best) { best = state.Acked; retries = 0; }
            var error = failed.Error;
            if (retries >= request.QuickRetryDelays.Count || error.RetryAfter > request.MaxQuickRetryAfter) return failed;
            var delay = error.RetryAfter ?? request.QuickRetryDelays[retries];
            retries++;
            observer.OnQuickRetry(retries, delay, error);
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends <c>Cancel-Session</c> for <see cref="UploadRequest.SessionId"/> (BITS Cancel, T19), one attempt. True when the
    /// server acknowledged it or no longer knows the session; false on any other answer or fault (never throws but for
    /// cancellation).
    /// </summary>
    public async Task<bool> CancelSessionAsync(DownloadRequest request, CancellationToken cancellationToken)
    {
        if (request.Upload?.SessionId is not { } session) return true;
        try
        {
            using var response = await SendAsync(Packet(request, "Cancel-Session", session), request.IdleTimeout, cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode || ErrorCodeOf(response) == SessionNotFound;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }

    private sealed class State(DownloadRequest request)
    {
        public readonly DownloadRequest Request = request;
        public readonly UploadRequest Upload = request.Upload!;
        public long Acked = request.Offset;
        public string? SessionId = request.Upload!.SessionId;
        public long SourceSize = request.Upload!.SourceSize;
        public DateTimeOffset SourceLastWrite = request.Upload!.SourceLastWrite;
        public string? ReplyUrl = request.Upload!.ReplyUrl;
        public bool SessionLostOnce;
    }

    private async Task<DownloadOutcome> AttemptAsync(State s, IUploadObserver observer, BandwidthThrottle throttle, CancellationToken ct)
    {
        var request = s.Request;
        try
        {
            var (size, lastWrite) = Stat(s.Upload.SourcePath);
            if (s.SessionId is not null && (size != s.SourceSize || lastWrite != s.SourceLastWrite)) return Changed(s);
            if (size == 0)
                return Fatal(ErrorContext.LocalFile, HResults.E_INVALIDARG, null, $"{s.Upload.SourcePath} is empty; the BITS Upload Protocol sends at least one byte");

            if (!(s.Upload.WithReply && s.ReplyUrl is not null))
            {
                if (s.SessionId is null)
                {
                    if (await CreateSessionAsync(s, size, lastWrite, observer, ct).ConfigureAwait(false) is { } refused) return refused;
                }
                observer.OnResponse(new ResponseInfo(200, s.Acked, size, Validators.None));
                var sentLastAgain = false;
                while (s.Acked < size || (s.Upload.WithReply && s.ReplyUrl is null && !sentLastAgain))
                {
                    // a journaled offset at the end without a reply URL: send the last byte again so the server names the reply
                    var start = s.Acked < size ? s.Acked : size - 1;
                    sentLastAgain = s.Acked >= size;
                    var length = Math.Min(Math.Max(request.CheckpointBytes, 1), size - start);
                    var step = await FragmentAsync(s, start, length, size, lastWrite, observer, throttle, ct).ConfigureAwait(false);
                    if (step is not null) return step;
                }
            }

            if (s.Upload.WithReply)
            {
                var reply = await ReplyAsync(s, observer, ct).ConfigureAwait(false);
                if (reply is DownloadOutcome.Failed replyFailed) return new DownloadOutcome.Failed(replyFailed.Error, s.Acked);
            }
            await CloseSessionAsync(s, ct).ConfigureAwait(false);
            return new DownloadOutcome.Completed(size, Validators.None);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException || (HttpFileDownloader.IsLocalFault(ex) && ex is not HttpIOException))
        {
            return new DownloadOutcome.Failed(HttpFileDownloader.LocalError(ex, s.Upload.SourcePath), s.Acked);
        }
    }

    private async Task<DownloadOutcome.Failed?> CreateSessionAsync(State s, long size, DateTimeOffset lastWrite, IUploadObserver observer, CancellationToken ct)
    {
        var request = s.Request;
        try
        {
            using (var ping = await SendAsync(Packet(request, "Ping", null), request.IdleTimeout, ct).ConfigureAwait(false))
                if (ServerError(ping, request.Url) is { } pingError) return Failed(pingError, s);

            var create = Packet(request, "Create-Session", null);
            create.Headers.TryAddWithoutValidation("BITS-Supported-Protocols", ProtocolGuid);
            using var response = await SendAsync(create, request.IdleTimeout, ct).ConfigureAwait(false);
            if (ServerError(response, request.Url) is { } error) return Failed(error, s);
            var protocol = HeaderOf(response, "BITS-Protocol");
            if (!string.Equals(protocol, ProtocolGuid, StringComparison.OrdinalIgnoreCase))
                return Fatal(ErrorContext.RemoteFile, ProtocolMismatch, (int)response.StatusCode,
                    $"the upload server at {HttpFileDownloader.Redacted(request.Url)} chose protocol '{protocol}', not {ProtocolGuid}");
            var session = HeaderOf(response, "BITS-Session-Id");
            if (string.IsNullOrWhiteSpace(session))
                return Failed(new TransferError(ErrorContext.RemoteFile, BitsErrors.InvalidServerResponse, (int)response.StatusCode,
                    "the upload server created no BITS-Session-Id", IsTransient: true, RetryAfter: null), s);
            (s.SessionId, s.SourceSize, s.SourceLastWrite, s.Acked) = (session, size, lastWrite, 0);
            observer.OnSessionCreated(session, size, lastWrite);
            return null;
        }
        catch (Exception ex) when (ex is HttpRequestException or HttpIOException or IOException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return Failed(HttpFileDownloader.NetworkError(ex, request.Url, ex is OperationCanceledException), s);
        }
    }

    // one Fragment packet; null = continue with s.Acked, else the attempt's outcome
    private async Task<DownloadOutcome?> FragmentAsync(State s, long start, long length, long size, DateTimeOffset lastWrite,
        IUploadObserver observer, BandwidthThrottle throttle, CancellationToken ct)
    {
        var request = s.Request;
        var packet = Packet(request, "Fragment", s.SessionId);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        idle.CancelAfter(request.IdleTimeout);
        packet.Content = new FragmentContent(s.Upload.SourcePath, start, length, throttle, () => idle.CancelAfter(request.IdleTimeout));
        packet.Content.Headers.ContentRange = new ContentRangeHeaderValue(start, start + length - 1, size);
        if (start == 0) packet.Headers.TryAddWithoutValidation("Content-Name", Uri.EscapeDataString(Path.GetFileName(s.Upload.SourcePath)));
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(packet, HttpCompletionOption.ResponseHeadersRead, idle.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or HttpIOException || (ex is IOException && ex.InnerException is not null)
                                   || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return Failed(HttpFileDownloader.NetworkError(ex, request.Url, ex is OperationCanceledException), s);
        }
        using (response)
        {
            if (Stat(s.Upload.SourcePath) != (s.SourceSize, s.SourceLastWrite)) return Changed(s);
            if (ErrorCodeOf(response) == SessionNotFound || response.StatusCode == HttpStatusCode.Gone)
            {
                if (s.SessionLostOnce)
                    return Fatal(ErrorContext.RemoteFile, SessionNotFound, (int)response.StatusCode, "the upload server lost the new session too");
                s.SessionLostOnce = true;
                s.SessionId = null;
                s.Acked = 0;
                observer.OnRestarted(FileRestartReason.UploadSessionLost, $"the server no longer knows the session (HTTP {(int)response.StatusCode}); a new session starts from byte 0");
                if (await CreateSessionAsync(s, size, lastWrite, observer, ct).ConfigureAwait(false) is { } refused) return refused;
                observer.OnResponse(new ResponseInfo(200, 0, size, Validators.None));
                return null;
            }
            var received = ReceivedOf(response);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && received is long expected && expected <= size)
            {
                // the server holds a different prefix than the journal says: continue where it is
                s.Acked = expected;
                observer.OnCheckpoint(expected);
                return null;
            }
            if (ServerError(response, request.Url) is { } error) return Failed(error, s);
            if (received is not long next || next > size)
                return Failed(new TransferError(ErrorContext.RemoteFile, BitsErrors.InvalidServerResponse, (int)response.StatusCode,
                    $"the fragment Ack carries no valid BITS-Received-Content-Range ('{HeaderOf(response, "BITS-Received-Content-Range")}')", IsTransient: true, RetryAfter: null), s);
            if (next >= size && s.Upload.WithReply)
            {
                // the server ran its application on the whole upload; no BITS-Reply-URL = an empty reply
                var reply = HeaderOf(response, "BITS-Reply-URL");
                s.ReplyUrl = string.IsNullOrEmpty(reply) ? "" : new Uri(request.Url, reply).AbsoluteUri;
                observer.OnReplyProgress(s.ReplyUrl, null, 0);
            }
            s.Acked = next;
            observer.OnCheckpoint(next);
            return null;
        }
    }

    private async Task<DownloadOutcome> ReplyAsync(State s, IUploadObserver observer, CancellationToken ct)
    {
        var request = s.Request;
        var temp = s.Upload.ReplyTempPath ?? throw new InvalidOperationException("an upload-reply transfer needs a reply temp path");
        if (s.ReplyUrl is "" or null)
        {
            await File.WriteAllBytesAsync(temp, [], ct).ConfigureAwait(false);
            observer.OnReplyProgress("", 0, 0);
            return new DownloadOutcome.Completed(0, Validators.None);
        }
        var url = s.ReplyUrl;
        var replyRequest = new DownloadRequest(new Uri(url), temp, 0, Validators.None, null, false, request.CheckpointBytes,
            request.CheckpointInterval, request.QuickRetryDelays, request.MaxQuickRetryAfter, request.IdleTimeout)
        {
            Headers = request.Headers, Proxy = request.Proxy, TlsIgnore = request.TlsIgnore, FollowRedirects = request.FollowRedirects,
        };
        var outcome = await _replyDownloader.DownloadAsync(replyRequest, new ReplyObserver(observer, url), (_, _) => ValueTask.CompletedTask, ct).ConfigureAwait(false);
        if (outcome is DownloadOutcome.Completed done) observer.OnReplyProgress(url, done.Size, done.Size);
        return outcome;
    }

    private async Task CloseSessionAsync(State s, CancellationToken ct)
    {
        if (s.SessionId is null) return;
        try
        {
            using var _ = await SendAsync(Packet(s.Request, "Close-Session", s.SessionId), s.Request.IdleTimeout, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or HttpIOException or IOException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // best effort: the server renamed the upload when the last fragment arrived
        }
    }

    private static HttpRequestMessage Packet(DownloadRequest request, string type, string? session)
    {
        var message = new HttpRequestMessage(BitsPost, request.Url);
        message.Headers.TryAddWithoutValidation("BITS-Packet-Type", type);
        if (session is not null) message.Headers.TryAddWithoutValidation("BITS-Session-Id", session);
        foreach (var (name, value) in request.Headers) message.Headers.TryAddWithoutValidation(name, value);
        if (type != "Fragment") message.Content = new ByteArrayContent([]);
        return message;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage message, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var response = await _http.SendAsync(message, HttpCompletionOption.ResponseContentRead, cts.Token).ConfigureAwait(false);
        return response;
    }

    /// <summary>The failure a non-success answer (or one carrying <c>BITS-Error-Code</c>) means, or null for success.</summary>
    private static TransferError? ServerError(HttpResponseMessage response, Uri url)
    {
        var status = (int)response.StatusCode;
        var code = ErrorCodeOf(response);
        if (response.IsSuccessStatusCode && code is null) return null;
        var context = HeaderOf(response, "BITS-Error-Context") is { } c && int.TryParse(c.Replace("0x", "", StringComparison.OrdinalIgnoreCase),
            NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var ctx) && Enum.IsDefined((ErrorContext)ctx)
            ? (ErrorContext)ctx : ErrorContext.RemoteFile;
        var hr = code ?? BitsErrors.ForHttpStatus(status);
        if (code is null && status is 501 or 405)
            return new TransferError(ErrorContext.RemoteFile, hr, status,
                $"the server at {HttpFileDownloader.Redacted(url)} does not speak the BITS Upload Protocol (HTTP {status} to BITS_POST, BITS error 0x{hr:X8})",
                IsTransient: false, RetryAfter: null);
        var transient = context != ErrorContext.RemoteApplication && BitsErrors.IsTransientHttpStatus(status);
        var who = context == ErrorContext.RemoteApplication ? "the server application" : "the upload server";
        return new TransferError(context, hr, status, $"{who} at {HttpFileDownloader.Redacted(url)} answered HTTP {status}, BITS error 0x{hr:X8}",
            transient, response.Headers.RetryAfter?.Delta);
    }

    private static int? ErrorCodeOf(HttpResponseMessage response) =>
        HeaderOf(response, "BITS-Error-Code") is { } text
        && uint.TryParse(text.Replace("0x", "", StringComparison.OrdinalIgnoreCase), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v)
            ? unchecked((int)v) : null;

    private static long? ReceivedOf(HttpResponseMessage response) =>
        long.TryParse(HeaderOf(response, "BITS-Received-Content-Range"), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string? HeaderOf(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()?.Trim() : null;

    private static (long Size, DateTimeOffset LastWrite) Stat(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"the upload file {path} does not exist", path);
        return (info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero));
    }

    private static DownloadOutcome.Failed Changed(State s) =>
        Fatal(ErrorContext.LocalFile, LocalFileChanged, null, $"{s.Upload.SourcePath} changed after its upload began (size or last write time)", s.Acked);

    private static DownloadOutcome.Failed Fatal(ErrorContext context, int hr, int? status, string message, long acked = 0) =>
        new(new TransferError(context, hr, status, message, IsTransient: false, RetryAfter: null), acked);

    private static DownloadOutcome.Failed Failed(TransferError error, State s) => new(error, s.Acked);

    /// <summary>Reports the reply download as reply progress (the upload's own progress stays the acknowledged offset).</summary>
    private sealed class ReplyObserver(IUploadObserver inner, string url) : IDownloadObserver
    {
        private long? _total;
        public void OnResponse(ResponseInfo response) { _total = response.TotalSize; inner.OnReplyProgress(url, _total, response.StartOffset); }
        public void OnRestarted(FileRestartReason reason, string detail) => inner.OnReplyProgress(url, _total, 0);
        public void OnCheckpoint(long offset) => inner.OnReplyProgress(url, _total, offset);
        public void OnQuickRetry(int attempt, TimeSpan delay, TransferError error) => inner.OnQuickRetry(attempt, delay, error);
    }

    /// <summary>A fragment's body: <c>length</c> bytes of the source from <c>start</c>, each 64 KiB step paid for with the throttle.</summary>
    private sealed class FragmentContent(string path, long start, long length, BandwidthThrottle throttle, Action progressed) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete });
            file.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[HttpFileDownloader.BufferSize];
            var left = length;
            while (left > 0)
            {
                var n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (n == 0) throw new IOException($"{path} ended before byte {start + length}");
                await throttle(n, cancellationToken).ConfigureAwait(false);
                await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                progressed();
                left -= n;
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length1)
        {
            length1 = length;
            return true;
        }
    }
}
