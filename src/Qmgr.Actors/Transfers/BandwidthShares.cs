using Qmgr.Jobs;

namespace Qmgr.Transfers;

/// <summary>
/// What one node asks of the cluster-wide background cap: the highest background priority among its running
/// transfers (null = none running) and how many of its running transfers are at that priority.
/// Reported by <see cref="BandwidthGovernor.Demand"/>.
/// </summary>
public sealed record NodeDemand(JobPriority? TopPriority, int Transfers)
{
    /// <summary>A node with no background transfer running.</summary>
    public static readonly NodeDemand Idle = new(null, 0);

    /// <summary>True when at least one background transfer runs.</summary>
    public bool IsActive => TopPriority is not null && Transfers > 0;
}

/// <summary>
/// Divides the cluster-wide background cap (<c>qmgr.bandwidth.max-bytes-per-second</c>, Decision 4) among nodes by
/// demand, keeping BITS's strict priority across the cluster: only the nodes running transfers at the cluster's highest
/// background priority contend for the cap, in proportion to how many such transfers each runs. Every other node (idle,
/// or running only lower priorities) keeps a small floor — <see cref="FloorFraction"/> of the cap split among them — so
/// its first bytes flow before the next division reaches it. Pure; the shares sum to the cap exactly (for caps of at least one byte/s per node).
/// </summary>
public static class BandwidthShares
{
    /// <summary>The part of the cap (0.01 = 1 %) left to the nodes that do not contend, split evenly among them.</summary>
    public const double FloorFraction = 0.01;

    /// <summary>
    /// Shares in bytes per second for each node of <paramref name="demands"/>. <paramref name="cap"/> is the cluster cap
    /// in bytes per second; 0 (no cap) gives every node 0, which <see cref="BandwidthGovernor.SetNodeShare"/> reads as
    /// "no cap". With no contending node the cap is split evenly. Throws <see cref="ArgumentOutOfRangeException"/> for a
    /// negative cap.
    /// </summary>
    public static IReadOnlyDictionary<TNode, long> Divide<TNode>(long cap, IReadOnlyDictionary<TNode, NodeDemand> demands)
        where TNode : notnull
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cap);
        var shares = new Dictionary<TNode, long>();
        if (demands.Count == 0) return shares;
        if (cap == 0)
        {
            foreach (var node in demands.Keys) shares[node] = 0;
            return shares;
        }

        var top = demands.Values.Where(d => d.IsActive).Select(d => (JobPriority?)d.TopPriority!.Value).DefaultIfEmpty(null).Min();
        var contending = demands.Where(kv => top is not null && kv.Value.IsActive && kv.Value.TopPriority == top)
            .OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal).ToList();
        var others = demands.Keys.Where(n => !contending.Any(c => EqualityComparer<TNode>.Default.Equals(c.Key, n)))
            .OrderBy(n => n.ToString(), StringComparer.Ordinal).ToList();
        if (contending.Count == 0)
        {
            Spread(cap, others, shares);
            return AtLeastOne(shares);
        }

        // lower priorities and idle nodes: a floor of at least 1 byte/s each (0 would mean "uncapped")
        var floorTotal = others.Count == 0 ? 0 : Math.Max(others.Count, (long)(cap * FloorFraction));
        floorTotal = Math.Min(floorTotal, Math.Max(0, cap - contending.Count));
        Spread(floorTotal, others, shares);
        var rest = cap - others.Sum(n => shares[n]);
        var weight = contending.Sum(c => (long)c.Value.Transfers);
        var given = 0L;
        foreach (var (node, demand) in contending)
        {
            var share = rest * demand.Transfers / weight;
            shares[node] = share;
            given += share;
        }
        // integer remainders go to the first contenders so the sum is the cap exactly
        for (var i = 0; given < rest; i = (i + 1) % contending.Count, given++) shares[contending[i].Key]++;
        return AtLeastOne(shares);
    }

    // a share of 0 would read as "no cap": caps below one byte/s per node round up to 1
    private static Dictionary<TNode, long> AtLeastOne<TNode>(Dictionary<TNode, long> shares) where TNode : notnull
    {
        foreach (var n in shares.Where(kv => kv.Value == 0).Select(kv => kv.Key).ToList()) shares[n] = 1;
        return shares;
    }

    private static void Spread<TNode>(long total, IReadOnlyList<TNode> nodes, Dictionary<TNode, long> shares) where TNode : notnull
    {
        if (nodes.Count == 0) return;
        var each = total / nodes.Count;
        var remainder = total % nodes.Count;
        for (var i = 0; i < nodes.Count; i++) shares[nodes[i]] = each + (i < remainder ? 1 : 0);
    }
}
