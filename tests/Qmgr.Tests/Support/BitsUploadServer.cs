using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
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
/// Per-path behaviour of <see cref="BitsUploadServer"/>. Fragment indexes count the Fragment packets to one path from 0
/// (across sessions and retries).
/// </summary>
public sealed record BitsUploadOptions
{
    /// <summary>Upload-reply: once the upload is whole, the server application answers with these bytes, served at
    /// <c>/replies/{session}</c> and named in <c>BITS-Reply-URL</c> (relative). Null: a plain upload (no reply URL).</summary>
    public byte[]? Reply { get; init; }

    /// <summary>The server application fails on the last fragment: HTTP 500 with <c>BITS-Error-Code: 0x801901F4</c> and
    /// <c>BITS-Error-Context: 0x7</c> (REMOTE_APPLICATION).</summary>
    public bool ApplicationFails { get; init; }

    /// <summary>Fragment index → keep this many body bytes, then abort the connection (Kestrel abort = reset).</summary>
    public IReadOnlyDictionary<int, long> CutFragmentAfter { get; init; } = new Dictionary<int, long>();

    /// <summary>Fragment index → forget the session and answer <c>BITS-Error-Code: 0x8020001F</c> (BG_E_SESSION_NOT_FOUND).</summary>
    public IReadOnlySet<int> ForgetSessionAt { get; init; } = new HashSet<int>();

    /// <summary>Fragment index → before it is handled, the server keeps only this many bytes of the session (lost writes),
    /// so a fragment starting beyond them is answered 416 with <c>BITS-Received-Content-Range</c>.</summary>
    public IReadOnlyDictionary<int, long> RollBackBefore { get; init; } = new Dictionary<int, long>();

    /// <summary>Fragment index whose body is not read until <see cref="BitsUploadServer.Release"/> (or the client leaves);
    /// <see cref="BitsUploadServer.HeldFragmentArrived"/> completes when it arrives.</summary>
    public int? HoldFragment { get; init; }

    /// <summary>Every BITS_POST to the path is answered with this bare status and no BITS headers, as a plain web server
    /// that does not implement the BITS Upload Protocol answers it (python http.server: 501; many others: 405). Null: none.</summary>
    public int? PlainStatus { get; init; }
}

/// <summary>One BITS_POST (or reply GET) the server saw, with the status it answered (or started, for an abort).</summary>
public sealed record BitsLoggedRequest(int Index, string Method, string Path, string? PacketType, string? SessionId, string? ContentRange,
    long? ContentLength, string? ContentName, int Status, DateTimeOffset Time)
{
    /// <summary>Every request header (case-insensitive names).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>The first offset of <see cref="ContentRange"/> (<c>bytes a-b/total</c>), or null.</summary>
    public long? RangeStart => ContentRange is { } r && r.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase)
        ? long.Parse(r[6..r.IndexOf('-')], CultureInfo.InvariantCulture) : null;
}

/// <summary>
/// A Kestrel server on 127.0.0.1 (ephemeral port) speaking the server side of the BITS Upload Protocol ([MC-BUP], BITS 1.5
/// protocol <c>{7df0354d-249b-430f-820d-3d2a9bef4931}</c>): Ping, Create-Session, Fragment (contiguous ranges; overlaps
/// write only their new bytes; a gap is 416 with <c>BITS-Received-Content-Range</c>), Close-Session, Cancel-Session, with
/// fault injection per path (<see cref="BitsUploadOptions"/>) and a request log. A finished upload is readable with
/// <see cref="Uploaded"/>; an upload-reply's reply is served with GET at <c>/replies/{session}</c>.
/// </summary>
public sealed class BitsUploadServer : IAsyncDisposable
{
    private const string Protocol = "{7df0354d-249b-430f-820d-3d2a9bef4931}";

    private sealed class Session(string path, long? total)
    {
        public readonly string Path = path;
        public long? Total = total;
        public readonly MemoryStream Bytes = new();
        public bool Complete;
        public bool Cancelled;
    }

    private readonly ConcurrentDictionary<string, BitsUploadOptions> _paths = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _fragments = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, byte[]> _uploaded = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _replies = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentQueue<BitsLoggedRequest> _log = new();
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _heldArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly WebApplication _app;
    private int _index = -1;

    private BitsUploadServer(WebApplication app) => _app = app;

    /// <summary>Base address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Requests in arrival order (a snapshot).</summary>
    public IReadOnlyList<BitsLoggedRequest> Requests => _log.ToArray();

