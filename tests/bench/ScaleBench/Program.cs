// tests/bench/ScaleBench: the embedding-API half of tests/bench/all.sh. Not a test; CI does not run it.
//
//   dotnet ScaleBench.dll files DATA_DIR LISTFILE [GROUPS=5] [FILES_PER_JOB=200] [TIMEOUT_S=3600]
//   dotnet ScaleBench.dll store DATA_DIR OUT_DIR FINISHED_URL UNFINISHED_URL GROUPS UNFINISHED [PARALLEL=32] [TIMEOUT_S=7200]
//
// Both embed Qmgr (services.AddQmgr, SQLite journal in DATA_DIR) and use IQueueManager as the OS user. HOCON in the
// QMGR_HOCON environment variable is laid over the node's settings, as for the CLI.
//
// files: many small files through the API. LISTFILE holds `URL FILE` lines (the `qmgr transfer -i` format). Creates
//   GROUPS groups, then for each slice of FILES_PER_JOB lines one AutoComplete job (round robin over the groups):
//   CreateJob, AddFiles, Resume, one job after the other, and waits until every job is Acknowledged (or Error). The
//   node's start is not timed. Prints `name value unit` lines on stdout:
//     files / jobs / groups        count  what was submitted
//     host_start_s                 s      AddQmgr host start (not in the figures below)
//     submit_s                     s      all create/add/resume calls, the first to the last
//     create_group_ms_p50|max, create_job_ms_p50|max, add_files_ms_p50|max (one call of FILES_PER_JOB files),
//     resume_ms_p50|max            ms     one call each
//     wall_s                       s      the first call to the last job Acknowledged (seen as a notification)
//     files_per_s                  1/s    files / wall_s
//     jobs_failed                  count  jobs that ended in Error
// store: a data directory of GROUPS groups for the recovery timing. GROUPS - UNFINISHED groups get one AutoComplete
//   job of one file (FINISHED_URL?g=N -> OUT_DIR/finished/N.bin) and are waited for until Acknowledged, PARALLEL
//   submissions at a time (default transfer slots: 16 per node and host, QMGR_HOCON may change them). Then the node
//   is stopped and started again with a node-wide cap of 1 KiB/s, and UNFINISHED groups get one AutoComplete job of
//   one file (UNFINISHED_URL?u=N -> OUT_DIR/unfinished/N.bin), resumed; once every one of them is Queued or
//   Transferring the node stops gracefully, leaving them unfinished in the journal: the next `qmgr serve` (without
//   the cap) carries them on. Prints groups, unfinished, build_s, finished_per_s, unfinished_active. It acts as an
//   administrator of the OS user (same owner as `qmgr serve` and the CLI): no max-jobs-per-owner limit (60 by default),
//   and CreateJob does not count the owner's unfinished jobs over every group, which made building quadratic.
using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qmgr.Api;
using Qmgr.Hosting;
using Qmgr.Jobs;

if (args.Length < 3) return Usage();
void Fig(string name, double value, string unit) => Console.WriteLine($"{name} {value:0.###} {unit}");
void Say(string text) => Console.Error.WriteLine($"scalebench: {text}");

async Task<IHost> StartAsync(string dataDir, string hocon)
{
    var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
    builder.Services.AddQmgr(new QmgrOptions
    {
        DataDirectory = dataDir,
        Overrides = ConfigurationFactory.ParseString($"akka.loglevel = WARNING\n{hocon}\n{Environment.GetEnvironmentVariable("QMGR_HOCON")}"),
    });
    var host = builder.Build();
    await host.StartAsync();
    return host;
}

double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
double Percentile(List<double> xs, double p)
{
    if (xs.Count == 0) return double.NaN;
    var s = xs.Order().ToList();
    return s[Math.Clamp((int)Math.Ceiling(p * s.Count) - 1, 0, s.Count - 1)];
}

switch (args[0])
{
    case "files": return await FilesAsync();
    case "store" when args.Length >= 7: return await StoreAsync();
    default: return Usage();
}

