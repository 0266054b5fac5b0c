using System.CommandLine;
using Qmgr.Host.Cli;

namespace Qmgr.Host;

/// <summary>The <c>qmgr</c> executable: CLI verbs after bitsadmin, and the service.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var dataDir = new Option<string?>("--data-dir") { Description = "data directory (default: $QMGR_DATA_DIR, else $XDG_DATA_HOME/qmgr, else ~/.local/share/qmgr)" };
        var root = new RootCommand("qmgr: the Background Intelligent Transfer Service queue manager on Akka.NET")
        {
            TransferCommand.Create(dataDir),
            UploadCommand.Create(dataDir),
            ServeCommand.Create(dataDir),
            ListCommand.Create(dataDir),
            CancelCommand.Create(dataDir),
        };
        var parse = root.Parse(args);
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
}
