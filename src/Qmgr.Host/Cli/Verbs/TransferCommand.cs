using System.CommandLine;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr transfer</c>, after <c>bitsadmin /transfer</c>: one group holding one AutoComplete job with the given files
/// (<c>-i LISTFILE</c>: any number of files, in jobs of at most 200 files in one group); waits for the jobs, shows
/// progress, exits with Decision 15's codes. Everything is checked before anything is created: more than 200 files
/// without <c>-i</c>, a URL over 2,200 characters, a bad URL or FILE is exit 2 and creates nothing; if the queue manager
/// still refuses a later call, the group just created is cancelled. A SIGKILLed process leaves the jobs for
/// <c>qmgr serve</c> (or the service they were submitted to).
/// </summary>
public static class TransferCommand
{
    public static Command Create(CliConnection connection)
    {
        var priority = new Option<JobPriority>("--priority") { Description = "foreground, high, normal or low (default normal)", DefaultValueFactory = _ => JobPriority.Normal };
        var maxBandwidth = new Option<string?>("--max-bandwidth") { Description = "the group's cap in bytes per second, K/M/G suffixes in powers of 1024 (0 = none)" };
        var displayName = new Option<string?>("--display-name") { Description = "display name of the group and job" };
        var overwrite = new Option<bool>("--overwrite") { Description = "allow replacing existing local files on complete" };
        var sha256 = new Option<string[]>("--sha256") { Description = "expected SHA-256 (64 hex digits) of each URL FILE file, in file order; repeat once per file", Arity = ArgumentArity.ZeroOrMore };
        var retryDelay = new Option<string?>("--minimum-retry-delay") { Description = "seconds (or 30s, 5m, 1h) a job waits in TransientError before retrying (default 600; 5 at least)" };
        var input = new Option<string?>("--input-file", "-i") { Description = "a list file of 'URL FILE [SHA256]' lines (# comments); any number of files, split into jobs of at most 200" };
        var pairs = new Argument<string[]>("URL FILE") { Arity = ArgumentArity.ZeroOrMore, Description = "remote URL and local file, repeated" };
        var command = Verb.Create(connection, "transfer", "Download files in one job and wait for them (like bitsadmin /transfer)",
            priority, maxBandwidth, displayName, overwrite, sha256, retryDelay, input, pairs);
        command.SetAction((parse, _) => Verb.Guard(() =>
        {
            var plan = Plan(parse.GetValue(pairs) ?? [], parse.GetValue(sha256) ?? [], parse.GetValue(input), parse.GetValue(overwrite));
            return TransferRunner.RunAsync(connection, parse, new TransferRunner.Request(
                parse.GetValue(priority),
                parse.GetValue(maxBandwidth) is { } b ? CliValues.Size(b, "--max-bandwidth") : 0,
                parse.GetValue(displayName) ?? $"qmgr transfer {Path.GetFileName(plan[0][0].LocalName)}",
                parse.GetValue(overwrite),
                parse.GetValue(retryDelay) is { } d ? CliValues.Seconds(d, "--minimum-retry-delay") : null,
                JobType.Download, null, plan));
        }));
        return command;
    }

    /// <summary>The jobs' files: URL FILE pairs (at most 200), and with <paramref name="listFile"/> its lines too, 200 a job.</summary>
    private static IReadOnlyList<IReadOnlyList<GroupCommands.FileSpec>> Plan(string[] pairs, string[] sha256, string? listFile, bool overwrite)
    {
        if (pairs.Length % 2 != 0 || (pairs.Length == 0 && listFile is null)) throw CliError.Usage("expected URL FILE pairs");
        const string hint = "use --overwrite to replace it";
        var files = new List<GroupCommands.FileSpec>();
        for (var i = 0; i < pairs.Length; i += 2) files.Add(FileList.Check(pairs[i], pairs[i + 1], null, download: true, overwrite, hint));
        if (sha256.Length > 0)
        {
            if (sha256.Length != files.Count)
                throw CliError.Usage($"--sha256 given {sha256.Length} times for {files.Count} files: give it once per file, in file order");
            if (sha256.FirstOrDefault(h => !FileList.IsSha256(h)) is { } bad) throw CliError.Usage($"--sha256 must be 64 hex digits: {bad}");
            files = files.Select((f, i) => f with { Sha256 = sha256[i] }).ToList();
        }
        if (listFile is null && files.Count > FileList.MaxFilesPerJob)
            throw CliError.Usage($"{files.Count} files: a job holds at most {FileList.MaxFilesPerJob} (BITS MaxFilesPerJob); " +
                                 "give them with -i LISTFILE to split them into several jobs; nothing was created");
        if (listFile is not null)
        {
            var path = Path.GetFullPath(listFile);
            var entries = FileList.Read(path);
            files.AddRange(entries.Select(e => FileList.Check(e.Url, e.File, e.Sha256, download: true, overwrite, hint, $"{path}:{e.Line}: ")));
            if (files.Count == 0) throw CliError.Usage($"{path} names no file");
        }
        FileList.CheckDistinct(files);
        return files.Chunk(FileList.MaxFilesPerJob).Select(c => (IReadOnlyList<GroupCommands.FileSpec>)c).ToList();
    }
}
