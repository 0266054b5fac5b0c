using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using Spectre.Console;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// What <c>transfer</c> and <c>upload</c> share: a new group with one AutoComplete job per file list, created, filled and
/// resumed through <see cref="IQueueManager"/> (an in-process node or a running service), then waited for with
/// <see cref="IJob.WaitAsync"/> — pushed by notifications, never polled — with a progress bar on a terminal and plain
/// lines when redirected (<c>--json</c>: one JSON object at the end). If a call is refused after the group was created,
/// the group is cancelled, so no empty Suspended job or group remains. Ctrl+C (SIGINT) cancels the jobs, as
/// <c>bitsadmin /transfer</c> does (exit 130); SIGTERM leaves them queued (exit 130, saying where they stay).
/// </summary>
public static class TransferRunner
{
    /// <summary>
    /// The jobs to run: <see cref="Jobs"/> holds each job's files (already checked); <see cref="ReplyFile"/> names an
    /// upload-reply job's reply file (null = generated); <see cref="MinimumRetryDelaySeconds"/> null = the default.
    /// </summary>
    public sealed record Request(JobPriority Priority, long MaxBytesPerSecond, string DisplayName, bool Overwrite, long? MinimumRetryDelaySeconds,
        JobType Type, string? ReplyFile, IReadOnlyList<IReadOnlyList<GroupCommands.FileSpec>> Jobs);

