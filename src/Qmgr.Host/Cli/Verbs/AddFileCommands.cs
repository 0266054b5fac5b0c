using System.CommandLine;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr addfile JOB URL FILE</c> and <c>qmgr addfileset JOB LISTFILE</c>, after bitsadmin <c>/addfile</c> and
/// <c>/addfileset</c>. FILE becomes absolute and its directory must exist; an existing FILE of a download job is refused
/// unless the job was created with <c>--overwrite</c>. A list file has lines <c>URL FILE [SHA256]</c> (<see cref="FileList"/>);
/// its files are added in one call (BITS AddFileSet), so all are added or none: a malformed line is exit 2 naming its number.
/// </summary>
public static class AddFileCommands
{
    public static Command AddFile(CliConnection connection)
    {
        var job = Args.Job();
        var url = new Argument<string>("URL") { Description = "remote URL (http or https)" };
        var file = new Argument<string>("FILE") { Description = "local file (made absolute; its directory must exist)" };
        return Verb.Create(connection, "addfile", "Add a file to a job (like bitsadmin /addfile)", job, url, file)
            .WithAction(connection, async (parse, qm, ct) =>
            {
                var found = await Resolve.JobAsync(qm, parse.GetValue(job)!, includeFinal: false, ct);
                var spec = Check(found.Job, parse.GetValue(url)!, parse.GetValue(file)!, null, "");
                return await AddAsync(connection, parse, found, [spec], ct);
            });
    }

    public static Command AddFileSet(CliConnection connection)
    {
        var job = Args.Job();
        var list = new Argument<string>("LISTFILE") { Description = "lines 'URL FILE [SHA256]'; blank lines and # comments skipped" };
        var command = Verb.Create(connection, "addfileset", "Add every file of a list file to a job, all or none (like bitsadmin /addfileset)", job, list);
        command.SetAction((parse, _) => Verb.Guard(() =>
        {
            Args.CheckIds(parse);
            var path = Path.GetFullPath(parse.GetValue(list)!);
            var entries = FileList.Read(path); // malformed lines refuse before anything is started
            if (entries.Count == 0) throw CliError.Usage($"{path} names no file");
            return Verb.RunAsync(connection, parse, async (p, qm, ct) =>
            {
                var found = await Resolve.JobAsync(qm, p.GetValue(job)!, includeFinal: false, ct);
                var specs = entries.Select(e => Check(found.Job, e.Url, e.File, e.Sha256, $"{path}:{e.Line}: ")).ToList();
                FileList.CheckDistinct(found.Job.Files.Select(f => new GroupCommands.FileSpec(f.RemoteName, f.LocalName)).Concat(specs));
                return await AddAsync(connection, p, found, specs, ct);
            });
        }));
        return command;
    }

    private static GroupCommands.FileSpec Check(Job job, string url, string file, string? sha256, string where) =>
        FileList.Check(url, file, sha256, download: job.Type == JobType.Download, overwrite: job.Options.Overwrite,
            "the job replaces existing files only when created with --overwrite", where);

    private static async Task<int> AddAsync(CliConnection connection, ParseResult parse, FoundJob found, IReadOnlyList<GroupCommands.FileSpec> specs, CancellationToken ct)
    {
        await found.Handle.AddFilesAsync(specs, ct);
        if (parse.GetValue(connection.Json)) Verb.WriteJson(new { job = found.Job.Id, added = specs.Count, files = found.Job.Files.Count + specs.Count });
        else Console.WriteLine($"added {specs.Count} file{(specs.Count == 1 ? "" : "s")} to job {found.Job.Id:D}");
        return ExitCodes.Done;
    }
}
