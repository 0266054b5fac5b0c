using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Qmgr.Tests.Support;

/// <summary>
/// Per-file behaviour of <see cref="LoopbackFileServer"/>. Request indexes count GETs/HEADs to one path from 0.
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

    /// <summary>Send <c>Last-Modified</c> = <see cref="LastModified"/>.</summary>
    public bool SendLastModified { get; init; } = true;

    /// <summary>The Last-Modified date (whole seconds).</summary>
    public DateTimeOffset LastModified { get; init; } = new(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);

    /// <summary>Answer every request with this status and an empty body (e.g. 404, 410, 503).</summary>
    public int? StatusOverride { get; init; }

    /// <summary>Answer the first this-many requests with <see cref="FailStatus"/> and an empty body.</summary>
    public int FailFirst { get; init; }

    /// <summary>Status used by <see cref="FailFirst"/>.</summary>
    public int FailStatus { get; init; } = 503;

    /// <summary>Raw <c>Retry-After</c> value sent with <see cref="StatusOverride"/> / <see cref="FailFirst"/> answers.</summary>
    public string? RetryAfter { get; init; }

    /// <summary>Request index → abort the connection after that many body bytes.</summary>
    public IReadOnlyDictionary<int, long> CutAfter { get; init; } = new Dictionary<int, long>();

    /// <summary>Request index → stop sending after that many body bytes and keep the connection open until the client leaves.</summary>
    public IReadOnlyDictionary<int, long> StallAfter { get; init; } = new Dictionary<int, long>();

    /// <summary>Send the body at about this many bytes/s (slices every 50 ms); null = as fast as possible.</summary>
    public long? TrickleBytesPerSecond { get; init; }

    /// <summary>No <c>Content-Length</c>: the body goes out chunked (HTTP/1.1).</summary>
    public bool Chunked { get; init; }

    /// <summary>A 206 claims (and serves) a range starting this many bytes after the requested one (a lying cache).</summary>
    public long RangeStartShift { get; init; }

    /// <summary>Answer 302 with this <c>Location</c> instead of content.</summary>
    public string? RedirectTo { get; init; }
}

/// <summary>One request the server saw, with the status it chose (for aborted responses, the status that was started).</summary>
public sealed record LoggedRequest(
    int Index, string Method, string Path, string? Range, string? IfRange, int Status, DateTimeOffset Time);

/// <summary>
/// A Kestrel file server on 127.0.0.1 (ephemeral port) with fault injection per file, for transport and end-to-end
/// tests. Create with <see cref="StartAsync"/>; dispose to stop (stalled responses are released).
/// </summary>
public sealed class LoopbackFileServer : IAsyncDisposable
{
    private sealed record Entry(byte[] Content, LoopbackFileOptions Options)
    {
        public int Requests;
    }

    private readonly ConcurrentDictionary<string, Entry> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<LoggedRequest> _log = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly WebApplication _app;

    private LoopbackFileServer(WebApplication app) => _app = app;

    /// <summary>Base address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Requests in arrival order (a snapshot).</summary>
    public IReadOnlyList<LoggedRequest> Requests => _log.ToArray();

    /// <summary>Requests for one path, in arrival order.</summary>
    public IReadOnlyList<LoggedRequest> RequestsFor(string path) => _log.Where(r => r.Path == Normalize(path)).ToArray();

    /// <summary>Starts a server listening on 127.0.0.1 only, on a free port.</summary>
    public static async Task<LoopbackFileServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
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
        _files[key] = new Entry(content, options ?? new LoopbackFileOptions());
        return new Uri(BaseAddress, key.TrimStart('/'));
    }

    /// <summary>The URL of <paramref name="path"/> on this server, whether or not a file is there.</summary>
    public Uri UrlOf(string path) => new(BaseAddress, Normalize(path).TrimStart('/'));

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

    private void Log(int index, HttpContext context, int status) =>
        _log.Enqueue(new LoggedRequest(
            index,
            context.Request.Method,
            context.Request.Path.Value ?? "/",
            context.Request.Headers.Range.Count > 0 ? context.Request.Headers.Range.ToString() : null,
            context.Request.Headers.IfRange.Count > 0 ? context.Request.Headers.IfRange.ToString() : null,
            status,
            DateTimeOffset.UtcNow));

    private async Task HandleAsync(HttpContext context)
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
        var content = entry.Content;
        var response = context.Response;

        if (options.RedirectTo is { } location)
        {
            Log(index, context, 302);
            response.StatusCode = 302;
            response.Headers.Location = location;
            return;
        }

        var failStatus = options.StatusOverride ?? (index < options.FailFirst ? options.FailStatus : (int?)null);
        if (failStatus is { } fail)
        {
            Log(index, context, fail);
            response.StatusCode = fail;
            if (options.RetryAfter is { } retryAfter)
            {
                response.Headers.RetryAfter = retryAfter;
            }

            return;
        }

        var etag = options.ETag ?? $"\"{Convert.ToHexString(SHA256.HashData(content))[..16].ToLowerInvariant()}\"";
        if (options.SendETag)
        {
            response.Headers.ETag = etag;
        }

        if (options.SendLastModified)
        {
            response.Headers.LastModified = options.LastModified.ToString("R", CultureInfo.InvariantCulture);
        }

        response.Headers.AcceptRanges = options.HonourRange ? "bytes" : "none";

        long start = 0;
        long end = content.Length - 1;
        var status = 200;
        if (options.HonourRange && TryParseRange(context.Request.Headers.Range.ToString(), out var from, out var to)
            && (!options.HonourIfRange || IfRangeMatches(context.Request.Headers.IfRange.ToString(), options, etag)))
        {
            if (from >= content.Length)
            {
                Log(index, context, 416);
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{content.Length}";
                return;
            }

            start = Math.Min(from + options.RangeStartShift, content.Length - 1);
            end = Math.Min(to ?? content.Length - 1, content.Length - 1);
            status = 206;
            response.Headers.ContentRange = $"bytes {start}-{end}/{content.Length}";
        }

        Log(index, context, status);
        response.StatusCode = status;
        var length = Math.Max(0, end - start + 1);
        if (!options.Chunked)
        {
            response.ContentLength = length;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var ct = linked.Token;
        var limit = length;
        var cut = options.CutAfter.TryGetValue(index, out var cutAt);
        var stall = options.StallAfter.TryGetValue(index, out var stallAt);
        if (cut)
        {
            limit = Math.Min(limit, cutAt);
        }

        if (stall)
        {
            limit = Math.Min(limit, stallAt);
        }

        try
        {
            await response.StartAsync(ct).ConfigureAwait(false);
            var sent = 0L;
            var slice = options.TrickleBytesPerSecond is { } rate ? (int)Math.Max(1, rate / 20) : 64 * 1024;
            while (sent < limit)
            {
                var n = (int)Math.Min(slice, limit - sent);
                await response.Body.WriteAsync(content.AsMemory((int)(start + sent), n), ct).ConfigureAwait(false);
                await response.Body.FlushAsync(ct).ConfigureAwait(false);
                sent += n;
                if (options.TrickleBytesPerSecond is not null && sent < limit)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), ct).ConfigureAwait(false);
                }
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

    private static bool IfRangeMatches(string ifRange, LoopbackFileOptions options, string etag)
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
            && date == options.LastModified;
    }
}
