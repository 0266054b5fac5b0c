using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qmgr.Hosting;
using Microsoft.Extensions.Configuration;
using Serilog;
using Serilog.Events;

namespace Qmgr.Host;

/// <summary>Builds the process's generic host: Serilog (console on stderr + rolling file), Akka with Qmgr.</summary>
public static class QmgrHost
{
    /// <summary>
    /// Configures Serilog: stderr from <paramref name="consoleLevel"/>, and <c>logs/qmgr-.log</c> (daily, 7 kept) from
    /// Information; then the <c>Serilog</c> section of <c>DATA_DIR/appsettings.json</c> (optional) and of environment
    /// variables prefixed <c>QMGR_</c> (e.g. <c>QMGR_Serilog__MinimumLevel__Default=Debug</c>) on top (Serilog.Settings.Configuration).
    /// </summary>
    public static void ConfigureLogging(DataDirectory dataDir, LogEventLevel consoleLevel)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddJsonFile(System.IO.Path.Combine(dataDir.Path, "appsettings.json"), optional: true)
            .AddEnvironmentVariables("QMGR_")
            .Build();
        var logger = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("System.Net.Http", LogEventLevel.Warning)
            // a failed start (e.g. the API's port in use) is reported in one `qmgr:` line; not also as a stack trace
            .MinimumLevel.Override("Microsoft.Extensions.Hosting.Internal.Host", LogEventLevel.Fatal)
            // "no XML encryptor configured" on every new key ring: expected on Linux (README: Data directory)
            .MinimumLevel.Override("Microsoft.AspNetCore.DataProtection", LogEventLevel.Error)
            .WriteTo.Console(restrictedToMinimumLevel: consoleLevel, standardErrorFromLevel: LogEventLevel.Verbose,
                outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}{Exception}")
            .WriteTo.File(Path.Combine(dataDir.LogsPath, "qmgr-.log"), rollingInterval: RollingInterval.Day, retainedFileCountLimit: 7,
                outputTemplate: "{Timestamp:O} [{Level:u3}] ({SourceContext}) {Message:lj}{NewLine}{Exception}");
        // ReadFrom.Configuration scans every assembly of the application for sinks and enrichers (on every
        // start): only when there is a Serilog section to read
        if (configuration.GetSection("Serilog").Exists()) logger.ReadFrom.Configuration(configuration);
        Log.Logger = logger.CreateLogger();
    }

    /// <summary>The environment variable holding HOCON text laid over hocon/qmgr.conf by every verb that starts actors.</summary>
    public const string HoconEnvironmentVariable = "QMGR_HOCON";

    /// <summary>
    /// HOCON overrides from <c>QMGR_HOCON</c> (inline HOCON text, e.g.
    /// <c>QMGR_HOCON='qmgr.bandwidth.max-bytes-per-second = 1048576'</c>), or null when unset or blank.
    /// Throws <see cref="Akka.Configuration.ConfigurationException"/> (or a HOCON parser exception) when the text does not parse.
    /// </summary>
    public static Akka.Configuration.Config? EnvironmentOverrides()
    {
        var text = Environment.GetEnvironmentVariable(HoconEnvironmentVariable);
        return string.IsNullOrWhiteSpace(text) ? null : Akka.Configuration.ConfigurationFactory.ParseString(text);
    }

    /// <summary>A started host running Qmgr on <paramref name="dataDir"/>'s SQLite store, with <see cref="EnvironmentOverrides"/>.</summary>
    public static async Task<IHost> StartAsync(DataDirectory dataDir, CancellationToken cancellationToken)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddQmgrNode(new NodeArguments().Resolve(dataDir, EnvironmentOverrides()));
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return host;
    }

    /// <summary>Registers a Qmgr node with <paramref name="options"/> (from <see cref="NodeArguments.Resolve"/>: the data
    /// directory, the store, the cluster and the HOCON overrides the CLI takes from <see cref="EnvironmentOverrides"/>) and
    /// Serilog as the host's and Akka's logger: what every verb that runs a node, and the service, share.</summary>
    public static IServiceCollection AddQmgrNode(this IServiceCollection services, QmgrOptions options, Action<AkkaConfigurationBuilder>? configure = null)
    {
        services.AddSerilog(dispose: false);
        return services.AddQmgr(options, (akka, _) =>
        {
            akka.ConfigureLoggers(setup =>
            {
                setup.LogLevel = LogLevel.InfoLevel;
                setup.ClearLoggers();
                setup.AddLogger<SerilogLogger>();
            });
            configure?.Invoke(akka);
        });
    }

    /// <summary>
    /// Stops the host. Akka's stdout logger takes over once Serilog's is stopped and would print shutdown lines on
    /// stdout, so the bus drops to Warning first: shutdown chatter stays out of the CLI's output.
    /// </summary>
    public static async Task StopQuietlyAsync(this IHost host)
    {
        host.Services.GetRequiredService<ActorSystem>().EventStream.SetLogLevel(LogLevel.WarningLevel);
        await host.StopAsync();
    }

    /// <summary>
    /// The life of every CLI verb that runs a node: takes the data-directory lock (else exit 3 naming the holder),
    /// logs to stderr from <paramref name="consoleLevel"/>, starts the node, runs <paramref name="body"/> on it and returns
    /// its exit code; a store error (SQLite or PostgreSQL, or an ask that timed out) is exit 3. The node is always stopped and the logs
    /// flushed before this returns.
    /// </summary>
    public static async Task<int> RunLockedAsync(DataDirectory dataDir, LogEventLevel consoleLevel, Func<IHost, Task<int>> body,
        Func<DataDirectory, CancellationToken, Task<IHost>>? start = null)
    {
        using var dirLock = dataDir.TryLock(out var lockReason);
        if (dirLock is null) return Program.Fail(Cli.ExitCodes.DataDirectory, lockReason);
        ConfigureLogging(dataDir, consoleLevel);
        IHost? host = null;
        try
        {
            host = await (start ?? StartAsync)(dataDir, CancellationToken.None);
            return await body(host);
        }
        catch (Exception ex) when (ex is AskTimeoutException or System.Data.Common.DbException)
        {
            return Program.Fail(Cli.ExitCodes.DataDirectory, $"store error: {ex.Message}");
        }
        finally
        {
            if (host is not null) await host.StopQuietlyAsync();
            await Log.CloseAndFlushAsync();
        }
    }

    /// <summary>The queue manager of a started host.</summary>
    public static GroupClient QueueManager(this IHost host)
    {
        var system = host.Services.GetRequiredService<ActorSystem>();
        return Qmgr.Hosting.GroupClient.From(system);
    }
}
