using System.Collections.Immutable;
using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Qmgr.Groups;
using Qmgr.Jobs;
using Serilog.Events;
using Spectre.Console;

namespace Qmgr.Host.Cli;

/// <summary>
/// <c>qmgr transfer</c>, after <c>bitsadmin /transfer</c>: one group holding one AutoComplete job with the given files;
/// waits for it, shows progress, exits with Decision 15's codes. A SIGKILLed process leaves the job for <c>qmgr serve</c>.
/// </summary>
public static class TransferCommand
{
    public static Command Create(Option<string?> dataDirOption)
    {
        var priority = new Option<JobPriority>("--priority") { Description = "foreground, high, normal or low (default normal)", DefaultValueFactory = _ => JobPriority.Normal };
        var maxBandwidth = new Option<long>("--max-bandwidth") { Description = "the group's cap in bytes per second (0 = none)" };
        var displayName = new Option<string?>("--display-name") { Description = "display name of the group and job" };
        var overwrite = new Option<bool>("--overwrite") { Description = "allow replacing existing local files on complete" };
        var sha256 = new Option<string[]>("--sha256") { Description = "expected SHA-256 (64 hex digits) of each file, in file order; repeat once per file", Arity = ArgumentArity.ZeroOrMore };
        var pairs = new Argument<string[]>("URL FILE") { Arity = ArgumentArity.OneOrMore, Description = "remote URL and local file, repeated" };
        var command = new Command("transfer", "Download files in one job and wait for them (like bitsadmin /transfer)")
        {
            dataDirOption, priority, maxBandwidth, displayName, overwrite, sha256, pairs,
        };
        command.SetAction((parse, _) => RunAsync(
            parse.GetValue(dataDirOption), parse.GetValue(priority), parse.GetValue(maxBandwidth),
            parse.GetValue(displayName), parse.GetValue(overwrite), parse.GetValue(sha256) ?? [], parse.GetValue(pairs) ?? []));
        return command;
    }

    private static async Task<int> RunAsync(string? dataDirOption, JobPriority priority, long maxBandwidth, string? displayName, bool overwrite, string[] sha256, string[] pairs)
    {
        if (!TryParseFiles(pairs, overwrite, out var files, out var error))
            return Program.Fail(ExitCodes.Usage, error);
        if (sha256.Length > 0)
        {
            if (sha256.Length != files.Count)
                return Program.Fail(ExitCodes.Usage, $"--sha256 given {sha256.Length} times for {files.Count} files: give it once per file, in file order");
            if (sha256.FirstOrDefault(h => h.Length != 64 || !h.All(Uri.IsHexDigit)) is { } bad)
                return Program.Fail(ExitCodes.Usage, $"--sha256 must be 64 hex digits: {bad}");
            files = files.Select((f, i) => f with { Sha256 = sha256[i] }).ToImmutableList();
        }
        if (maxBandwidth < 0) return Program.Fail(ExitCodes.Usage, "--max-bandwidth must be 0 (no cap) or a positive number of bytes per second");
        return await RunJobAsync(dataDirOption, priority, maxBandwidth, displayName, overwrite, files, JobType.Download, null);
    }

