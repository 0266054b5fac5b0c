using Akka.Actor;
using Akka.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qmgr.Hosting;

namespace Qmgr.Tests.Support;

/// <summary>
/// Qmgr embedded in a generic host exactly as a backend embeds it (<c>services.AddQmgr</c>), on the SQLite journal of
/// the data directory given to <see cref="Start"/>, with test timings (short quick retries and retry delay floor).
/// </summary>
public sealed class HostedQmgr : IAsyncDisposable
{
    /// <summary>Short timings for specs; every key is documented in hocon/qmgr.conf.</summary>
    public static readonly Config TestTimings = ConfigurationFactory.ParseString("""
        qmgr.transfer.quick-retry-delays = [50ms, 50ms, 50ms]
        qmgr.transfer.checkpoint-interval = 200ms
        qmgr.transfer.idle-timeout = 5s
        qmgr.job.minimum-retry-delay-floor = 100ms
        qmgr.job.minimum-retry-delay = 500ms
        qmgr.persistence.snapshot-every = 7
        akka.loglevel = INFO
        """);

    private readonly IHost _host;

    private HostedQmgr(IHost host, string dataDirectory)
    {
        _host = host;
        DataDirectory = dataDirectory;
        System = host.Services.GetRequiredService<ActorSystem>();
        QueueManager = GroupClient.From(System);
    }

    public string DataDirectory { get; }
    public ActorSystem System { get; }
    public GroupClient QueueManager { get; }

    /// <summary>Builds and starts the host (blocking: usable from a test constructor).</summary>
    /// <param name="dataDirectory">the node's data directory (journal, key ring).</param>
    /// <param name="overrides">HOCON laid over <see cref="TestTimings"/>; null = none.</param>
    /// <param name="seedNodes">cluster seed addresses; null = a cluster of one.</param>
    public static HostedQmgr Start(string dataDirectory, Config? overrides = null, IReadOnlyList<string>? seedNodes = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddQmgr(new QmgrOptions
        {
            DataDirectory = dataDirectory,
            Overrides = (overrides ?? Config.Empty).WithFallback(TestTimings),
            SeedNodes = seedNodes ?? [],
        });
        var host = builder.Build();
        host.StartAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        return new HostedQmgr(host, dataDirectory);
    }

    /// <summary>
    /// Builds and starts a host on <paramref name="options"/> (any store), with <see cref="TestTimings"/> under the
    /// options' own overrides (blocking: usable from a test constructor).
    /// </summary>
    public static HostedQmgr StartWith(QmgrOptions options)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddQmgr(new QmgrOptions
        {
            DataDirectory = options.DataDirectory,
            Store = options.Store,
            ConnectionString = options.ConnectionString,
            Overrides = (options.Overrides ?? Config.Empty).WithFallback(TestTimings),
            SeedNodes = options.SeedNodes,
            ClusterHost = options.ClusterHost,
            ClusterPort = options.ClusterPort,
        });
        var host = builder.Build();
        host.StartAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        return new HostedQmgr(host, options.DataDirectory);
    }

    private int _disposed;

    /// <summary>Stops the node (leaving its cluster); a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _host.StopAsync(TimeSpan.FromSeconds(20));
        _host.Dispose();
    }
}