async Task<int> FilesAsync()
{
    var dataDir = Path.GetFullPath(args[1]);
    var lines = File.ReadAllLines(args[2]).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
        .Select(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)).Select(p => (Url: p[0], File: Path.GetFullPath(p[1]))).ToList();
    var groupCount = args.Length > 3 ? int.Parse(args[3]) : 5;
    var perJob = args.Length > 4 ? int.Parse(args[4]) : 200;
    var timeout = TimeSpan.FromSeconds(args.Length > 5 ? double.Parse(args[5]) : 3600);
    foreach (var dir in lines.Select(l => Path.GetDirectoryName(l.File)!).Distinct()) Directory.CreateDirectory(dir);
    var slices = lines.Chunk(perJob).ToList();
    var ids = slices.Select(_ => Guid.NewGuid()).ToList();

    var clock = Stopwatch.StartNew();
    using var host = await StartAsync(dataDir, "");
    Fig("host_start_s", clock.Elapsed.TotalSeconds, "s");
    var qm = host.Services.GetRequiredService<IQueueManager>();
    var tracker = new Tracker(ids);
    using var subscription = qm.Notifications.Subscribe(tracker);

    List<double> createGroup = [], createJob = [], addFiles = [], resume = [];
    var t0 = Stopwatch.GetTimestamp();
    async Task<T> Timed<T>(List<double> into, Func<Task<T>> call)
    {
        var s = Stopwatch.GetTimestamp();
        var r = await call();
        into.Add(Ms(Stopwatch.GetTimestamp() - s));
        return r;
    }
    var groups = new List<IGroup>();
    for (var g = 0; g < groupCount; g++) groups.Add(await Timed(createGroup, () => qm.CreateGroupAsync($"scalebench {g}")));
    for (var j = 0; j < slices.Count; j++)
    {
        var group = groups[j % groups.Count];
        var id = ids[j];
        var job = await Timed(createJob, () => group.CreateJobAsync($"scalebench job {j}", new JobOptions(AutoComplete: true), jobId: id));
        var files = slices[j].Select(l => (l.Url, l.File)).ToList();
        await Timed(addFiles, async () => { await job.AddFilesAsync(files); return 0; });
        await Timed(resume, async () => { await job.ResumeAsync(); return 0; });
    }
    var submitted = Stopwatch.GetTimestamp();
    Say($"{lines.Count} files in {slices.Count} jobs of {groupCount} groups submitted in {Ms(submitted - t0) / 1000:0.00} s; waiting");
    var ok = await tracker.WaitAsync(timeout, Say);
    var end = tracker.LastAt ?? Stopwatch.GetTimestamp();
    Fig("files", lines.Count, "count");
    Fig("jobs", slices.Count, "count");
    Fig("groups", groupCount, "count");
    Fig("submit_s", Ms(submitted - t0) / 1000, "s");
    foreach (var (name, xs) in new[] { ("create_group", createGroup), ("create_job", createJob), ("add_files", addFiles), ("resume", resume) })
    {
        Fig($"{name}_ms_p50", Percentile(xs, 0.5), "ms");
        Fig($"{name}_ms_max", xs.Count == 0 ? double.NaN : xs.Max(), "ms");
    }
    var wall = Ms(end - t0) / 1000;
    Fig("wall_s", ok ? wall : double.NaN, "s");
    Fig("files_per_s", ok ? lines.Count / wall : double.NaN, "1/s");
    Fig("jobs_failed", tracker.Failed, "count");
    await host.StopAsync();
    return ok && tracker.Failed == 0 ? 0 : 1;
}

