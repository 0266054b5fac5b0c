using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Qmgr.Tests.Support;

/// <summary>How <see cref="LoopbackFileOptions.Gzip"/> encodes a file on the fly.</summary>
public enum GzipMode
{
    /// <summary>Identity: bytes as stored.</summary>
    None,
    /// <summary><c>Content-Encoding: gzip</c> whatever the client's <c>Accept-Encoding</c> says.</summary>
    Always,
    /// <summary>gzip only when the request's <c>Accept-Encoding</c> names gzip.</summary>
    WhenAccepted,
}

/// <summary>A canned answer for one request index: status, extra headers and an optional text body.</summary>
public sealed record StatusReply(int Status, IReadOnlyDictionary<string, string>? Headers = null, string? Body = null);

/// <summary>The file as served from request index <see cref="FromRequest"/> on (F → F' between requests).</summary>
public sealed record ContentVersion(int FromRequest, byte[] Content, string? ETag, DateTimeOffset LastModified);

/// <summary>
/// Per-file behaviour of <see cref="LoopbackFileServer"/>. Request indexes count GETs/HEADs to one path from 0.
/// Byte positions (<c>k</c>) count body bytes of the response, not file offsets.
/// </summary>
public sealed record LoopbackFileOptions
{
    /// <summary>Answer <c>Range: bytes=a-</c> / <c>bytes=a-b</c> with 206 (true) or always send 200 with the whole body (false).</summary>
    public bool HonourRange { get; init; } = true;

    /// <summary>Evaluate <c>If-Range</c> (RFC 9110 §13.1.5): a mismatch sends 200 with the whole body.</summary>
    public bool HonourIfRange { get; init; } = true;

    /// <summary>Send an <c>ETag</c>; its value is <see cref="ETag"/> or a strong tag derived from the content.</summary>
    public bool SendETag { get; init; } = true;

    /// <summary>ETag value with quotes (and <c>W/</c> when weak); null = <c>"sha256-prefix"</c> of the content.</summary>
    public string? ETag { get; init; }

    /// <summary>A different strong ETag on every request (<c>"rot-INDEX"</c>) for the same content (a CDN with unsynchronised nodes).</summary>
    public bool RotateETag { get; init; }

    /// <summary>Send <c>Last-Modified</c> = <see cref="LastModified"/>.</summary>
    public bool SendLastModified { get; init; } = true;

    /// <summary>The Last-Modified date (whole seconds).</summary>
    public DateTimeOffset LastModified { get; init; } = new(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);

    /// <summary>Later versions of the file: from request index <see cref="ContentVersion.FromRequest"/> on, serve that content and validators.</summary>
    public IReadOnlyList<ContentVersion> Versions { get; init; } = [];

    /// <summary>Answer every request with this status and an empty body (e.g. 404, 410, 503).</summary>
    public int? StatusOverride { get; init; }

    /// <summary>Answer the first this-many requests with <see cref="FailStatus"/> and an empty body.</summary>
    public int FailFirst { get; init; }

    /// <summary>Status used by <see cref="FailFirst"/>.</summary>
    public int FailStatus { get; init; } = 503;

    /// <summary>Raw <c>Retry-After</c> value sent with <see cref="StatusOverride"/> / <see cref="FailFirst"/> answers.</summary>
    public string? RetryAfter { get; init; }

    /// <summary>Request index → a canned answer instead of the file (status sequences, <c>Retry-After</c>, <c>RateLimit</c>, HTML pages).</summary>
    public IReadOnlyDictionary<int, StatusReply> StatusAt { get; init; } = new Dictionary<int, StatusReply>();

    /// <summary>Any request carrying <c>Range</c> gets this status (a range probe rejected while a plain GET works).</summary>
    public int? RejectRangeStatus { get; init; }

    /// <summary>A range longer than this many bytes (open ranges count to the end of the file) gets 403.</summary>
    public long? MaxRangeLength { get; init; }

