using Akka.Configuration;
using Qmgr.Jobs;

namespace Qmgr.Transfers;

/// <summary>
/// One window of <c>qmgr.bandwidth.schedules</c> (DESIGN Decision 4, BITS work / non-work hours): on
/// <paramref name="Days"/>, from hour <paramref name="FromHour"/> (inclusive, 0–23) to hour <paramref name="ToHour"/>
/// (exclusive, 1–24), local time, the background transfers of a priority with a limit here get at most that many bytes
/// per second. A window with <c>FromHour &gt; ToHour</c> runs over midnight into the next day (22 → 6 on Friday covers
/// Friday 22:00 to Saturday 06:00). A priority without a limit (null) is not limited by this window.
/// </summary>
public sealed record BandwidthWindow(IReadOnlySet<DayOfWeek> Days, int FromHour, int ToHour, long? High, long? Normal, long? Low)
{
    /// <summary>True when local time <paramref name="local"/> falls inside the window.</summary>
    public bool Covers(DateTime local)
    {
        var h = local.Hour;
        if (FromHour < ToHour) return Days.Contains(local.DayOfWeek) && h >= FromHour && h < ToHour;
        return (Days.Contains(local.DayOfWeek) && h >= FromHour)
               || (Days.Contains(local.AddDays(-1).DayOfWeek) && h < ToHour);
    }

    /// <summary>This window's limit for <paramref name="priority"/> in bytes/s, or null (Foreground is never limited).</summary>
    public long? LimitFor(JobPriority priority) => priority switch
    {
        JobPriority.High => High,
        JobPriority.Normal => Normal,
        JobPriority.Low => Low,
        _ => null,
    };
}

/// <summary>Pure rate selection for the node's background bucket (Decision 4).</summary>
public static class BandwidthSchedule
{
    /// <summary>
    /// The background rate in bytes/s (0 = no cap) for transfers of <paramref name="priority"/> at local time
    /// <paramref name="local"/>: inside one or more windows that limit that priority, the smallest of their limits
    /// (it overrides <paramref name="nodeShare"/>, the node's share of <c>max-bytes-per-second</c>); otherwise
    /// <paramref name="nodeShare"/>. Foreground skips the cap and the schedules: always 0. A group's
    /// <c>MaxBytesPerSecond</c> is a separate bucket, so the smallest rate that applies wins.
    /// </summary>
    public static long EffectiveRate(long nodeShare, IReadOnlyList<BandwidthWindow> windows, JobPriority priority, DateTime local)
    {
        if (!SlotScheduler.IsBackground(priority)) return 0;
        long? smallest = null;
        foreach (var w in windows)
            if (w.LimitFor(priority) is long limit && w.Covers(local))
                smallest = smallest is long s ? Math.Min(s, limit) : limit;
        return smallest ?? nodeShare;
    }

    /// <summary>
    /// Parses <c>qmgr.bandwidth.schedules</c>: a list of objects
    /// <c>{ days = [mon, tue, ...], from = 8, to = 17, high = 10485760, normal = 1048576, low = 262144 }</c>.
    /// Throws <see cref="ConfigurationException"/> for an unknown day, an hour out of range, equal hours or a limit below 1.
    /// </summary>
    public static IReadOnlyList<BandwidthWindow> Parse(Config qmgr, string path)
    {
        if (!qmgr.HasPath(path)) return [];
        var result = new List<BandwidthWindow>();
        foreach (var item in qmgr.GetValue(path).GetArray())
        {
            var c = new Config(new Akka.Configuration.Hocon.HoconRoot(item));
            var days = c.GetStringList("days").Select(ParseDay).ToHashSet();
            var from = c.GetInt("from");
            var to = c.GetInt("to");
            if (from is < 0 or > 23 || to is < 1 or > 24 || from == to)
                throw new ConfigurationException($"qmgr.bandwidth.schedules: hours must be from 0-23 to 1-24 and differ (got {from} to {to})");
            result.Add(new BandwidthWindow(days, from, to, Limit(c, "high"), Limit(c, "normal"), Limit(c, "low")));
        }
        return result;
    }

    private static long? Limit(Config c, string key)
    {
        if (!c.HasPath(key)) return null;
        var v = c.GetLong(key);
        return v >= 1 ? v : throw new ConfigurationException($"qmgr.bandwidth.schedules: {key} must be a positive number of bytes per second (got {v})");
    }

    private static DayOfWeek ParseDay(string s) => s.Trim().ToLowerInvariant() switch
    {
        "sun" or "sunday" => DayOfWeek.Sunday,
        "mon" or "monday" => DayOfWeek.Monday,
        "tue" or "tuesday" => DayOfWeek.Tuesday,
        "wed" or "wednesday" => DayOfWeek.Wednesday,
        "thu" or "thursday" => DayOfWeek.Thursday,
        "fri" or "friday" => DayOfWeek.Friday,
        "sat" or "saturday" => DayOfWeek.Saturday,
        _ => throw new ConfigurationException($"qmgr.bandwidth.schedules: unknown day '{s}'"),
    };
}