    /// <summary>AutoComplete follows Transferred at once; this long without it, Complete is asked again for the reason.</summary>
    private static readonly TimeSpan AutoCompleteGrace = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(CliConnection connection, ParseResult parse, Request request)
    {
        var json = parse.GetValue(connection.Json);
        var where = connection.Describe(parse);
        var server = connection.ServerOf(parse);
        // Ctrl+C (SIGINT) cancels the jobs, as bitsadmin /transfer does; SIGTERM stops the process and leaves the jobs for
        // `qmgr serve` (or the service), as a SIGKILL would (Decision 15).
        using var interrupt = new CancellationTokenSource();
        var terminated = false;
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; interrupt.Cancel(); };
        Console.CancelKeyPress += onCancel;
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM,
            c => { c.Cancel = true; terminated = true; interrupt.Cancel(); });
        try
        {
            return await Verb.RunAsync(connection, parse, async (_, qm, _) =>
            {
                var (group, jobs) = await SubmitAsync(qm, request);
                var ids = string.Join(", ", jobs.Select(j => j.Id.ToString("D")));
                Console.Error.WriteLine($"qmgr: group {group.Id:D}, job{(jobs.Count == 1 ? "" : "s")} {ids} in {where}");

                var finished = await WaitAsync(jobs, json, interrupt.Token);
                if (finished is null && terminated)
                    return Program.Fail(ExitCodes.Interrupted, $"terminated: job{(jobs.Count == 1 ? "" : "s")} {ids} " +
                                                               (server is null ? $"stay{(jobs.Count == 1 ? "s" : "")} in {where} for qmgr serve" : $"carr{(jobs.Count == 1 ? "ies" : "y")} on in {where}"));
                if (finished is null)
                {
                    foreach (var job in jobs)
                    {
                        try { await job.CancelAsync(CancellationToken.None); }
                        catch (QmgrException) { /* already final */ }
                    }
                    return Program.Fail(ExitCodes.Interrupted, jobs.Count == 1 ? "interrupted: the job was cancelled" : "interrupted: the jobs were cancelled");
                }
                var failures = new List<string>();
                for (var i = 0; i < jobs.Count; i++)
                {
                    var job = finished[i];
                    switch (job.State)
                    {
                        case JobState.Acknowledged:
                            break;
                        case JobState.Transferred:
                            // AutoComplete could not rename (e.g. the target appeared meanwhile): ask once more for the reason.
                            try
                            {
                                await jobs[i].CompleteAsync(CancellationToken.None);
                                finished[i] = await jobs[i].GetAsync(CancellationToken.None);
                            }
                            catch (QmgrException e)
                            {
                                failures.Add($"{e.Message} (code 0x{e.HResult:X8}, job state Transferred)");
                            }
                            break;
                        default:
                            failures.Add(Format.Failure(job));
                            break;
                    }
                }
                if (json) Verb.WriteJson(GroupView.From(await group.GetStateAsync(CancellationToken.None), finished));
                foreach (var failure in failures) Console.Error.WriteLine($"qmgr: {failure}");
                return failures.Count == 0 ? ExitCodes.Done : ExitCodes.Failed;
            });
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Creates the group and its jobs, adds the files, sets the options and resumes; on a refusal cancels the group and rethrows.</summary>
    private static async Task<(IGroup Group, IReadOnlyList<IJob> Jobs)> SubmitAsync(IQueueManager qm, Request request)
    {
        var group = await qm.CreateGroupAsync(request.DisplayName, request.Priority, request.MaxBytesPerSecond);
        try
        {
            var jobs = new List<IJob>();
            for (var i = 0; i < request.Jobs.Count; i++)
            {
                var name = request.Jobs.Count == 1 ? request.DisplayName : $"{request.DisplayName} ({i + 1}/{request.Jobs.Count})";
                var job = await group.CreateJobAsync(name, request.Type, new JobOptions(AutoComplete: true, Overwrite: request.Overwrite), request.Priority);
                jobs.Add(job);
                await job.AddFilesAsync(request.Jobs[i]);
                if (request.ReplyFile is { } reply) await job.SetReplyFileNameAsync(reply);
                if (request.MinimumRetryDelaySeconds is { } delay)
                    await job.SetPropertyAsync(JobProperty.MinimumRetryDelay, delay.ToString(CultureInfo.InvariantCulture));
            }
            foreach (var job in jobs) await job.ResumeAsync();
            return (group, jobs);
        }
        catch (QmgrException)
        {
            try { await group.CancelAsync(); }
            catch (QmgrException) { /* the refusal below says what went wrong */ }
            throw;
        }
    }

    /// <summary>Waits for every job to end (Acknowledged, Error, Cancelled, or Transferred without AutoComplete's rename), showing progress; null when interrupted.</summary>
    private static async Task<Job[]?> WaitAsync(IReadOnlyList<IJob> jobs, bool json, CancellationToken interrupt)
    {
        try
        {
            if (json) return await Task.WhenAll(jobs.Select(j => WaitOneAsync(j, _ => { }, interrupt)));
            if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
            {
                var plain = jobs.Select((_, i) => new PlainProgress(jobs.Count == 1 ? "" : $"job {i + 1}/{jobs.Count} ")).ToList();
                return await Task.WhenAll(jobs.Select((j, i) => WaitOneAsync(j, plain[i].Show, interrupt)));
            }
            // a live progress bar per job on a terminal (Spectre.Console)
            return await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                    new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var bars = jobs.Select(_ => ctx.AddTask("Queued", maxValue: 1)).ToList();
                    return await Task.WhenAll(jobs.Select((j, i) => WaitOneAsync(j, job =>
                    {
                        var bar = bars[i];
                        bar.Description = (jobs.Count == 1 ? "" : $"{i + 1}/{jobs.Count} ") + job.State;
                        if (job.BytesTotal is long total && total > 0) bar.MaxValue = total;
                        bar.Value = job.State == JobState.Acknowledged && job.BytesTotal is long t ? t : job.BytesTransferred;
                    }, interrupt)));
                });
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task<Job> WaitOneAsync(IJob job, Action<Job> show, CancellationToken interrupt)
    {
        var now = await job.WaitAsync(j =>
        {
            show(j);
            return j.State is JobState.Error or JobState.Acknowledged or JobState.Cancelled or JobState.Transferred;
        }, interrupt);
        if (now.State != JobState.Transferred) return now;
        // AutoComplete renames right after Transferred is persisted; wait for it (pushed), then report what is there
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(interrupt);
        grace.CancelAfter(AutoCompleteGrace);
        try
        {
            return await job.WaitAsync(j =>
            {
                show(j);
                return j.State != JobState.Transferred;
            }, grace.Token);
        }
        catch (OperationCanceledException) when (!interrupt.IsCancellationRequested)
        {
            return await job.GetAsync(interrupt);
        }
    }

    /// <summary>Plain lines (when redirected): one per change of state or error, and progress at most once a second
    /// (checkpoints come every 4 MiB or 1 s; a job of many small files would otherwise print a line per file), with the
    /// error record's message while the job waits in TransientError.</summary>
    private sealed class PlainProgress(string prefix)
    {
        private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private (JobState, long, int, string?)? _last;
        private TimeSpan _lastProgressAt = TimeSpan.MinValue;

        public void Show(Job job)
        {
            var now = (job.State, job.BytesTransferred, job.FilesTransferred, job.Error?.Message);
            lock (this)
            {
                if (now == _last) return;
                var progressOnly = _last is { } last && (last.Item1, last.Item4) == (now.Item1, now.Item4);
                if (progressOnly && _clock.Elapsed - _lastProgressAt < ProgressInterval) return;
                _last = now;
                _lastProgressAt = _clock.Elapsed;
            }
            var rate = job.BytesTransferred / Math.Max(0.001, _clock.Elapsed.TotalSeconds);
            var reason = job.State == JobState.TransientError && job.Error is { } e
                ? $" — {e.Message}; retry at {job.RetryDueAt:HH:mm:ss}" : "";
            Console.WriteLine($"{prefix}{job.State}: {Format.Bytes(job.BytesTransferred)} / {Format.Bytes(job.BytesTotal)}, " +
                              $"files {job.FilesTransferred}/{job.Files.Count}, {Format.Bytes((long)rate)}/s{reason}");
        }
    }
}