    /// <summary>The packets of one type (Ping, Create-Session, Fragment, Close-Session, Cancel-Session), in order.</summary>
    public IReadOnlyList<BitsLoggedRequest> Packets(string type) => _log.Where(r => r.PacketType == type).ToArray();

    /// <summary>Completes when the <see cref="BitsUploadOptions.HoldFragment"/> fragment has arrived (its body not yet read).</summary>
    public Task HeldFragmentArrived => _heldArrived.Task;

    /// <summary>Lets the held fragment go on.</summary>
    public void Release() => _release.TrySetResult();

    /// <summary>Starts a server listening on 127.0.0.1 only, on a free port.</summary>
    public static async Task<BitsUploadServer> StartAsync()
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
        var server = new BitsUploadServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    /// <summary>Accepts uploads at <paramref name="path"/> with <paramref name="options"/> and returns its URL.</summary>
    public Uri Accept(string path, BitsUploadOptions? options = null)
    {
        var key = path.StartsWith('/') ? path : "/" + path;
        _paths[key] = options ?? new BitsUploadOptions();
        return new Uri(BaseAddress, key.TrimStart('/'));
    }

    /// <summary>The bytes of the finished upload at <paramref name="path"/>, or null while none finished.</summary>
    public byte[]? Uploaded(string path) => _uploaded.TryGetValue(path.StartsWith('/') ? path : "/" + path, out var b) ? b : null;

