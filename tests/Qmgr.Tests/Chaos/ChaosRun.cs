using System.Diagnostics;
using System.Globalization;

namespace Qmgr.Tests.Chaos;

/// <summary>
/// How many chaos iterations to run and with which seeds, from the environment (defaults for CI's spec):
/// <c>QMGR_CHAOS_ITERATIONS</c> (default 10), <c>QMGR_CHAOS_SEED</c> (the first seed; iteration i uses seed + i),
/// <c>QMGR_CHAOS_SEEDS</c> (a comma-separated list that replaces both: re-runs exactly those iterations),
/// <c>QMGR_CHAOS_KEEP=1</c> (keep every iteration's directory, not only failed ones), <c>QMGR_CHAOS_REPORT</c> (a file the
/// run appends one line per iteration and a summary to), <c>QMGR_CHAOS_DEADLINE</c> (seconds one qmgr process may take,
/// default 120), <c>QMGR_CHAOS_PARALLEL</c> (iterations run at once, default 2: each waits on its processes and its
/// trickling server much of the time), <c>QMGR_CHAOS_SABOTAGE=1</c> (corrupt a finished file and leave a stray temp file in
/// every iteration before its last checks: every iteration must then fail, proving the checks can).
/// </summary>
public sealed record ChaosSettings(IReadOnlyList<int> Seeds, TimeSpan Deadline, bool Keep, string? ReportFile, int Parallel, bool Sabotage = false)
{
    /// <summary>The first seed of CI's run (iterations 9006..9015).</summary>
    public const int DefaultSeed = 9006;

    public static ChaosSettings FromEnvironment()
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        var iterations = Env("QMGR_CHAOS_ITERATIONS") is { } n ? int.Parse(n, CultureInfo.InvariantCulture) : 10;
        var first = Env("QMGR_CHAOS_SEED") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : DefaultSeed;
        var seeds = Env("QMGR_CHAOS_SEEDS") is { } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToList()
            : Enumerable.Range(first, iterations).ToList();
        var deadline = TimeSpan.FromSeconds(Env("QMGR_CHAOS_DEADLINE") is { } d ? int.Parse(d, CultureInfo.InvariantCulture) : 120);
        var parallel = Env("QMGR_CHAOS_PARALLEL") is { } p ? int.Parse(p, CultureInfo.InvariantCulture) : 2;
        return new ChaosSettings(seeds, deadline, Env("QMGR_CHAOS_KEEP") == "1", Env("QMGR_CHAOS_REPORT"), Math.Max(1, parallel),
            Env("QMGR_CHAOS_SABOTAGE") == "1");
    }
}

/// <summary>The outcomes of a chaos run, in seed order.</summary>
/// <param name="Cpu">CPU time of this process and of its reaped children (the qmgr processes) during the run, from
/// /proc/self/stat (Linux; zero elsewhere): a measure of the run's cost that does not depend on the machine's load.</param>
public sealed record ChaosReport(IReadOnlyList<ChaosOutcome> Outcomes, TimeSpan Took, (TimeSpan Self, TimeSpan Children) Cpu)
{
    public IReadOnlyList<ChaosOutcome> Failed => Outcomes.Where(o => !o.Passed).ToList();

    public string Summary =>
        $"chaos: {Outcomes.Count} iterations, {Outcomes.Count - Failed.Count} passed, {Failed.Count} failed" +
        $" ({Outcomes.Count(o => o.KilledMidTransfer)} killed while a job was transferring) in {Took.TotalSeconds:F0} s;" +
        $" CPU {Cpu.Self.TotalSeconds:F0} s in the test process, {Cpu.Children.TotalSeconds:F0} s in qmgr processes" +
        (Failed.Count == 0 ? "" : $"; failed seeds: {string.Join(",", Failed.Select(f => f.Seed))} (re-run with QMGR_CHAOS_SEEDS=...)");

    public override string ToString() => string.Join("\n", Outcomes) + "\n" + Summary;
}

/// <summary>
/// The chaos run of issue 9 item 6: <see cref="ChaosIteration"/> for every seed, <see cref="ChaosSettings.Parallel"/> at a
/// time (each on its own data directory, server and ports); outcomes are reported as they end. Used by
/// <see cref="ChaosSpecs"/> (10 iterations in CI) and by tests/bench/chaos.sh (100).
/// </summary>
public static class ChaosRun
{
    public static async Task<ChaosReport> RunAsync(ChaosSettings settings, Action<string> progress)
    {
        var clock = Stopwatch.StartNew();
        var cpuBefore = CpuTimes();
        var outcomes = new List<ChaosOutcome>();
        using var slots = new SemaphoreSlim(settings.Parallel);
        var running = settings.Seeds.Select(async seed =>
        {
            await slots.WaitAsync();
            try
            {
                var outcome = await ChaosIteration.RunAsync(seed, settings.Deadline, settings.Keep, settings.Sabotage);
                lock (outcomes) outcomes.Add(outcome);
                progress(outcome.ToString());
                if (settings.ReportFile is { } report) await AppendAsync(report, outcome + "\n");
                return outcome;
            }
            finally
            {
                slots.Release();
            }
        }).ToList();
        await Task.WhenAll(running);
        outcomes.Sort((a, b) => settings.Seeds.ToList().IndexOf(a.Seed).CompareTo(settings.Seeds.ToList().IndexOf(b.Seed)));

        var cpuAfter = CpuTimes();
        var result = new ChaosReport(outcomes, clock.Elapsed, (cpuAfter.Self - cpuBefore.Self, cpuAfter.Children - cpuBefore.Children));
        progress(result.Summary);
        if (settings.ReportFile is { } file) await AppendAsync(file, result.Summary + "\n");
        return result;
    }

    /// <summary>utime + stime and cutime + cstime of /proc/self/stat (clock ticks of 10 ms), or zeros off Linux.</summary>
    private static (TimeSpan Self, TimeSpan Children) CpuTimes()
    {
        if (!File.Exists("/proc/self/stat")) return default;
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from the 3rd (state) on
        long Field(int number) => long.Parse(fields[number - 3], CultureInfo.InvariantCulture);
        return (TimeSpan.FromMilliseconds((Field(14) + Field(15)) * 10), TimeSpan.FromMilliseconds((Field(16) + Field(17)) * 10));
    }

    private static readonly SemaphoreSlim ReportLock = new(1);

    private static async Task AppendAsync(string file, string text)
    {
        await ReportLock.WaitAsync();
        try
        {
            await File.AppendAllTextAsync(file, text);
        }
        finally
        {
            ReportLock.Release();
        }
    }
}
