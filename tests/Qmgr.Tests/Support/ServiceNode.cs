using System.Net.Http.Headers;
using Akka.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Qmgr.Client;
using Qmgr.Host;
using Qmgr.Host.Service;

namespace Qmgr.Tests.Support;

/// <summary>
/// <c>qmgr serve</c>'s web host (<see cref="ServiceHost"/>: real Kestrel on 127.0.0.1, a port the OS picks, the SQLite
/// journal of a temp data directory) inside the test process, with test timings and two more tokens: <see cref="AliceToken"/>
/// (owner alice) and <see cref="BobToken"/> (owner bob); <see cref="AdminToken"/> is DATA_DIR/api-token.
/// </summary>
public sealed class ServiceNode : IAsyncDisposable
{
    public const string AliceToken = "alice-token-0123456789";
    public const string BobToken = "bob-token-0123456789";

    private readonly WebApplication _app;

    private ServiceNode(WebApplication app, DataDirectory dataDir)
    {
        _app = app;
        DataDir = dataDir;
        BaseAddress = new Uri(app.BoundAddresses().First().Replace("[::]", "127.0.0.1") + "/");
        AdminToken = ServiceEndpoint.ReadToken(dataDir)!;
    }

    public DataDirectory DataDir { get; }
    public Uri BaseAddress { get; }
    public string AdminToken { get; }

    /// <summary>Starts the service on <paramref name="dataDir"/>; <paramref name="hocon"/> is laid over the test timings.</summary>
    public static async Task<ServiceNode> StartAsync(string dataDir, string hocon = "", string urls = "http://127.0.0.1:0")
    {
        var overrides = ConfigurationFactory.ParseString(hocon + $$"""

            qmgr.api.tokens = [
              { token = "{{AliceToken}}", owner = alice }
              { token = "{{BobToken}}", owner = bob }
            ]
            """).WithFallback(HostedQmgr.TestTimings);
        var dir = DataDirectory.Resolve(dataDir);
        var app = await ServiceHost.StartAsync(dir, urls, overrides, CancellationToken.None);
        return new ServiceNode(app, dir);
    }

    /// <summary>A raw HTTP client of the service, with <paramref name="token"/> as bearer (none when null).</summary>
    public HttpClient Http(string? token)
    {
        var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>The service's actor system (a cluster of one).</summary>
    public Akka.Actor.ActorSystem System => _app.Services.GetRequiredService<Akka.Actor.ActorSystem>();

    /// <summary>The HTTP implementation of IQueueManager acting with <paramref name="token"/>.</summary>
    public Task<HttpQueueManager> ConnectAsync(string token) => HttpQueueManager.ConnectAsync(BaseAddress, token);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