    /// <summary>Polls the request log every 20 ms until <paramref name="condition"/> holds; <see cref="TimeoutException"/> after <paramref name="deadline"/>.</summary>
    public async Task<BitsLoggedRequest> WaitForRequestAsync(Func<BitsLoggedRequest, bool> condition, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        while (true)
        {
            if (_log.FirstOrDefault(condition) is { } found) return found;
            try
            {
                await Task.Delay(20, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the upload server did not see the expected request within {deadline}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _release.TrySetResult();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static string? Header(HttpContext c, string name) =>
        c.Request.Headers.TryGetValue(name, out var v) && v.Count > 0 ? v.ToString() : null;

    private void Log(int index, HttpContext c, int status) =>
        _log.Enqueue(new BitsLoggedRequest(index, c.Request.Method, c.Request.Path.Value ?? "/", Header(c, "BITS-Packet-Type"),
            Header(c, "BITS-Session-Id"), Header(c, "Content-Range"), c.Request.ContentLength, Header(c, "Content-Name"), status, DateTimeOffset.UtcNow)
        {
            Headers = c.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
        });

    private async Task HandleAsync(HttpContext c)
    {
        var index = Interlocked.Increment(ref _index);
        var path = c.Request.Path.Value ?? "/";
        if (HttpMethods.IsGet(c.Request.Method) && path.StartsWith("/replies/", StringComparison.Ordinal)
            && _replies.TryGetValue(path["/replies/".Length..], out var reply))
        {
            Log(index, c, 200);
            c.Response.ContentLength = reply.Length;
            await c.Response.Body.WriteAsync(reply);
            return;
        }
        if (c.Request.Method != "BITS_POST" || !_paths.TryGetValue(path, out var options))
        {
            Log(index, c, 404);
            c.Response.StatusCode = 404;
            return;
        }
        if (options.PlainStatus is int plain)
        {
            Log(index, c, plain);
            c.Response.StatusCode = plain;
            return;
        }
        c.Response.Headers["BITS-Packet-Type"] = "Ack";
        switch (Header(c, "BITS-Packet-Type"))
        {
            case "Ping":
                Log(index, c, 200);
                return;
            case "Create-Session":
                if (!(Header(c, "BITS-Supported-Protocols") ?? "").Contains(Protocol, StringComparison.OrdinalIgnoreCase))
                {
                    Error(index, c, 400, unchecked((int)0x80200022), 5);
                    return;
                }
                var id = Guid.NewGuid().ToString("B");
                _sessions[id] = new Session(path, null);
                c.Response.Headers["BITS-Protocol"] = Protocol;
                c.Response.Headers["BITS-Session-Id"] = id;
                c.Response.Headers["Accept-Encoding"] = "Identity";
                Log(index, c, 200);
                return;
            case "Fragment":
                await FragmentAsync(index, c, path, options);
                return;
            case "Close-Session" or "Cancel-Session":
                if (Header(c, "BITS-Session-Id") is { } closing && _sessions.TryRemove(closing, out var closed))
                {
                    closed.Cancelled = Header(c, "BITS-Packet-Type") == "Cancel-Session";
                    c.Response.Headers["BITS-Session-Id"] = closing;
                    Log(index, c, 200);
                }
                else Error(index, c, 400, unchecked((int)0x8020001F), 5);
                return;
            default:
                Error(index, c, 400, unchecked((int)0x80070057), 5);
                return;
        }
    }

    private async Task FragmentAsync(int index, HttpContext c, string path, BitsUploadOptions options)
    {
        var fragment = _fragments.AddOrUpdate(path, 0, (_, n) => n + 1);
        var sessionId = Header(c, "BITS-Session-Id") ?? "";
        if (options.ForgetSessionAt.Contains(fragment)) _sessions.TryRemove(sessionId, out _);
        if (!_sessions.TryGetValue(sessionId, out var session) || session.Path != path)
        {
            Error(index, c, 400, unchecked((int)0x8020001F), 5);
            return;
        }
        var range = Header(c, "Content-Range") ?? "";
        var slash = range.IndexOf('/');
        var dash = range.IndexOf('-');
        if (!range.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase) || dash < 0 || slash < dash)
        {
            Error(index, c, 400, unchecked((int)0x80070057), 5);
            return;
        }
        if (options.RollBackBefore.TryGetValue(fragment, out var keepBytes))
            lock (session) session.Bytes.SetLength(Math.Min(keepBytes, session.Bytes.Length));
        var start = long.Parse(range[6..dash], CultureInfo.InvariantCulture);
        var end = long.Parse(range[(dash + 1)..slash], CultureInfo.InvariantCulture);
        var total = long.Parse(range[(slash + 1)..], CultureInfo.InvariantCulture);
        session.Total = total;
        c.Response.Headers["BITS-Session-Id"] = sessionId;
        if (start > session.Bytes.Length)
        {
            c.Response.Headers["BITS-Received-Content-Range"] = session.Bytes.Length.ToString(CultureInfo.InvariantCulture);
            Log(index, c, 416);
            c.Response.StatusCode = 416;
            return;
        }
        if (options.HoldFragment == fragment)
        {
            _heldArrived.TrySetResult();
            await Task.WhenAny(_release.Task, Task.Delay(Timeout.Infinite, c.RequestAborted));
        }
        // read the body; bytes the server already has are skipped (MC-BUP: overlaps write only the new part)
        var cut = options.CutFragmentAfter.TryGetValue(fragment, out var keep) ? keep : (long?)null;
        var buffer = new byte[16 * 1024];
        long position = start, read = 0;
        try
        {
            while (true)
            {
                var want = cut is long k ? (int)Math.Min(buffer.Length, k - read) : buffer.Length;
                if (want <= 0)
                {
                    Log(index, c, 0); // 0 = cut: the connection was aborted mid-fragment
                    c.Abort();
                    return;
                }
                var n = await c.Request.Body.ReadAsync(buffer.AsMemory(0, want), c.RequestAborted);
                if (n == 0) break;
                lock (session)
                {
                    for (var i = 0; i < n; i++, position++)
                    {
                        if (position == session.Bytes.Length) session.Bytes.WriteByte(buffer[i]);
                    }
                }
                read += n;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
        {
            Log(index, c, 499); // the client went away mid-fragment
            return;
        }
        var received = session.Bytes.Length;
        if (received >= total && !session.Complete)
        {
            if (options.ApplicationFails)
            {
                Error(index, c, 500, unchecked((int)0x801901F4), 7);
                return;
            }
            session.Complete = true;
            _uploaded[path] = session.Bytes.ToArray();
            if (options.Reply is { } reply) _replies[sessionId.Trim('{', '}')] = reply;
        }
        if (session.Complete && options.Reply is not null && end >= total - 1)
            c.Response.Headers["BITS-Reply-URL"] = "/replies/" + sessionId.Trim('{', '}');
        c.Response.Headers["BITS-Received-Content-Range"] = received.ToString(CultureInfo.InvariantCulture);
        Log(index, c, 200);
    }

    private void Error(int index, HttpContext c, int status, int code, int context)
    {
        c.Response.StatusCode = status;
        c.Response.Headers["BITS-Error-Code"] = "0x" + code.ToString("X8", CultureInfo.InvariantCulture);
        c.Response.Headers["BITS-Error-Context"] = "0x" + context.ToString("X", CultureInfo.InvariantCulture);
        Log(index, c, status);
    }
}