    /// <summary>
    /// Runs one AutoComplete job of <paramref name="type"/> with <paramref name="files"/> (already validated) in a new
    /// group and waits for it; <paramref name="replyFile"/> names an upload-reply job's reply file (null = generated).
    /// </summary>
    internal static async Task<int> RunJobAsync(string? dataDirOption, JobPriority priority, long maxBandwidth, string? displayName, bool overwrite,
        ImmutableList<GroupCommands.FileSpec> files, JobType type, string? replyFile)
    {
        var dataDir = DataDirectory.Resolve(dataDirOption);
        // Ctrl+C (SIGINT) cancels the job, as bitsadmin /transfer does; SIGTERM stops the process and leaves the job
        // for `qmgr serve`, as a SIGKILL would (Decision 15).
        using var interrupt = new CancellationTokenSource();
        var terminated = false;
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; interrupt.Cancel(); };
        Console.CancelKeyPress += onCancel;
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM,
            c => { c.Cancel = true; terminated = true; interrupt.Cancel(); });
        try
        {
            return await QmgrHost.RunLockedAsync(dataDir, LogEventLevel.Warning, async host =>
            {
                var qm = host.QueueManager();
                var owner = Environment.UserName;
                var groupId = Guid.NewGuid();
                var jobId = Guid.NewGuid();
                var name = displayName ?? $"qmgr {(type == JobType.Download ? "transfer" : "upload")} {Path.GetFileName(files[0].LocalName)}";
                IGroupCommand[] commands =
                [
                    new GroupCommands.CreateGroup(groupId, owner, name, priority, maxBandwidth),
                    new GroupCommands.CreateJob(groupId, owner, jobId, name, priority, new JobOptions(AutoComplete: true, Overwrite: overwrite), type),
                    new GroupCommands.AddFiles(groupId, owner, jobId, files),
                    .. replyFile is { } reply ? [new GroupCommands.SetReplyFileName(groupId, owner, jobId, reply)] : Array.Empty<IGroupCommand>(),
                    new GroupCommands.ResumeJob(groupId, owner, jobId),
                ];
                foreach (var command in commands)
                {
                    var result = await qm.SendAsync(command);
                    if (!result.IsSuccess) return Program.Fail(ExitCodes.Usage, $"{result.Message} (code 0x{result.HResult:X8})");
                }
                Console.Error.WriteLine($"qmgr: group {groupId:D}, job {jobId:D} in {dataDir.Path}");

                var job = await WaitAsync(qm, groupId, jobId, interrupt.Token);
                if (job is null && terminated)
                    return Program.Fail(ExitCodes.Interrupted, $"terminated: job {jobId:D} stays in {dataDir.Path} for qmgr serve");
                if (job is null)
                {
                    await qm.SendAsync(new GroupCommands.CancelJob(groupId, owner, jobId));
                    return Program.Fail(ExitCodes.Interrupted, "interrupted: the job was cancelled");
                }
                switch (job.State)
                {
                    case JobState.Acknowledged:
                        return ExitCodes.Done;
                    case JobState.Transferred:
                        // AutoComplete could not rename (e.g. the target appeared meanwhile): ask once more for the reason.
                        var complete = await qm.SendAsync(new GroupCommands.CompleteJob(groupId, owner, jobId));
                        return complete.IsSuccess ? ExitCodes.Done : Program.Fail(ExitCodes.Failed, $"{complete.Message} (code 0x{complete.HResult:X8}, job state Transferred)");
                    default:
                        return Program.Fail(ExitCodes.Failed, Format.Failure(job));
                }
            });
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Pairs of URL and FILE; FILE becomes absolute, its directory must exist, an existing FILE needs --overwrite.</summary>
    internal static bool TryParseFiles(string[] pairs, bool overwrite, out ImmutableList<GroupCommands.FileSpec> files, out string error)
    {
        files = [];
        error = "";
        if (pairs.Length == 0 || pairs.Length % 2 != 0) { error = "expected URL FILE pairs"; return false; }
        var list = ImmutableList.CreateBuilder<GroupCommands.FileSpec>();
        for (var i = 0; i < pairs.Length; i += 2)
        {
            var url = pairs[i];
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            { error = $"not an absolute http or https URL: {url}"; return false; }
            var local = Path.GetFullPath(pairs[i + 1]);
            if (Path.EndsInDirectorySeparator(pairs[i + 1]) || Directory.Exists(local)) { error = $"FILE must name a file, not a directory: {pairs[i + 1]}"; return false; }
            var dir = Path.GetDirectoryName(local);
            if (dir is null || !Directory.Exists(dir)) { error = $"directory does not exist: {dir}"; return false; }
            if (File.Exists(local) && !overwrite) { error = $"{local} exists (use --overwrite to replace it)"; return false; }
            if (list.Any(f => f.LocalName == local)) { error = $"{local} is named twice"; return false; }
            list.Add(new GroupCommands.FileSpec(uri.AbsoluteUri, local));
        }
        files = list.ToImmutable();
        return true;
    }

    /// <summary>Polls the job until it leaves the active states, showing progress; null when interrupted.</summary>
    private static Task<Job?> WaitAsync(Qmgr.Hosting.GroupClient qm, Guid groupId, Guid jobId, CancellationToken interrupt)
    {
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            var plain = new PlainProgress();
            return PollAsync(qm, groupId, jobId, plain.Show, interrupt);
        }
        // a live progress bar on a terminal (Spectre.Console)
        return AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var bar = ctx.AddTask("Queued", maxValue: 1);
                return await PollAsync(qm, groupId, jobId, job =>
                {
                    bar.Description = job.State.ToString();
                    if (job.BytesTotal is long total && total > 0) bar.MaxValue = total;
                    bar.Value = job.State == JobState.Acknowledged && job.BytesTotal is long t ? t : job.BytesTransferred;
                }, interrupt);
            });
    }

    private static async Task<Job?> PollAsync(Qmgr.Hosting.GroupClient qm, Guid groupId, Guid jobId, Action<Job> show, CancellationToken interrupt)
    {
        while (true)
        {
            try
            {
                var job = (await qm.GetGroupAsync(groupId)).FindJob(jobId)!;
                show(job);
                if (job.State is JobState.Error or JobState.Acknowledged or JobState.Cancelled ||
                    (job.State == JobState.Transferred && await StillTransferredAsync(qm, groupId, jobId)))
                    return job;
                await Task.Delay(TimeSpan.FromMilliseconds(250), interrupt);
            }
            catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
            {
                return null;
            }
        }
    }

    // AutoComplete runs right after Transferred is persisted; look again once before reporting it as stuck.
    private static async Task<bool> StillTransferredAsync(Qmgr.Hosting.GroupClient qm, Guid groupId, Guid jobId)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        return (await qm.GetGroupAsync(groupId)).FindJob(jobId)!.State == JobState.Transferred;
    }

    /// <summary>Plain lines (when redirected): one per change of state or progress (checkpoints come every 4 MiB or 1 s),
    /// with the error record's message while the job waits in TransientError.</summary>
    private sealed class PlainProgress
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private (JobState, long, int, string?)? _last;

        public void Show(Job job)
        {
            var now = (job.State, job.BytesTransferred, job.FilesTransferred, job.Error?.Message);
            if (now == _last) return;
            _last = now;
            var rate = job.BytesTransferred / Math.Max(0.001, _clock.Elapsed.TotalSeconds);
            var reason = job.State == JobState.TransientError && job.Error is { } e
                ? $" — {e.Message}; retry at {job.RetryDueAt:HH:mm:ss}" : "";
            Console.WriteLine($"{job.State}: {Format.Bytes(job.BytesTransferred)} / {Format.Bytes(job.BytesTotal)}, " +
                              $"files {job.FilesTransferred}/{job.Files.Count}, {Format.Bytes((long)rate)}/s{reason}");
        }
    }
}
