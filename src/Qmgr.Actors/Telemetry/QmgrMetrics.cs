using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Akka.Actor;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Telemetry;

/// <summary>
/// The node's metrics on the <see cref="MeterName"/> meter (System.Diagnostics.Metrics; the host exports them with
/// OpenTelemetry): <c>qmgr.transfer.bytes</c> (counter, bytes journaled as transferred), <c>qmgr.transfer.active</c>
/// (jobs Connecting or Transferring), <c>qmgr.queue.length</c> (Queued jobs, tag <c>priority</c>), <c>qmgr.jobs</c> (unfinished
/// jobs, tag <c>state</c>), <c>qmgr.job.errors</c> (counter, tags <c>error.context</c> and <c>state</c>: Error or
/// TransientError) and <c>qmgr.journal.write.duration</c> (histogram, seconds from a group's persist call to its last
/// event being journaled). Everything covers the groups this node runs: the metrics read the node-local
/// <see cref="GroupNotified"/> and <see cref="GroupLoaded"/>, not the cluster-wide notifications every node hears, so
/// summing a metric over the nodes counts each job once.
/// </summary>
public sealed class QmgrMetrics : IExtension
{
    /// <summary>The meter's name, to enable in an OpenTelemetry pipeline (<c>AddMeter("Qmgr")</c>).</summary>
    public const string MeterName = "Qmgr";

    private static readonly Meter Meter = new(MeterName, "1.0");
    private static readonly Counter<long> Bytes = Meter.CreateCounter<long>("qmgr.transfer.bytes", "By", "Bytes journaled as transferred (checkpoints and finished files)");
    private static readonly Counter<long> Errors = Meter.CreateCounter<long>("qmgr.job.errors", "{error}", "Jobs entering Error or TransientError, by error context");
    private static readonly Histogram<double> JournalWrites = Meter.CreateHistogram<double>("qmgr.journal.write.duration", "s", "Time from a group's persist call to its events being journaled");

    private readonly ConcurrentDictionary<Guid, (JobState State, JobPriority Priority, long Bytes)> _jobs = new();

    static QmgrMetrics() { }

    private QmgrMetrics(ActorSystem system)
    {
        Meter.CreateObservableGauge("qmgr.transfer.active", () => _jobs.Values.Count(j => j.State is JobState.Connecting or JobState.Transferring),
            "{transfer}", "Jobs Connecting or Transferring on this node");
        Meter.CreateObservableGauge("qmgr.queue.length", () => Enum.GetValues<JobPriority>().Select(p =>
            new Measurement<int>(_jobs.Values.Count(j => j.State == JobState.Queued && j.Priority == p), new KeyValuePair<string, object?>("priority", p.ToString()))),
            "{job}", "Queued jobs by priority");
        Meter.CreateObservableGauge("qmgr.jobs", () => Enum.GetValues<JobState>().Where(s => !s.IsFinal()).Select(s =>
            new Measurement<int>(_jobs.Values.Count(j => j.State == s), new KeyValuePair<string, object?>("state", s.ToString()))),
            "{job}", "Unfinished jobs by state");
        var subscriber = system.ActorOf(Props.Create(() => new Subscriber(this)), "qmgr-metrics");
        system.EventStream.Subscribe(subscriber, typeof(GroupNotified));
        system.EventStream.Subscribe(subscriber, typeof(GroupLoaded));
    }

    /// <summary>The metrics of <paramref name="system"/> (started on first use; <c>AddQmgr</c> starts them).</summary>
    public static QmgrMetrics For(ActorSystem system) => system.WithExtension<QmgrMetrics, Provider>();

    /// <summary>Records one journal write of a group (seconds).</summary>
    public static void RecordJournalWrite(TimeSpan elapsed) => JournalWrites.Record(elapsed.TotalSeconds);

    private void Track(Job job)
    {
        if (job.State.IsFinal()) _jobs.TryRemove(job.Id, out _);
        else _jobs[job.Id] = (job.State, job.Priority, job.BytesTransferred);
    }

    private void OnNotification(QmgrNotification n)
    {
        var job = n.Job;
        var before = _jobs.TryGetValue(job.Id, out var known) ? known.Bytes : (long?)null;
        if (before is { } b && job.BytesTransferred > b) Bytes.Add(job.BytesTransferred - b);
        if (n is QmgrNotification.StateChanged { To: JobState.Error or JobState.TransientError } s && job.Error is { } e)
            Errors.Add(1, new KeyValuePair<string, object?>("error.context", e.Context.ToString()), new KeyValuePair<string, object?>("state", s.To.ToString()));
        Track(job);
    }

    private sealed class Subscriber : ReceiveActor
    {
        public Subscriber(QmgrMetrics metrics)
        {
            Receive<GroupNotified>(n => metrics.OnNotification(n.Notification));
            Receive<GroupLoaded>(g => { foreach (var job in g.State.Jobs) metrics.Track(job); });
        }
    }

    private sealed class Provider : ExtensionIdProvider<QmgrMetrics>
    {
        public override QmgrMetrics CreateExtension(ExtendedActorSystem system) => new(system);
    }
}

/// <summary>
/// Published on the event stream by a group once it is recovered (not persisted, node-local: it seeds this node's
/// gauges with the jobs of the groups it runs, so it never crosses to other nodes).
/// </summary>
public sealed record GroupLoaded(GroupState State);

/// <summary>
/// Published on the node's event stream by a group, beside each <see cref="QmgrNotification"/> it sends cluster-wide:
/// what this node's <see cref="QmgrMetrics"/> count (node-local, never serialized; every node hears every notification,
/// only the group's own node sees this).
/// </summary>
public sealed record GroupNotified(QmgrNotification Notification);