    /// <summary>Request index → abort the connection (Kestrel abort) after that many body bytes.</summary>
    public IReadOnlyDictionary<int, long> CutAfter { get; init; } = new Dictionary<int, long>();

    /// <summary>Request index → clean close (FIN) after that many body bytes.</summary>
    public IReadOnlyDictionary<int, long> CloseAfter { get; init; } = new Dictionary<int, long>();

    /// <summary>Request index → TCP reset (RST, linger 0) after that many body bytes.</summary>
    public IReadOnlyDictionary<int, long> ResetAfter { get; init; } = new Dictionary<int, long>();

    /// <summary>Request index → stop sending after that many body bytes and keep the connection open until the client leaves.</summary>
    public IReadOnlyDictionary<int, long> StallAfter { get; init; } = new Dictionary<int, long>();

    /// <summary>Send the body at about this many bytes/s (slices every 50 ms); null = as fast as possible.</summary>
    public long? TrickleBytesPerSecond { get; init; }

    /// <summary>No <c>Content-Length</c>: the body goes out chunked (HTTP/1.1).</summary>
    public bool Chunked { get; init; }

    /// <summary>Request indexes whose chunked body ends with a reset instead of the terminating zero-length chunk.</summary>
    public IReadOnlySet<int> ChunkedNoTerminatorAt { get; init; } = new HashSet<int>();

    /// <summary>A 206 claims (and serves) a range starting this many bytes after (negative: before) the requested one.</summary>
    public long RangeStartShift { get; init; }

    /// <summary>Request index → <see cref="RangeStartShift"/> for that request only.</summary>
    public IReadOnlyDictionary<int, long> RangeStartShiftAt { get; init; } = new Dictionary<int, long>();

    /// <summary>A 206 carries at most this many bytes (<c>Content-Range: a-c/T</c> with c before the end asked for).</summary>
    public long? MaxPartLength { get; init; }

    /// <summary>Sent verbatim as the <c>Content-Range</c> of a 206 (a malformed or lying header); the body is the asked range.</summary>
    public string? ContentRangeOverride { get; init; }

    /// <summary>A 416 goes out without <c>Content-Range: bytes */T</c> (RFC 9110 only says SHOULD).</summary>
    public bool Omit416ContentRange { get; init; }

    /// <summary>gzip on the fly; <c>Content-Length</c> and ranges are those of the compressed representation.</summary>
    public GzipMode Gzip { get; init; }

    /// <summary>Answer with this status (302 default, 301/303/307/308) and <see cref="RedirectTo"/> as <c>Location</c>, verbatim.</summary>
    public string? RedirectTo { get; init; }

    /// <summary>Status of the <see cref="RedirectTo"/> answer.</summary>
    public int RedirectStatus { get; init; } = 302;

    /// <summary><c>Set-Cookie</c> sent with the redirect; a request that carries this cookie (name=value) gets the file instead.</summary>
    public string? RedirectSetCookie { get; init; }

    /// <summary>400 "Only one auth mechanism allowed" when the request has an <c>Authorization</c> header (S3 presigned URLs).</summary>
    public bool RejectAuthorization { get; init; }

    /// <summary>Headers added to every content response as given (e.g. <c>Repr-Digest</c>).</summary>
    public IReadOnlyDictionary<string, string> ExtraHeaders { get; init; } = new Dictionary<string, string>();

    /// <summary>401 with <c>WWW-Authenticate: SCHEME realm="qmgr"</c> (SCHEME = this value's first word) unless
    /// <c>Authorization</c> equals this value.</summary>
    public string? RequireAuthorization { get; init; }

    /// <summary>HEAD answers without <c>Content-Length</c> (HEAD/GET divergence).</summary>
    public bool HeadOmitsLength { get; init; }

    /// <summary><c>Content-Type</c> of the file.</summary>
    public string ContentType { get; init; } = "application/octet-stream";

