using System.CommandLine;
using Qmgr.Api;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>A refusal of the CLI itself (bad input, an id that names no job, ...): <c>qmgr: MESSAGE</c> and the exit code.</summary>
public sealed class CliError(int exitCode, string message) : Exception(message)
{
    /// <summary>The process's exit code (<see cref="ExitCodes"/>).</summary>
    public int ExitCode { get; } = exitCode;

    /// <summary>Exit 2 (usage or bad input) with <paramref name="message"/>.</summary>
    public static CliError Usage(string message) => new(ExitCodes.Usage, message);
}

/// <summary>
/// How every bitsadmin-style verb is built: a <see cref="Command"/> with the connection options (<c>--data-dir</c>,
/// <c>--server</c>, <c>--token</c>) and <c>--json</c>, whose action runs its body against the caller's
/// <see cref="IQueueManager"/> through <see cref="CliConnection"/> (a running service or an in-process node: the body
/// never knows which). A <see cref="CliError"/> thrown anywhere becomes <c>qmgr: MESSAGE</c> and its exit code.
/// </summary>
public static class Verb
{
    /// <summary>A command named <paramref name="name"/> with the connection options and <c>--json</c>, plus <paramref name="symbols"/>.</summary>
    public static Command Create(CliConnection connection, string name, string description, params Symbol[] symbols)
    {
        var command = connection.With(new Command(name, description));
        command.Options.Add(connection.Json);
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Option o: command.Options.Add(o); break;
                case Argument a: command.Arguments.Add(a); break;
                case Command c: command.Subcommands.Add(c); break;
            }
        }
        return command;
    }

    /// <summary>
    /// Sets <paramref name="command"/>'s action: <paramref name="body"/> with the caller's queue manager, acting for every
    /// owner when <paramref name="administrator"/> says so for this parse.
    /// </summary>
    public static Command WithAction(this Command command, CliConnection connection,
        Func<ParseResult, IQueueManager, CancellationToken, Task<int>> body, Func<ParseResult, bool>? administrator = null)
    {
        command.SetAction((parse, _) => Guard(() =>
        {
            Args.CheckIds(parse);
            return RunAsync(connection, parse, body, administrator?.Invoke(parse) ?? false);
        }));
        return command;
    }

    /// <summary>
    /// Sets <paramref name="command"/>'s action: <paramref name="prepare"/> checks the input before anything connects (a
    /// <see cref="CliError"/> there starts no node and creates no store), then <paramref name="body"/> runs with its result.
    /// </summary>
    public static Command WithAction<T>(this Command command, CliConnection connection, Func<ParseResult, T> prepare,
        Func<ParseResult, IQueueManager, T, CancellationToken, Task<int>> body, Func<ParseResult, bool>? administrator = null)
    {
        command.SetAction((parse, _) => Guard(() =>
        {
            Args.CheckIds(parse);
            var input = prepare(parse);
            return RunAsync(connection, parse, (p, qm, ct) => body(p, qm, input, ct), administrator?.Invoke(parse) ?? false);
        }));
        return command;
    }

    /// <summary>Runs <paramref name="body"/> through <paramref name="connection"/>, turning <see cref="CliError"/> into its line and exit code.</summary>
    public static Task<int> RunAsync(CliConnection connection, ParseResult parse,
        Func<ParseResult, IQueueManager, CancellationToken, Task<int>> body, bool administrator = false) =>
        Guard(() => connection.RunAsync(parse, (qm, ct) => body(parse, qm, ct), administrator));

    /// <summary>Runs <paramref name="run"/>; a <see cref="CliError"/> becomes <c>qmgr: MESSAGE</c> and its exit code.
    /// For verbs that check their input before they connect (so bad input creates nothing, not even a store).</summary>
    public static async Task<int> Guard(Func<Task<int>> run)
    {
        try
        {
            return await run();
        }
        catch (CliError e)
        {
            return Program.Fail(e.ExitCode, e.Message);
        }
    }

    /// <summary>Writes <paramref name="value"/> as indented JSON (<see cref="CliJson"/>) on stdout.</summary>
    public static void WriteJson(object value) => Console.WriteLine(CliJson.Serialize(value));
}
