using Akka.Actor;
using Akka.Coordination;

namespace Qmgr.Cluster;

/// <summary>
/// The fencing check of one shard: <see cref="IsHeld"/> is true while this node certainly holds the shard's lease
/// (<see cref="Lease.CheckLease"/> of the very instance the shard acquired), so an entity writes bytes, journals
/// transfer facts or renames files only then. Without <c>akka.cluster.sharding.use-lease</c> (one node on SQLite) it
/// always holds.
/// </summary>
public sealed class ShardFence
{
    /// <summary>A fence that always holds: single node, or actor specs without a cluster.</summary>
    public static readonly ShardFence None = new(null);

    private readonly Func<Lease>? _lease;
    private Lease? _resolved;

    private ShardFence(Func<Lease>? lease) => _lease = lease;

    /// <summary>
    /// The fence of shard <paramref name="shardId"/> of region <paramref name="typeName"/> (<c>qmgr-group</c> or
    /// <c>qmgr-transfer</c>) on this node: the lease sharding names <c>{system}-shard-{typeName}-{shardId}</c>, under the
    /// config path of <c>akka.cluster.sharding.use-lease</c>, owned by <c>Cluster.SelfAddress.HostPort()</c>.
    /// LeaseProvider caches leases by that triple, so this is the shard's own instance. <see cref="None"/> when
    /// <c>use-lease</c> is empty.
    /// </summary>
    public static ShardFence For(ActorSystem system, string typeName, string shardId)
    {
        var configPath = system.Settings.Config.GetString("akka.cluster.sharding.use-lease", "");
        if (string.IsNullOrEmpty(configPath)) return None;
        var name = $"{system.Name}-shard-{typeName}-{shardId}";
        return new ShardFence(() => LeaseProvider.Get(system).GetLease(name, configPath, Akka.Cluster.Cluster.Get(system).SelfAddress.HostPort()));
    }

    /// <summary>True while this node may write for the shard (see the type's summary); cheap, never blocks.</summary>
    public bool IsHeld() => _lease is null || (_resolved ??= _lease()).CheckLease();
}