    /// <summary>Raw <c>Content-Disposition</c> header (e.g. a path-traversal file name).</summary>
    public string? ContentDisposition { get; init; }
}

/// <summary>One request the server saw, with the status it chose (for aborted responses, the status that was started).</summary>
public sealed record LoggedRequest(
    int Index, string Method, string Path, string? Range, string? IfRange, int Status, DateTimeOffset Time)
{
    /// <summary>The request-target exactly as sent (still percent-encoded).</summary>
    public string RawTarget { get; init; } = "";

    /// <summary>Every request header (case-insensitive names; repeated values joined with commas).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>Kestrel's connection id (same id = a reused keep-alive connection).</summary>
    public string ConnectionId { get; init; } = "";

    /// <summary>SHA-1 thumbprint of the TLS client certificate the connection presented, or null.</summary>
    public string? ClientCertificateThumbprint { get; init; }

    public string? Authorization { get; init; }

    public string? AcceptEncoding { get; init; }

    public string? Cookie { get; init; }

    public string? IfMatch { get; init; }
}

/// <summary>
/// A Kestrel file server on 127.0.0.1 (ephemeral port) with fault injection per file, for transport and end-to-end
/// tests. Create with <see cref="StartAsync()"/>; dispose to stop (stalled responses are released).
/// </summary>
public sealed class LoopbackFileServer : IAsyncDisposable
{
    private sealed record Entry(IServedBody Body, LoopbackFileOptions Options)
    {
        public int Requests;
    }

    private readonly ConcurrentDictionary<string, Entry> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<LoggedRequest> _log = new();
    private readonly ConcurrentDictionary<(string Path, int Index), DateTimeOffset> _lastSliceAt = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly WebApplication _app;
    private int _inFlight;

    private LoopbackFileServer(WebApplication app) => _app = app;

    /// <summary>Base address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Connection cap: a request arriving while this many are being answered gets 429 with <c>Retry-After: 1</c>.</summary>
    public int? MaxConcurrentRequests { get; set; }

    private long _bodyBytesSent;

    /// <summary>Body bytes written to clients so far, every file and request together (for rate measurements).</summary>
    public long BodyBytesSent => Interlocked.Read(ref _bodyBytesSent);

    /// <summary>Requests in arrival order (a snapshot).</summary>
    public IReadOnlyList<LoggedRequest> Requests => _log.ToArray();

    /// <summary>Requests for one path, in arrival order.</summary>
    public IReadOnlyList<LoggedRequest> RequestsFor(string path) => _log.Where(r => r.Path == Normalize(path)).ToArray();

    /// <summary>
    /// When the server began writing the last slice of the body of request <paramref name="index"/> to
    /// <paramref name="path"/>; null if that response never reached its last byte. A client cannot have read the whole
    /// body before this instant, so it orders "the client had the file" after it without any timing margin.
    /// </summary>
    public DateTimeOffset? LastSliceStartedAt(string path, int index) =>
        _lastSliceAt.TryGetValue((Normalize(path), index), out var at) ? at : null;

    /// <summary>Starts a server listening on 127.0.0.1 only, on a free port.</summary>
    public static Task<LoopbackFileServer> StartAsync() => StartAsync(null);

    /// <summary>Starts a server on 127.0.0.1 that speaks HTTPS with <paramref name="certificate"/> (HTTP when null).</summary>
    public static Task<LoopbackFileServer> StartAsync(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate) =>
        StartAsync(certificate, Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.NoCertificate);

