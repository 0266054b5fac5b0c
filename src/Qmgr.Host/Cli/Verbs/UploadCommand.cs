using System.CommandLine;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr upload URL FILE</c>, after <c>bitsadmin /transfer /upload</c>: one AutoComplete upload job (BITS Upload
/// Protocol) in a new group, or an upload-reply job with <c>--reply</c>; waits for it with <c>transfer</c>'s progress
/// and Decision 15's exit codes. A missing or empty FILE is a usage error (exit 2) before any job is created.
/// </summary>
public static class UploadCommand
{
    public static Command Create(CliConnection connection)
    {
        var priority = new Option<JobPriority>("--priority") { Description = "foreground, high, normal or low (default normal)", DefaultValueFactory = _ => JobPriority.Normal };
        var maxBandwidth = new Option<string?>("--max-bandwidth") { Description = "the group's cap in bytes per second, K/M/G suffixes in powers of 1024 (0 = none)" };
        var displayName = new Option<string?>("--display-name") { Description = "display name of the group and job" };
        var reply = new Option<string?>("--reply") { Description = "upload-reply: write the server application's reply to this file" };
        var overwrite = new Option<bool>("--overwrite") { Description = "allow replacing an existing reply file" };
        var retryDelay = new Option<string?>("--minimum-retry-delay") { Description = "seconds (or 30s, 5m, 1h) the job waits in TransientError before retrying (default 600; 5 at least)" };
        var url = new Argument<string>("URL") { Description = "the upload URL (a BITS upload server)" };
        var file = new Argument<string>("FILE") { Description = "the local file to upload (read, never changed)" };
        var command = Verb.Create(connection, "upload", "Upload one file with the BITS Upload Protocol and wait for it (like bitsadmin /transfer /upload)",
            priority, maxBandwidth, displayName, reply, overwrite, retryDelay, url, file);
        command.SetAction((parse, _) => Verb.Guard(() =>
        {
            var remote = parse.GetValue(url)!;
            if (!Uri.TryCreate(remote, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                throw CliError.Usage($"not an absolute http or https URL: {remote}");
            var local = Path.GetFullPath(parse.GetValue(file)!);
            if (!File.Exists(local)) throw CliError.Usage($"no such file to upload: {local}");
            if (new FileInfo(local).Length == 0)
                throw CliError.Usage($"{local} is empty: the BITS Upload Protocol cannot upload an empty file (a fragment carries at least one byte)");
            string? replyPath = null;
            if (parse.GetValue(reply) is { } r)
            {
                replyPath = Path.GetFullPath(r);
                if (Path.GetDirectoryName(replyPath) is not { } dir || !Directory.Exists(dir)) throw CliError.Usage($"directory does not exist: {Path.GetDirectoryName(replyPath)}");
                if (File.Exists(replyPath) && !parse.GetValue(overwrite)) throw CliError.Usage($"{replyPath} exists (use --overwrite to replace it)");
            }
            var spec = FileList.Check(remote, local, null, download: false, overwrite: false, "");
            return TransferRunner.RunAsync(connection, parse, new TransferRunner.Request(
                parse.GetValue(priority),
                parse.GetValue(maxBandwidth) is { } b ? CliValues.Size(b, "--max-bandwidth") : 0,
                parse.GetValue(displayName) ?? $"qmgr upload {Path.GetFileName(local)}",
                parse.GetValue(overwrite),
                parse.GetValue(retryDelay) is { } d ? CliValues.Seconds(d, "--minimum-retry-delay") : null,
                replyPath is null ? JobType.Upload : JobType.UploadReply, replyPath, [[spec]]));
        }));
        return command;
    }
}
