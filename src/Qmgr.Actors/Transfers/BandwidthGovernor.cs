using System.Collections.Concurrent;
using Akka.Actor;
using Qmgr.Jobs;
using Qmgr.Transport;

namespace Qmgr.Transfers;

/// <summary>
/// Node-local bandwidth and concurrency budget (Decisions 4 and 5), an Akka extension shared by every
/// <see cref="TransferActor"/> on the node:
/// <list type="bullet">
/// <item>the node's transfer slots (<c>max-concurrent-per-node</c>, <c>max-concurrent-per-host</c>), granted by the
/// rules of <see cref="SlotScheduler"/>: strict priority between levels, FIFO inside one, preemption of a lower transfer
/// (or, with <c>qmgr.transfer.time-slice</c>, of a same-level one whose slice ended) when a waiter finds no slot;</item>
/// <item>one background token bucket whose rate is the node's share of the cluster cap, set by the <see cref="BandwidthCoordinator"/> singleton
/// (<see cref="SetNodeShare"/>; by default <c>qmgr.bandwidth.max-bytes-per-second</c>, as for a cluster of one), or the
/// smallest limit of the <c>qmgr.bandwidth.schedules</c> windows in force for the highest background priority running.
/// Foreground transfers skip it;</item>
/// <item>one bucket per group with a <c>MaxBytesPerSecond</c>, which every priority honours.</item>
/// </list>
/// The effective rate is the smallest that applies. A timer re-plans every <see cref="TickInterval"/> (slices, schedules).
/// </summary>
public sealed class BandwidthGovernor : IExtension, IDisposable
{
    /// <summary>How often slices and schedule windows are re-checked (the preemption latency of a time slice).</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(200);

    private readonly QmgrSettings _settings;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<Guid, ThrottleGate> _groups = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<long, Pending> _waiting = new();
    private readonly Dictionary<long, Running> _running = new();
    private readonly ITimer _ticker;
    private long _nextId;
    private long _nodeShare;
    private NodeDemand _lastDemand = NodeDemand.Idle;
    private volatile ThrottleGate? _background; // null = no background cap in force
    private ThrottleGate? _backgroundGate;

    public BandwidthGovernor(QmgrSettings settings, TimeProvider time)
    {
        _settings = settings;
        _time = time;
        _nodeShare = settings.MaxBytesPerSecond;
        UpdateBackgroundRate();
        _ticker = time.CreateTimer(_ => Pump(), null, TickInterval, TickInterval);
    }

    /// <summary>The governor of <paramref name="system"/>'s node.</summary>
    public static BandwidthGovernor Get(ActorSystem system) => system.WithExtension<BandwidthGovernor, BandwidthGovernorProvider>();

