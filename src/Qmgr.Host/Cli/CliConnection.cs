using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Qmgr.Api;
using Serilog.Events;

namespace Qmgr.Host.Cli;

/// <summary>
/// How a CLI verb reaches the queue manager, always through <see cref="IQueueManager"/> (one façade for every surface):
/// a running service over HTTP when <c>--server</c> / <c>QMGR_SERVER</c> is given or a <c>qmgr serve</c> holds the data
/// directory (it leaves <see cref="ServiceEndpoint"/> there), else an in-process node on the data directory (its lock
/// taken for the verb's life). Refusals (<see cref="QmgrException"/>) become exit 2 with the reason and the BITS code; an
/// unreachable service or a busy data directory exit 3.
/// </summary>
public sealed class CliConnection
{
    /// <summary><c>--data-dir DIR</c>, shared by every verb.</summary>
    public Option<string?> DataDir { get; } = new("--data-dir") { Description = "data directory (default: $QMGR_DATA_DIR, else $XDG_DATA_HOME/qmgr, else ~/.local/share/qmgr)" };

    /// <summary><c>--server URL</c>: the service's base address (default: $QMGR_SERVER, else the one a running serve left in the data directory).</summary>
    public Option<string?> Server { get; } = new("--server") { Description = "base URL of a running qmgr service (default: $QMGR_SERVER, else the service holding the data directory)" };

    /// <summary><c>--token TOKEN</c>: the bearer token (default: $QMGR_TOKEN, else DATA_DIR/api-token).</summary>
    public Option<string?> Token { get; } = new("--token") { Description = "API bearer token (default: $QMGR_TOKEN, else DATA_DIR/api-token)" };

    /// <summary><c>--json</c>: machine-readable output.</summary>
    public Option<bool> Json { get; } = new("--json") { Description = "print JSON" };

    /// <summary>Adds the connection options to <paramref name="command"/>.</summary>
    public Command With(Command command)
    {
        command.Options.Add(DataDir);
        command.Options.Add(Server);
        command.Options.Add(Token);
        return command;
    }

    /// <summary>
    /// Runs <paramref name="body"/> with the caller's queue manager: the token's owner on a service, the OS user
    /// in-process (<paramref name="administrator"/>: acting for every owner, e.g. <c>list --all-users</c>; a service grants
    /// that only to an administrator token). Returns the body's exit code, or 2 / 3 as the class summary says.
    /// </summary>
    public async Task<int> RunAsync(ParseResult parse, Func<IQueueManager, CancellationToken, Task<int>> body, bool administrator = false, CancellationToken cancellationToken = default)
    {
        var dataDir = DataDirectoryOf(parse);
        var server = ServerOf(parse);
        try
        {
            if (server is not null)
            {
                var token = parse.GetValue(Token) ?? NullIfBlank(Environment.GetEnvironmentVariable("QMGR_TOKEN")) ?? ServiceEndpoint.ReadToken(dataDir);
                if (!Uri.TryCreate(server, UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
                    return Program.Fail(ExitCodes.Usage, $"--server must be an http or https URL: {server}");
                using var remote = await Client.HttpQueueManager.ConnectAsync(baseAddress, token, cancellationToken: cancellationToken);
                // the administrator token acts as its user unless the verb asks for every owner (BITS: limits apply to users)
                return await body(administrator ? remote.AsAdministrator() : remote.ForCaller(remote.Caller), cancellationToken);
            }
            if (SharedStoreConnectionString() is not null)
                return Program.Fail(ExitCodes.Usage, $"{NodeArguments.ConnectionStringVariable} names a shared store: verbs reach its cluster through a node's API (--server URL or QMGR_SERVER), they do not start a node of their own");
            return await QmgrHost.RunLockedAsync(dataDir, LogEventLevel.Warning, host =>
            {
                var system = host.Services.GetRequiredService<Akka.Actor.ActorSystem>();
                return body(QueueManager.Create(system, Environment.UserName, administrator), cancellationToken);
            });
        }
        catch (QmgrException ex)
        {
            return Program.Fail(ex.HResult is Client.HttpQueueManager.ServiceUnavailable or HResults.ERROR_TIMEOUT ? ExitCodes.DataDirectory : ExitCodes.Usage, $"{ex.Message} (code 0x{ex.HResult:X8})");
        }
    }

    /// <summary>The data directory the verb names (<c>--data-dir</c>, else the environment; not created).</summary>
    public DataDirectory DataDirectoryOf(ParseResult parse) => DataDirectory.Resolve(parse.GetValue(DataDir));

    /// <summary>The base URL of the service <see cref="RunAsync"/> will use, or null when it will run an in-process node.</summary>
    public string? ServerOf(ParseResult parse) =>
        parse.GetValue(Server) ?? NullIfBlank(Environment.GetEnvironmentVariable("QMGR_SERVER")) ?? ServiceEndpoint.Read(DataDirectoryOf(parse))?.Url;

    /// <summary>Where the verb's jobs live, for messages: <c>the service at URL</c> or the data directory's path.</summary>
    public string Describe(ParseResult parse) => ServerOf(parse) is { } url ? $"the service at {url}" : DataDirectoryOf(parse).Path;

    /// <summary>The shared (PostgreSQL) store's connection string from <c>QMGR_CONNECTION_STRING</c>, or null.</summary>
    public static string? SharedStoreConnectionString() => NullIfBlank(Environment.GetEnvironmentVariable(NodeArguments.ConnectionStringVariable));

    private static string? NullIfBlank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
