using System.CommandLine;
using System.CommandLine.Parsing;
using Qmgr.Host.Cli;
using Qmgr.Host.Cli.Verbs;

namespace Qmgr.Host;

/// <summary>The <c>qmgr</c> executable: CLI verbs after bitsadmin, and the service.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var connection = new CliConnection();
        var root = new RootCommand("qmgr: the Background Intelligent Transfer Service queue manager on Akka.NET")
        {
            TransferCommand.Create(connection),
            UploadCommand.Create(connection),
            ServeCommand.Create(connection.DataDir),
            DbCommand.Create(),
            CreateCommand.Create(connection),
            AddFileCommands.AddFile(connection),
            AddFileCommands.AddFileSet(connection),
            JobStateCommands.Resume(connection),
            JobStateCommands.Suspend(connection),
            CancelCommand.Create(connection),
            JobStateCommands.Complete(connection),
            InfoCommands.Info(connection),
            InfoCommands.GetState(connection),
            InfoCommands.GetError(connection),
            InfoCommands.GetBytesTotal(connection),
            InfoCommands.GetBytesTransferred(connection),
            ListCommand.Create(connection),
            SetCommands.SetPriority(connection),
            SetCommands.SetDisplayName(connection),
            SetCommands.SetDescription(connection),
            SetCommands.SetMinRetryDelay(connection),
            SetCommands.SetNoProgressTimeout(connection),
            SetCommands.SetNotifyFlags(connection),
            SetCommands.SetCustomHeaders(connection),
            SetCommands.SetCredentials(connection),
            SetCommands.SetMaxBandwidth(connection),
            GroupCommand.Create(connection),
            MonitorCommand.Create(connection),
        };
        var parse = root.Parse(args);
        if (UnknownOption(parse) is { } unknown)
        {
            Console.Error.WriteLine($"qmgr: unknown option {unknown}");
            Console.Error.WriteLine($"qmgr: see 'qmgr {string.Join("", CommandPath(parse).Select(n => n + " "))}--help'");
            return ExitCodes.Usage;
        }
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                Console.Error.WriteLine($"qmgr: {string.Join(' ', error.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))}");
            Console.Error.WriteLine("qmgr: see 'qmgr --help'");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    /// <summary>Prints <c>qmgr: REASON</c> on stderr and returns <paramref name="exitCode"/>.</summary>
    public static int Fail(int exitCode, string reason)
    {
        Console.Error.WriteLine($"qmgr: {reason}");
        return exitCode;
    }

    /// <summary>
    /// The first token that looks like an option (<c>-x</c>, <c>--xyz</c>; not a negative number, not a lone <c>-</c>) but
    /// is none of the command's, whether the parser left it unmatched or handed it to a command argument (e.g.
    /// <c>transfer -o f.bin URL</c>), before any <c>--</c>. Null when there is none.
    /// </summary>
    private static string? UnknownOption(ParseResult parse)
    {
        var doubleDash = parse.Tokens.ToList().FindIndex(t => t.Type == TokenType.DoubleDash);
        bool BeforeDoubleDash(Token token)
        {
            if (doubleDash < 0) return true;
            var index = parse.Tokens.ToList().FindIndex(t => ReferenceEquals(t, token));
            return index >= 0 && index < doubleDash;
        }
        var candidates = parse.UnmatchedTokens.Where(LooksLikeOption).ToList();
        if (candidates.Count > 0 && doubleDash < 0) return candidates[0];
        foreach (var argument in parse.CommandResult.Command.Arguments)
        {
            if (parse.GetResult(argument) is not ArgumentResult result) continue;
            if (result.Tokens.FirstOrDefault(t => LooksLikeOption(t.Value) && BeforeDoubleDash(t)) is { } token) return token.Value;
        }
        return candidates.FirstOrDefault();
    }

    private static bool LooksLikeOption(string token) =>
        token.Length >= 2 && token[0] == '-' && (char.IsLetter(token[1]) || (token[1] == '-' && token.Length > 2 && char.IsLetter(token[2])));

    private static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null && r.Command is not RootCommand; r = r.Parent as System.CommandLine.Parsing.CommandResult) names.Insert(0, r.Command.Name);
        return names;
    }
}