    /// <summary>
    /// Sets this node's share of the cluster-wide background cap, bytes per second (0 = no cap). A cluster singleton
    /// dividing <c>max-bytes-per-second</c> among nodes by demand calls this; a single node keeps the whole cap.
    /// Schedules in force still override it. Throws <see cref="ArgumentOutOfRangeException"/> when negative.
    /// </summary>
    public void SetNodeShare(long bytesPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytesPerSecond);
        Interlocked.Exchange(ref _nodeShare, bytesPerSecond);
        UpdateBackgroundRate();
    }

    /// <summary>
    /// This node's demand on the cluster cap: the highest background priority among running (not preempted) transfers
    /// and how many run at it. <see cref="BandwidthShareReporter"/> reports it to the <see cref="BandwidthCoordinator"/>.
    /// </summary>
    public NodeDemand Demand
    {
        get
        {
            lock (_lock) return DemandLocked();
        }
    }

    /// <summary>
    /// Raised (from the thread that changed it, outside the governor's lock) when <see cref="Demand"/> changes: a
    /// background transfer got or freed a slot, or was asked back. Handlers must be quick and must not block.
    /// </summary>
    public event Action<NodeDemand>? DemandChanged;

    private NodeDemand DemandLocked()
    {
        var running = _running.Values.Where(r => !r.Holder.Preempting && SlotScheduler.IsBackground(r.Holder.Priority)).ToList();
        if (running.Count == 0) return NodeDemand.Idle;
        var top = running.Min(r => r.Holder.Priority);
        return new NodeDemand(top, running.Count(r => r.Holder.Priority == top));
    }

    private void RaiseIfDemandChanged()
    {
        NodeDemand now;
        lock (_lock)
        {
            now = DemandLocked();
            if (now == _lastDemand) return;
            _lastDemand = now;
        }
        DemandChanged?.Invoke(now);
    }

    /// <summary>The background bucket's current rate in bytes/s (0 = none in force).</summary>
    public long BackgroundBytesPerSecond => _background?.BytesPerSecond ?? 0;

    /// <summary>
    /// Waits for a node slot and a slot of <paramref name="url"/>'s host and port, in the order of
    /// <see cref="SlotScheduler"/>; dispose the result to free both. While the slot is held, the governor may call
    /// <paramref name="preempt"/> (once, from any thread) to ask for it back: the caller should stop the transfer and
    /// dispose the slot. Throws <see cref="OperationCanceledException"/> when cancelled while waiting.
    /// </summary>
    public async Task<IDisposable> AcquireSlotAsync(Uri url, JobPriority priority, Action<PreemptionCause> preempt, CancellationToken cancellationToken)
    {
        var pending = new Pending(Interlocked.Increment(ref _nextId), priority, url.Authority, preempt);
        lock (_lock) _waiting.Add(pending.Id, pending);
        await using var reg = cancellationToken.Register(() =>
        {
            bool removed;
            lock (_lock) removed = _waiting.Remove(pending.Id);
            if (removed) pending.Granted.TrySetCanceled(cancellationToken);
        });
        Pump();
        await pending.Granted.Task.ConfigureAwait(false);
        return new Slot(this, pending.Id);
    }

    /// <summary>
    /// The throttle for one transfer: the group's bucket when <paramref name="groupMaxBytesPerSecond"/> &gt; 0, then the
    /// node's background bucket (when a cap or a schedule is in force) unless <paramref name="priority"/> is Foreground.
    /// </summary>
    public BandwidthThrottle ThrottleFor(Guid groupId, long groupMaxBytesPerSecond, JobPriority priority)
    {
        ThrottleGate? group = null;
        if (groupMaxBytesPerSecond > 0)
        {
            group = _groups.GetOrAdd(groupId, _ => new ThrottleGate(groupMaxBytesPerSecond, _settings.BurstSeconds, _time));
            if (group.BytesPerSecond != groupMaxBytesPerSecond) group.SetRate(groupMaxBytesPerSecond);
        }
        var background = SlotScheduler.IsBackground(priority);
        if (group is null && !background) return static (_, _) => ValueTask.CompletedTask;
        return async (bytes, ct) =>
        {
            if (group is not null) await group.TakeAsync(bytes, ct).ConfigureAwait(false);
            if (background && _background is { } gate) await gate.TakeAsync(bytes, ct).ConfigureAwait(false);
        };
    }

    /// <summary>Applies <see cref="SlotScheduler.Plan"/>: admits waiters, asks holders back, re-rates the background bucket.</summary>
    private void Pump()
    {
        var grants = new List<Pending>();
        var preempts = new List<(Action<PreemptionCause>, PreemptionCause)>();
        lock (_lock)
        {
            if (_waiting.Count > 0 || _running.Count > 0)
            {
                var now = _time.GetTimestamp();
                var slice = (long)(_settings.TimeSlice.TotalSeconds * _time.TimestampFrequency);
                var plan = SlotScheduler.Plan(
                    _waiting.Values.Select(p => new SlotWaiter(p.Id, p.Priority, p.Host, p.Id)).ToList(),
                    _running.Values.Select(r => r.Holder).ToList(),
                    _settings.MaxConcurrentPerNode, _settings.MaxConcurrentPerHost, now, slice);
                foreach (var id in plan.Grants)
                {
                    var p = _waiting[id];
                    _waiting.Remove(id);
                    _running[id] = new Running(new SlotHolder(id, p.Priority, p.Host, now, false), p.Preempt);
                    grants.Add(p);
                }
                foreach (var (id, cause) in plan.Preemptions)
                {
                    var r = _running[id];
                    _running[id] = r with { Holder = r.Holder with { Preempting = true } };
                    preempts.Add((r.Preempt, cause));
                }
            }
        }
        UpdateBackgroundRate();
        RaiseIfDemandChanged();
        foreach (var p in grants) p.Granted.TrySetResult();
        foreach (var (preempt, cause) in preempts) preempt(cause);
    }

    private void Release(long id)
    {
        lock (_lock) _running.Remove(id);
        Pump();
    }

    private void UpdateBackgroundRate()
    {
        JobPriority top;
        lock (_lock) top = SlotScheduler.TopBackground(_running.Values.Where(r => !r.Holder.Preempting).Select(r => r.Holder.Priority));
        var rate = BandwidthSchedule.EffectiveRate(Interlocked.Read(ref _nodeShare), _settings.BandwidthSchedules, top, _time.GetLocalNow().DateTime);
        lock (_lock)
        {
            if (rate <= 0) { _background = null; return; }
            if (_backgroundGate is null) _backgroundGate = new ThrottleGate(rate, _settings.BurstSeconds, _time);
            else if (_backgroundGate.BytesPerSecond != rate) _backgroundGate.SetRate(rate);
            _background = _backgroundGate;
        }
    }

    /// <summary>Stops the re-planning timer.</summary>
    public void Dispose() => _ticker.Dispose();

    private sealed class Pending(long id, JobPriority priority, string host, Action<PreemptionCause> preempt)
    {
        public long Id { get; } = id;
        public JobPriority Priority { get; } = priority;
        public string Host { get; } = host;
        public Action<PreemptionCause> Preempt { get; } = preempt;
        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record Running(SlotHolder Holder, Action<PreemptionCause> Preempt);

    private sealed class Slot(BandwidthGovernor governor, long id) : IDisposable
    {
        private int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) governor.Release(id);
        }
    }
}

/// <summary>Creates the node's <see cref="BandwidthGovernor"/> from the system's <c>qmgr</c> settings.</summary>
public sealed class BandwidthGovernorProvider : ExtensionIdProvider<BandwidthGovernor>
{
    public override BandwidthGovernor CreateExtension(ExtendedActorSystem system)
    {
        var governor = new BandwidthGovernor(QmgrSettings.Create(system), TimeProvider.System);
        system.RegisterOnTermination(governor.Dispose);
        return governor;
    }
}