async Task<int> StoreAsync()
{
    var dataDir = Path.GetFullPath(args[1]);
    var outDir = Path.GetFullPath(args[2]);
    var finishedUrl = args[3];
    var unfinishedUrl = args[4];
    var total = int.Parse(args[5]);
    var unfinished = Math.Min(int.Parse(args[6]), total);
    var parallel = args.Length > 7 ? int.Parse(args[7]) : 32;
    var timeout = TimeSpan.FromSeconds(args.Length > 8 ? double.Parse(args[8]) : 7200);
    var finished = total - unfinished;
    Directory.CreateDirectory(Path.Combine(outDir, "finished"));
    Directory.CreateDirectory(Path.Combine(outDir, "unfinished"));
    var sep = (string url) => url.Contains('?') ? "&" : "?";
    var clock = Stopwatch.StartNew();

    // 1. the finished groups
    var ids = Enumerable.Range(0, finished).Select(_ => Guid.NewGuid()).ToList();
    using (var host = await StartAsync(dataDir, "qmgr.transfer.max-concurrent-per-node = 16\nqmgr.transfer.max-concurrent-per-host = 16"))
    {
        // as an administrator of the same OS user: the jobs' owner is the same, but CreateJob skips the max-jobs-per-owner
        // check, which reads every group's state (quadratic in the number of groups while building)
        var qm = host.Services.GetRequiredService<IQueueManager>().ForCaller(Environment.UserName, isAdministrator: true);
        var tracker = new Tracker(ids);
        using var subscription = qm.Notifications.Subscribe(tracker);
        using var gate = new SemaphoreSlim(parallel);
        var submitted = 0;
        var tasks = ids.Select(async (id, n) =>
        {
            await gate.WaitAsync();
            try
            {
                var group = await qm.CreateGroupAsync($"recovery bench {n}");
                var job = await group.CreateJobAsync($"finished {n}", new JobOptions(AutoComplete: true), jobId: id);
                await job.AddFilesAsync([($"{finishedUrl}{sep(finishedUrl)}g={n}", Path.Combine(outDir, "finished", $"{n}.bin"))]);
                await job.ResumeAsync();
                if (Interlocked.Increment(ref submitted) % 1000 == 0) Say($"{submitted} of {finished} finished groups submitted, {tracker.Done} done ({clock.Elapsed.TotalSeconds:0} s)");
            }
            finally { gate.Release(); }
        }).ToList();
        await Task.WhenAll(tasks);
        if (!await tracker.WaitAsync(timeout, Say)) { Say("the finished groups did not all finish"); return 1; }
        if (tracker.Failed > 0) Say($"{tracker.Failed} of the finished jobs are in Error");
        Fig("finished_per_s", finished / clock.Elapsed.TotalSeconds, "1/s");
        await host.StopAsync();
    }

    // 2. the unfinished groups: queued or transferring at 1 KiB/s when the node stops
    var active = 0;
    using (var host = await StartAsync(dataDir, "qmgr.bandwidth.max-bytes-per-second = 1024"))
    {
        var qm = host.Services.GetRequiredService<IQueueManager>().ForCaller(Environment.UserName, isAdministrator: true);
        var jobs = new List<IJob>();
        for (var n = 0; n < unfinished; n++)
        {
            var group = await qm.CreateGroupAsync($"recovery bench unfinished {n}");
            var job = await group.CreateJobAsync($"unfinished {n}", new JobOptions(AutoComplete: true));
            await job.AddFilesAsync([($"{unfinishedUrl}{sep(unfinishedUrl)}u={n}", Path.Combine(outDir, "unfinished", $"{n}.bin"))]);
            await job.ResumeAsync();
            jobs.Add(job);
        }
        var wait = Stopwatch.StartNew();
        while (wait.Elapsed < TimeSpan.FromSeconds(60))
        {
            var states = await Task.WhenAll(jobs.Select(j => j.GetAsync()));
            active = states.Count(s => s.State is JobState.Queued or JobState.Connecting or JobState.Transferring);
            if (active == unfinished) break;
            await Task.Delay(100);
        }
        await host.StopAsync();
    }
    Fig("groups", total, "count");
    Fig("unfinished", unfinished, "count");
    Fig("unfinished_active", active, "count");
    Fig("build_s", clock.Elapsed.TotalSeconds, "s");
    return active == unfinished ? 0 : 1;
}

int Usage()
{
    Console.Error.WriteLine("usage: ScaleBench files DATA_DIR LISTFILE [GROUPS] [FILES_PER_JOB] [TIMEOUT_S]\n" +
                            "       ScaleBench store DATA_DIR OUT_DIR FINISHED_URL UNFINISHED_URL GROUPS UNFINISHED [PARALLEL] [TIMEOUT_S]");
    return 2;
}

/// <summary>Counts the expected jobs' final states (Acknowledged, Error, Cancelled) from the notification stream.</summary>
sealed class Tracker(IEnumerable<Guid> ids) : IObserver<QmgrNotification>
{
    private readonly HashSet<Guid> expected = [.. ids];
    private readonly ConcurrentDictionary<Guid, JobState> final = new();
    private readonly TaskCompletionSource all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int failed;

    public int Done => final.Count;
    public int Failed => failed;
    public long? LastAt { get; private set; }

    public void OnNext(QmgrNotification value)
    {
        if (value is not QmgrNotification.StateChanged { To: JobState.Acknowledged or JobState.Error or JobState.Cancelled } sc) return;
        if (!expected.Contains(sc.Job.Id) || !final.TryAdd(sc.Job.Id, sc.To)) return;
        if (sc.To != JobState.Acknowledged) Interlocked.Increment(ref failed);
        if (final.Count == expected.Count) { LastAt = Stopwatch.GetTimestamp(); all.TrySetResult(); }
    }

    public async Task<bool> WaitAsync(TimeSpan timeout, Action<string> say)
    {
        if (expected.Count == 0) { LastAt = Stopwatch.GetTimestamp(); return true; }
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            var left = timeout - deadline.Elapsed;
            if (await Task.WhenAny(all.Task, Task.Delay(left < TimeSpan.FromSeconds(10) ? left : TimeSpan.FromSeconds(10))) == all.Task) return true;
            say($"{Done} of {expected.Count} jobs final after {deadline.Elapsed.TotalSeconds:0} s");
        }
        return all.Task.IsCompleted;
    }

    public void OnCompleted() { }
    public void OnError(Exception error) { }
}
