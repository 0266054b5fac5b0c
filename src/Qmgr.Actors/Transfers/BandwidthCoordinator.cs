using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Qmgr.Transfers;

/// <summary>Wire messages between each node's <see cref="BandwidthShareReporter"/> and the <see cref="BandwidthCoordinator"/>.</summary>
public static class BandwidthProtocol
{
    /// <summary>A node's demand (<see cref="BandwidthGovernor.Demand"/>); <paramref name="Node"/> is its cluster address (<c>akka.tcp://qmgr@host:port</c>).</summary>
    public sealed record ReportDemand(string Node, NodeDemand Demand) : IQmgrMessage;

    /// <summary>The node's share of the cluster cap in bytes/s (0 = no cap), out of <paramref name="CapBytesPerSecond"/>.</summary>
    public sealed record NodeShareAssigned(long BytesPerSecond, long CapBytesPerSecond) : IQmgrMessage;
}

/// <summary>
/// Cluster singleton (<c>/user/qmgr-bandwidth-coordinator</c>) that divides <c>qmgr.bandwidth.max-bytes-per-second</c>
/// among the nodes by demand (Decision 4; DESIGN "transfer region") with <see cref="BandwidthShares.Divide{TNode}"/>:
/// strict priority across the cluster, proportional to running transfers inside the top level. Keeps the last
/// <see cref="BandwidthProtocol.ReportDemand"/> of every node, forgets a node once it is removed or unreachable, and
/// sends each node its <see cref="BandwidthProtocol.NodeShareAssigned"/> whenever it changes (and in answer to every
/// report, so a reporter that re-registers after a hand-over learns its share). Holds no persistent state: after a
/// hand-over the new singleton rebuilds the picture from the reports every node repeats each
/// <c>qmgr.bandwidth.share-report-interval</c>.
/// </summary>
public sealed class BandwidthCoordinator : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly long _cap;
    private readonly Dictionary<Address, (IActorRef Reporter, NodeDemand Demand)> _nodes = new();
    private readonly Dictionary<Address, long> _sent = new();

    public BandwidthCoordinator(long capBytesPerSecond)
    {
        _cap = capBytesPerSecond;
        Receive<BandwidthProtocol.ReportDemand>(r =>
        {
            var node = Address.Parse(r.Node);
            var changed = !_nodes.TryGetValue(node, out var known) || known.Demand != r.Demand || !known.Reporter.Equals(Sender);
            _nodes[node] = (Sender, r.Demand);
            if (changed) Redivide();
            // answer every report: the reporter may be new (restarted node, singleton hand-over)
            if (_sent.TryGetValue(node, out var share)) Sender.Tell(new BandwidthProtocol.NodeShareAssigned(share, _cap));
        });
        Receive<ClusterEvent.MemberRemoved>(m => Forget(m.Member.Address));
        Receive<ClusterEvent.UnreachableMember>(m => Forget(m.Member.Address));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    /// <summary>Props for the singleton; <paramref name="capBytesPerSecond"/> is <c>qmgr.bandwidth.max-bytes-per-second</c> (0 = none).</summary>
    public static Props Props(long capBytesPerSecond) => Akka.Actor.Props.Create(() => new BandwidthCoordinator(capBytesPerSecond));

    protected override void PreStart() =>
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.UnreachableMember));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void Forget(Address node)
    {
        if (!_nodes.Remove(node)) return;
        _sent.Remove(node);
        Redivide();
    }

    private void Redivide()
    {
        var shares = BandwidthShares.Divide(_cap, _nodes.ToDictionary(kv => kv.Key, kv => kv.Value.Demand));
        foreach (var (node, share) in shares)
        {
            if (_sent.TryGetValue(node, out var before) && before == share) continue;
            _sent[node] = share;
            _nodes[node].Reporter.Tell(new BandwidthProtocol.NodeShareAssigned(share, _cap));
        }
        _log.Debug("Bandwidth shares of {Cap} B/s: {Shares}", _cap, string.Join(", ", shares.Select(s => $"{s.Key}={s.Value}")));
    }
}

/// <summary>
/// One per node (<c>/user/qmgr-bandwidth-reporter</c>): reports the node's <see cref="BandwidthGovernor.Demand"/> to the
/// <see cref="BandwidthCoordinator"/> singleton (through its proxy) whenever it changes and every
/// <c>qmgr.bandwidth.share-report-interval</c>, and applies each <see cref="BandwidthProtocol.NodeShareAssigned"/> with
/// <see cref="BandwidthGovernor.SetNodeShare"/>. Until the first share arrives the node keeps the whole cap.
/// </summary>
public sealed class BandwidthShareReporter : ReceiveActor, IWithTimers
{
    private sealed record DemandChanged(NodeDemand Demand);
    private sealed record Tick;

    private readonly IActorRef _coordinator;
    private readonly BandwidthGovernor _governor;
    private readonly string _node;
    private readonly TimeSpan _interval;
    private Action<NodeDemand>? _handler;

    public BandwidthShareReporter(IActorRef coordinatorProxy, TimeSpan reportInterval)
    {
        _coordinator = coordinatorProxy;
        _interval = reportInterval;
        _governor = BandwidthGovernor.Get(Context.System);
        _node = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<DemandChanged>(_ => Report(_governor.Demand)); // read now: handlers may race from several threads
        Receive<Tick>(_ => Report(_governor.Demand));
        Receive<BandwidthProtocol.NodeShareAssigned>(s => _governor.SetNodeShare(s.BytesPerSecond));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props; <paramref name="coordinatorProxy"/> is the singleton proxy, <paramref name="reportInterval"/> <c>qmgr.bandwidth.share-report-interval</c>.</summary>
    public static Props Props(IActorRef coordinatorProxy, TimeSpan reportInterval) =>
        Akka.Actor.Props.Create(() => new BandwidthShareReporter(coordinatorProxy, reportInterval));

    protected override void PreStart()
    {
        var self = Self;
        _handler = demand => self.Tell(new DemandChanged(demand));
        _governor.DemandChanged += _handler;
        Timers.StartPeriodicTimer("report", new Tick(), TimeSpan.Zero, _interval);
    }

    protected override void PostStop()
    {
        if (_handler is not null) _governor.DemandChanged -= _handler;
    }

    private void Report(NodeDemand demand) => _coordinator.Tell(new BandwidthProtocol.ReportDemand(_node, demand));
}
