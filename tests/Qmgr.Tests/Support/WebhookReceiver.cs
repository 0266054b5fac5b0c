using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Qmgr.Tests.Support;

/// <summary>A webhook receiver on 127.0.0.1 (Kestrel, a port the OS picks): records every POST to /hook; answers 503
/// while <see cref="Failing"/> is set, else 204.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Received> _received = new();
    private readonly SemaphoreSlim _arrived = new(0);

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <summary>One POST as received, and whether it was answered with a failure.</summary>
    public sealed record Received(string Body, string? Signature, string? DeliveryId, string? Event, bool Refused);

    public bool Failing { get; set; }

    public Uri Url => new(_app.Urls.First() + "/hook");

    public IReadOnlyList<Received> All => _received.ToArray();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async (HttpContext http) =>
        {
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync();
            var refused = receiver.Failing;
            receiver._received.Enqueue(new Received(body, http.Request.Headers["X-Qmgr-Signature"], http.Request.Headers["X-Qmgr-Delivery"],
                http.Request.Headers["X-Qmgr-Event"], refused));
            receiver._arrived.Release();
            return refused ? Results.StatusCode(503) : Results.NoContent();
        });
        await app.StartAsync();
        return receiver;
    }

    /// <summary>Waits (up to <paramref name="deadline"/>) until a POST matching <paramref name="match"/> arrived; returns it.</summary>
    public async Task<Received> WaitForAsync(Func<Received, bool> match, TimeSpan deadline)
    {
        using var cts = new CancellationTokenSource(deadline);
        while (true)
        {
            if (_received.FirstOrDefault(match) is { } found) return found;
            await _arrived.WaitAsync(cts.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