    /// <summary>
    /// Starts an HTTPS server with <paramref name="certificate"/> that asks for a TLS client certificate as
    /// <paramref name="clientCertificates"/> says (any certificate is accepted; its thumbprint is logged per request).
    /// <paramref name="chain"/> is sent after the certificate (intermediates or the issuing CA).
    /// </summary>
    public static async Task<LoopbackFileServer> StartAsync(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate,
        Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode clientCertificates,
        System.Security.Cryptography.X509Certificates.X509Certificate2Collection? chain = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificate,
                    ServerCertificateChain = chain,
                    ClientCertificateMode = clientCertificates,
                    ClientCertificateValidation = (_, _, _) => true,
                });
            }
        }));
        var app = builder.Build();
        var server = new LoopbackFileServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    /// <summary>Serves <paramref name="content"/> at <paramref name="path"/> (replacing any earlier file there) and returns its URL.</summary>
    public Uri Add(string path, byte[] content, LoopbackFileOptions? options = null)
    {
        var key = Normalize(path);
        _files[key] = new Entry(new ByteBody(content), options ?? new LoopbackFileOptions());
        return new Uri(BaseAddress, key.TrimStart('/'));
    }

    /// <summary>
    /// Serves <paramref name="length"/> bytes of <see cref="GeneratedBytes"/> at <paramref name="path"/> without storing them
    /// (sizes beyond 4 GiB). Gzip and <see cref="LoopbackFileOptions.Versions"/> are not supported for generated files.
    /// </summary>
    public Uri AddGenerated(string path, long length, int seed, LoopbackFileOptions? options = null)
    {
        var key = Normalize(path);
        _files[key] = new Entry(new GeneratedBody(length, seed), options ?? new LoopbackFileOptions());
        return new Uri(BaseAddress, key.TrimStart('/'));
    }

    /// <summary>The URL of <paramref name="path"/> on this server, whether or not a file is there.</summary>
    public Uri UrlOf(string path) => new(BaseAddress, Normalize(path).TrimStart('/'));

    /// <summary>
    /// A self-signed TLS server certificate for <paramref name="hostName"/> (DNS name and, for "127.0.0.1", an IP SAN),
    /// valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>: an untrusted CA by construction.
    /// </summary>
    public static System.Security.Cryptography.X509Certificates.X509Certificate2 SelfSignedCertificate(string hostName, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest($"CN={hostName}", key,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        var san = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        if (IPAddress.TryParse(hostName, out var ip)) san.AddIpAddress(ip); else san.AddDnsName(hostName);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension(
            [new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1")], false));
        using var cert = request.CreateSelfSigned(notBefore, notAfter);
        return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(cert.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx), null);
    }

    /// <summary>Deterministic pseudo-random bytes (xorshift64*), the same for the same length and seed.</summary>
    public static byte[] Content(int length, int seed)
    {
        var bytes = new byte[length];
        var state = 0x9E3779B97F4A7C15UL ^ (ulong)(uint)seed;
        for (var i = 0; i < length; i++)
        {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            bytes[i] = (byte)((state * 0x2545F4914F6CDD1DUL) >> 56);
        }

        return bytes;
    }

    /// <summary>Fills <paramref name="destination"/> with the generated bytes at <paramref name="offset"/> (splitmix64 per 8-byte word; random access).</summary>
    public static void GeneratedBytes(int seed, long offset, Span<byte> destination)
    {
        for (var i = 0; i < destination.Length; i++)
        {
            var position = offset + i;
            var z = ((ulong)(position >> 3) + 0x9E3779B97F4A7C15UL * (ulong)(uint)(seed + 1));
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            destination[i] = (byte)(z >> (int)((position & 7) * 8));
        }
    }

    /// <summary>Stops the server, releasing stalled responses.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _app.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _stopping.Dispose();
        }
    }

    private static string Normalize(string path) => path.StartsWith('/') ? path : "/" + path;

    private static string? Header(HttpContext context, string name) =>
        context.Request.Headers.TryGetValue(name, out var value) && value.Count > 0 ? value.ToString() : null;

    private void Log(int index, HttpContext context, int status) =>
        _log.Enqueue(new LoggedRequest(
            index,
            context.Request.Method,
            context.Request.Path.Value ?? "/",
            Header(context, "Range"),
            Header(context, "If-Range"),
            status,
            DateTimeOffset.UtcNow)
        {
            RawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "",
            ConnectionId = context.Connection.Id,
            ClientCertificateThumbprint = context.Connection.ClientCertificate?.Thumbprint,
            Authorization = Header(context, "Authorization"),
            AcceptEncoding = Header(context, "Accept-Encoding"),
            Cookie = Header(context, "Cookie"),
            IfMatch = Header(context, "If-Match"),
            Headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
        });

    private async Task HandleAsync(HttpContext context)
    {
        if (Interlocked.Increment(ref _inFlight) > (MaxConcurrentRequests ?? int.MaxValue))
        {
            Interlocked.Decrement(ref _inFlight);
            Log(-1, context, 429);
            context.Response.StatusCode = 429;
            context.Response.Headers.RetryAfter = "1";
            return;
        }

        try
        {
            await ServeAsync(context).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task ServeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (!_files.TryGetValue(path, out var entry))
        {
            Log(-1, context, 404);
            context.Response.StatusCode = 404;
            return;
        }

        var index = Interlocked.Increment(ref entry.Requests) - 1;
        var options = entry.Options;
        var response = context.Response;
        var authorization = Header(context, "Authorization");

        if (options.RejectAuthorization && authorization is not null)
        {
            await ReplyAsync(index, context, new StatusReply(400, Body: "Only one auth mechanism allowed")).ConfigureAwait(false);
            return;
        }

        if (options.RequireAuthorization is { } required && authorization != required)
        {
            // RFC 9110 §15.5.2: a 401 carries the challenge; a client answers it with credentials of that scheme
            var scheme = required.Split(' ')[0];
            await ReplyAsync(index, context, new StatusReply(401, new Dictionary<string, string> { ["WWW-Authenticate"] = $"{scheme} realm=\"qmgr\"" }))
                .ConfigureAwait(false);
            return;
        }

        if (options.RedirectTo is { } location
            && !(options.RedirectSetCookie is { } cookie && (Header(context, "Cookie") ?? "").Split("; ").Contains(cookie.Split(';')[0])))
        {
            Log(index, context, options.RedirectStatus);
            response.StatusCode = options.RedirectStatus;
            response.Headers.Location = location;
            if (options.RedirectSetCookie is { } setCookie)
            {
                response.Headers.SetCookie = setCookie;
            }

            return;
        }

        if (options.StatusAt.TryGetValue(index, out var canned))
        {
            await ReplyAsync(index, context, canned).ConfigureAwait(false);
            return;
        }

        var failStatus = options.StatusOverride ?? (index < options.FailFirst ? options.FailStatus : (int?)null);
        if (failStatus is { } fail)
        {
            var headers = options.RetryAfter is { } retryAfter ? new Dictionary<string, string> { ["Retry-After"] = retryAfter } : null;
            await ReplyAsync(index, context, new StatusReply(fail, headers)).ConfigureAwait(false);
            return;
        }

        var rangeHeader = Header(context, "Range");
        if (rangeHeader is not null && options.RejectRangeStatus is { } rejectRange)
        {
            await ReplyAsync(index, context, new StatusReply(rejectRange)).ConfigureAwait(false);
            return;
        }

        var version = options.Versions.Where(v => v.FromRequest <= index).MaxBy(v => v.FromRequest);
        var body = version is null ? entry.Body : new ByteBody(version.Content);
        var lastModified = version?.LastModified ?? options.LastModified;
        var gzip = options.Gzip == GzipMode.Always
            || (options.Gzip == GzipMode.WhenAccepted && (Header(context, "Accept-Encoding") ?? "").Contains("gzip", StringComparison.OrdinalIgnoreCase));
        if (gzip)
        {
            body = ((ByteBody)body).Gzipped();
            response.Headers.ContentEncoding = "gzip";
        }

        var etag = options.RotateETag ? $"\"rot-{index}\"" : version?.ETag ?? options.ETag ?? body.StrongETag;
        if (options.SendETag)
        {
            response.Headers.ETag = etag;
        }

        if (options.SendLastModified)
        {
            response.Headers.LastModified = lastModified.ToString("R", CultureInfo.InvariantCulture);
        }

        response.Headers.AcceptRanges = options.HonourRange ? "bytes" : "none";
        response.ContentType = options.ContentType;
        if (options.ContentDisposition is { } disposition)
        {
            response.Headers.ContentDisposition = disposition;
        }

        foreach (var (name, value) in options.ExtraHeaders)
        {
            response.Headers[name] = value;
        }

        long start = 0;
        var end = body.Length - 1;
        var status = 200;
        if (options.HonourRange && TryParseRange(rangeHeader ?? "", out var from, out var to)
            && (!options.HonourIfRange || IfRangeMatches(Header(context, "If-Range") ?? "", options, etag, lastModified)))
        {
            if (from >= body.Length)
            {
                Log(index, context, 416);
                response.StatusCode = 416;
                if (!options.Omit416ContentRange)
                {
                    response.Headers.ContentRange = $"bytes */{body.Length}";
                }

                return;
            }

            var asked = Math.Min(to ?? body.Length - 1, body.Length - 1) - from + 1;
            if (options.MaxRangeLength is { } maxRange && asked > maxRange)
            {
                await ReplyAsync(index, context, new StatusReply(403, Body: "range too large")).ConfigureAwait(false);
                return;
            }

            var shift = options.RangeStartShiftAt.TryGetValue(index, out var shiftAt) ? shiftAt : options.RangeStartShift;
            start = Math.Clamp(from + shift, 0, body.Length - 1);
            end = Math.Min(to ?? body.Length - 1, body.Length - 1);
            if (options.MaxPartLength is { } maxPart)
            {
                end = Math.Min(end, start + maxPart - 1);
            }

            status = 206;
            response.Headers.ContentRange = options.ContentRangeOverride ?? $"bytes {start}-{end}/{body.Length}";
        }

        Log(index, context, status);
        response.StatusCode = status;
        var length = Math.Max(0, end - start + 1);
        var chunked = options.Chunked || options.ChunkedNoTerminatorAt.Contains(index);
        if (HttpMethods.IsHead(context.Request.Method))
        {
            if (!options.HeadOmitsLength && !chunked)
            {
                response.ContentLength = length;
            }

            return;
        }

        if (!chunked)
        {
            response.ContentLength = length;
        }

        await SendBodyAsync(context, options, index, body, start, length, chunked).ConfigureAwait(false);
    }

    private async Task SendBodyAsync(HttpContext context, LoopbackFileOptions options, int index, IServedBody body, long start, long length, bool chunked)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var ct = linked.Token;
        var response = context.Response;
        var limit = length;
        var cut = options.CutAfter.TryGetValue(index, out var cutAt);
        var close = options.CloseAfter.TryGetValue(index, out var closeAt);
        var reset = options.ResetAfter.TryGetValue(index, out var resetAt);
        var stall = options.StallAfter.TryGetValue(index, out var stallAt);
        limit = Math.Min(limit, cut ? cutAt : long.MaxValue);
        limit = Math.Min(limit, close ? closeAt : long.MaxValue);
        limit = Math.Min(limit, reset ? resetAt : long.MaxValue);
        limit = Math.Min(limit, stall ? stallAt : long.MaxValue);

        var buffer = new byte[64 * 1024];
        try
        {
            await response.StartAsync(ct).ConfigureAwait(false);
            var sent = 0L;
            var slice = options.TrickleBytesPerSecond is { } rate ? (int)Math.Clamp(rate / 20, 1, buffer.Length) : buffer.Length;
            while (sent < limit)
            {
                var n = (int)Math.Min(slice, limit - sent);
                body.CopyTo(start + sent, buffer.AsSpan(0, n));
                if (sent + n == length)
                {
                    _lastSliceAt[(context.Request.Path.Value ?? "/", index)] = DateTimeOffset.UtcNow;
                }

                await response.Body.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                await response.Body.FlushAsync(ct).ConfigureAwait(false);
                sent += n;
                Interlocked.Add(ref _bodyBytesSent, n);
                if (options.TrickleBytesPerSecond is not null && sent < limit)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), ct).ConfigureAwait(false);
                }
            }

            if (reset && resetAt < length || chunked && options.ChunkedNoTerminatorAt.Contains(index))
            {
                Reset(context);
                return;
            }

            if (close && closeAt < length)
            {
                context.Features.Get<IConnectionSocketFeature>()?.Socket.Shutdown(SocketShutdown.Send);
                context.Abort();
                return;
            }

            if (cut && cutAt < length)
            {
                context.Abort();
                return;
            }

            if (stall && stallAt < length)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            context.Abort();
        }
        catch (IOException)
        {
            context.Abort();
        }
    }

    /// <summary>TCP RST: linger 0, then close the socket under Kestrel.</summary>
    private static void Reset(HttpContext context)
    {
        if (context.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket)
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }

        context.Abort();
    }

    private async Task ReplyAsync(int index, HttpContext context, StatusReply reply)
    {
        Log(index, context, reply.Status);
        context.Response.StatusCode = reply.Status;
        foreach (var (name, value) in reply.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        if (reply.Body is { } text)
        {
            context.Response.ContentType ??= "text/plain";
            await context.Response.WriteAsync(text).ConfigureAwait(false);
        }
    }

    private static bool TryParseRange(string header, out long from, out long? to)
    {
        from = 0;
        to = null;
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(','))
        {
            return false;
        }

        var spec = header["bytes=".Length..].Trim();
        var dash = spec.IndexOf('-');
        if (dash <= 0 || !long.TryParse(spec[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out from))
        {
            return false;
        }

        var last = spec[(dash + 1)..];
        if (last.Length == 0)
        {
            return true;
        }

        if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var end) || end < from)
        {
            return false;
        }

        to = end;
        return true;
    }

    private static bool IfRangeMatches(string ifRange, LoopbackFileOptions options, string etag, DateTimeOffset lastModified)
    {
        if (string.IsNullOrEmpty(ifRange))
        {
            return true;
        }

        if (ifRange.StartsWith('"'))
        {
            return options.SendETag && !etag.StartsWith("W/", StringComparison.Ordinal) && ifRange == etag;
        }

        if (ifRange.StartsWith("W/", StringComparison.Ordinal))
        {
            return false;
        }

        return options.SendLastModified
            && DateTimeOffset.TryParseExact(ifRange, "R", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date)
            && date == lastModified;
    }

    private interface IServedBody
    {
        long Length { get; }

        string StrongETag { get; }

        void CopyTo(long offset, Span<byte> destination);
    }

    private sealed class ByteBody(byte[] content) : IServedBody
    {
        private ByteBody? _gzipped;

        public long Length => content.Length;

        public string StrongETag => $"\"{Convert.ToHexString(SHA256.HashData(content))[..16].ToLowerInvariant()}\"";

        public void CopyTo(long offset, Span<byte> destination) => content.AsSpan((int)offset, destination.Length).CopyTo(destination);

        public ByteBody Gzipped()
        {
            if (_gzipped is null)
            {
                using var output = new MemoryStream();
                using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
                {
                    gzip.Write(content);
                }

                _gzipped = new ByteBody(output.ToArray());
            }

            return _gzipped;
        }
    }

    private sealed class GeneratedBody(long length, int seed) : IServedBody
    {
        public long Length => length;

        public string StrongETag => $"\"gen-{seed}-{length}\"";

        public void CopyTo(long offset, Span<byte> destination) => GeneratedBytes(seed, offset, destination);
    }
}
