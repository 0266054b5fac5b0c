using Akka.Actor;
using Akka.Configuration;

namespace Qmgr;

/// <summary>
/// The <c>qmgr</c> HOCON section read once into an immutable object (every key is documented in hocon/qmgr.conf).
/// Sizes in bytes, rates in bytes per second, durations as <see cref="TimeSpan"/>.
/// </summary>
public sealed record QmgrSettings(
    int SnapshotEvery,
    long CheckpointBytes,
    TimeSpan CheckpointInterval,
    IReadOnlyList<TimeSpan> QuickRetryDelays,
    TimeSpan MaxQuickRetryAfter,
    TimeSpan IdleTimeout,
    int MaxConcurrentPerNode,
    int MaxConcurrentPerHost,
    TimeSpan TransferPassivateAfter,
    long MaxBytesPerSecond,
    double BurstSeconds,
    TimeSpan MinimumRetryDelay,
    TimeSpan MinimumRetryDelayFloor,
    TimeSpan NoProgressTimeout,
    TimeSpan MaximumDownloadTime,
    TimeSpan InactivityTimeout,
    bool AllowNotifyCmdLine,
    int MaxFilesPerJob,
    int MaxJobsPerOwner,
    int MaxUrlLength,
    IReadOnlyList<string> AllowedRoots)
{
    /// <summary>
    /// <c>qmgr.transfer.time-slice</c>: how long a transfer keeps its slot while transfers of the same priority wait
    /// (round robin, BITS T8); <see cref="TimeSpan.Zero"/> = no round robin.
    /// </summary>
    public TimeSpan TimeSlice { get; init; }

    /// <summary>
    /// <c>qmgr.bandwidth.share-report-interval</c>: how often each node repeats its demand to the bandwidth coordinator
    /// singleton (besides reporting every change at once), so a new singleton after a hand-over learns it.
    /// </summary>
    public TimeSpan ShareReportInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// <c>qmgr.persistence.passivate-idle-group-after</c>: a group with no job queued, connecting, transferring or in a
    /// transient error, and no webhook delivery due, stops after this long without a message and leaves memory (the
    /// journal wakes it on the next request); <see cref="TimeSpan.Zero"/> = never.
    /// </summary>
    public TimeSpan GroupPassivateAfter { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary><c>qmgr.transfer.accept-timeout</c>: how long a job waits for its transfer entity to accept a start before
    /// it sends the start again (a start lost on its way to a node that is leaving the cluster).</summary>
    public TimeSpan TransferAcceptTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>qmgr.transfer.slot-linger</c>: how long a job's transfer slot waits for the job's next file after one ends
    /// before it goes back to the governor (a job's files run under one slot; its time slice counts from the first).</summary>
    public TimeSpan TransferSlotLinger { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary><c>qmgr.bandwidth.schedules</c>: windows whose per-priority limits override the background cap (Decision 4).</summary>
    public IReadOnlyList<Transfers.BandwidthWindow> BandwidthSchedules { get; init; } = [];

    /// <summary><c>qmgr.limits.max-ranges-per-file</c>: ranges one AddFileWithRanges may give (BITS MaxRangesPerFile, 500;
    /// BG_E_TOO_MANY_RANGES_IN_FILE; administrators are exempt).</summary>
    public int MaxRangesPerFile { get; init; } = 500;

    /// <summary><c>qmgr.webhooks.timeout</c>: how long one webhook POST may take before it counts as failed.</summary>
    public TimeSpan WebhookTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>qmgr.webhooks.retry-delays</c>: waits between attempts of one delivery; the last repeats forever.</summary>
    public IReadOnlyList<TimeSpan> WebhookRetryDelays { get; init; } = [TimeSpan.FromSeconds(1)];

    /// <summary>The embedded hocon/qmgr.conf: every qmgr.* key with its default.</summary>
    public static Config DefaultConfig() => DefaultConfigParsed.Value;

    private static readonly Lazy<Config> DefaultConfigParsed = new(() => Embedded("qmgr"));

    /// <summary>Embedded hocon/sqlite.conf (journal, snapshot store and query plugin on SQLite).</summary>
    public static Config SqliteConfig() => SqliteConfigParsed.Value;

    private static readonly Lazy<Config> SqliteConfigParsed = new(() => Embedded("sqlite"));

    /// <summary>Embedded hocon/postgres.conf (journal, snapshot store and query plugin on PostgreSQL; schema made by <c>qmgr db init</c>).</summary>
    public static Config PostgresConfig() => PostgresConfigParsed.Value;

    private static readonly Lazy<Config> PostgresConfigParsed = new(() => Embedded("postgres"));

    /// <summary>Embedded hocon/cluster.conf (remoting on loopback, sharding).</summary>
    public static Config ClusterConfig() => ClusterConfigParsed.Value;

    private static readonly Lazy<Config> ClusterConfigParsed = new(() => Embedded("cluster"));

    // the embedded files are parsed once per process (a Config is immutable): every host, verb and settings read shares them
    private static Config Embedded(string name) => ConfigurationFactory.FromResource($"Qmgr.{name}.conf", typeof(QmgrSettings).Assembly);

    /// <summary>Reads <c>qmgr</c> from the system's config. Throws <see cref="ConfigurationException"/> when it is missing.</summary>
    public static QmgrSettings Create(ActorSystem system) => Create(system.Settings.Config);

    /// <summary>Reads <c>qmgr</c> from <paramref name="root"/>, falling back to the embedded defaults.</summary>
    public static QmgrSettings Create(Config root)
    {
        var c = root.WithFallback(DefaultConfig()).GetConfig("qmgr")
                ?? throw new ConfigurationException("the qmgr config section is missing");
        var floor = c.GetTimeSpan("job.minimum-retry-delay-floor");
        var minRetry = c.GetTimeSpan("job.minimum-retry-delay");
        return new QmgrSettings(
            c.GetInt("persistence.snapshot-every"),
            c.GetLong("transfer.checkpoint-bytes"),
            c.GetTimeSpan("transfer.checkpoint-interval"),
            c.GetTimeSpanList("transfer.quick-retry-delays"),
            c.GetTimeSpan("transfer.max-quick-retry-after"),
            c.GetTimeSpan("transfer.idle-timeout"),
            c.GetInt("transfer.max-concurrent-per-node"),
            c.GetInt("transfer.max-concurrent-per-host"),
            c.GetTimeSpan("transfer.passivate-after"),
            c.GetLong("bandwidth.max-bytes-per-second"),
            c.GetDouble("bandwidth.burst-seconds"),
            minRetry < floor ? floor : minRetry,
            floor,
            c.GetTimeSpan("job.no-progress-timeout"),
            c.GetTimeSpan("job.maximum-download-time"),
            c.GetTimeSpan("job.inactivity-timeout"),
            c.GetBoolean("job.allow-notify-cmdline"),
            c.GetInt("limits.max-files-per-job"),
            c.GetInt("limits.max-jobs-per-owner"),
            c.GetInt("limits.max-url-length"),
            c.GetStringList("paths.allowed-roots").Select(r => Path.TrimEndingDirectorySeparator(Path.GetFullPath(r))).ToArray())
        {
            TimeSlice = c.GetTimeSpan("transfer.time-slice"),
            GroupPassivateAfter = c.GetTimeSpan("persistence.passivate-idle-group-after"),
            TransferAcceptTimeout = c.GetTimeSpan("transfer.accept-timeout"),
            TransferSlotLinger = c.GetTimeSpan("transfer.slot-linger"),
            ShareReportInterval = c.GetTimeSpan("bandwidth.share-report-interval"),
            MaxRangesPerFile = c.GetInt("limits.max-ranges-per-file"),
            BandwidthSchedules = Transfers.BandwidthSchedule.Parse(c, "bandwidth.schedules"),
            WebhookTimeout = c.GetTimeSpan("webhooks.timeout"),
            WebhookRetryDelays = c.GetTimeSpanList("webhooks.retry-delays") is { Count: > 0 } delays ? delays
                : throw new ConfigurationException("qmgr.webhooks.retry-delays needs at least one delay"),
        };
    }
}

internal static class ConfigExtensions
{
    public static IReadOnlyList<TimeSpan> GetTimeSpanList(this Config c, string path) =>
        c.GetStringList(path).Select(s => ConfigurationFactory.ParseString($"v = {s}").GetTimeSpan("v")).ToArray();
}
