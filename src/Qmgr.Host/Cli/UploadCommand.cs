using System.CommandLine;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli;

/// <summary>
/// <c>qmgr upload URL FILE</c>, after <c>bitsadmin /transfer /upload</c>: one AutoComplete upload job (BITS Upload
/// Protocol) in a new group, or an upload-reply job with <c>--reply</c>; waits for it with <c>transfer</c>'s progress
/// and Decision 15's exit codes. A missing or empty FILE is a usage error (exit 2) before any job is created.
/// </summary>
public static class UploadCommand
{
    public static Command Create(Option<string?> dataDirOption)
    {
        var priority = new Option<JobPriority>("--priority") { Description = "foreground, high, normal or low (default normal)", DefaultValueFactory = _ => JobPriority.Normal };
        var maxBandwidth = new Option<long>("--max-bandwidth") { Description = "the group's cap in bytes per second (0 = none)" };
        var displayName = new Option<string?>("--display-name") { Description = "display name of the group and job" };
        var reply = new Option<string?>("--reply") { Description = "upload-reply: write the server application's reply to this file" };
        var overwrite = new Option<bool>("--overwrite") { Description = "allow replacing an existing reply file" };
        var url = new Argument<string>("URL") { Description = "the upload URL (a BITS upload server)" };
        var file = new Argument<string>("FILE") { Description = "the local file to upload (read, never changed)" };
        var command = new Command("upload", "Upload one file with the BITS Upload Protocol and wait for it (like bitsadmin /transfer /upload)")
        {
            dataDirOption, priority, maxBandwidth, displayName, reply, overwrite, url, file,
        };
        command.SetAction((parse, _) => RunAsync(parse.GetValue(dataDirOption), parse.GetValue(priority), parse.GetValue(maxBandwidth),
            parse.GetValue(displayName), parse.GetValue(reply), parse.GetValue(overwrite), parse.GetValue(url)!, parse.GetValue(file)!));
        return command;
    }

    private static Task<int> RunAsync(string? dataDir, JobPriority priority, long maxBandwidth, string? displayName, string? reply, bool overwrite, string url, string file)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            return Task.FromResult(Program.Fail(ExitCodes.Usage, $"not an absolute http or https URL: {url}"));
        var local = Path.GetFullPath(file);
        if (!File.Exists(local)) return Task.FromResult(Program.Fail(ExitCodes.Usage, $"no such file to upload: {local}"));
        if (new FileInfo(local).Length == 0)
            return Task.FromResult(Program.Fail(ExitCodes.Usage, $"{local} is empty: the BITS Upload Protocol cannot upload an empty file (a fragment carries at least one byte)"));
        if (maxBandwidth < 0) return Task.FromResult(Program.Fail(ExitCodes.Usage, "--max-bandwidth must be 0 (no cap) or a positive number of bytes per second"));
        string? replyPath = null;
        if (reply is not null)
        {
            replyPath = Path.GetFullPath(reply);
            if (Path.GetDirectoryName(replyPath) is not { } dir || !Directory.Exists(dir)) return Task.FromResult(Program.Fail(ExitCodes.Usage, $"directory does not exist: {Path.GetDirectoryName(replyPath)}"));
            if (File.Exists(replyPath) && !overwrite) return Task.FromResult(Program.Fail(ExitCodes.Usage, $"{replyPath} exists (use --overwrite to replace it)"));
        }
        return TransferCommand.RunJobAsync(dataDir, priority, maxBandwidth, displayName, overwrite, [new GroupCommands.FileSpec(uri.AbsoluteUri, local)],
            reply is null ? JobType.Upload : JobType.UploadReply, replyPath);
    }
}
