using Qmgr.Jobs;
using Qmgr.Transfers;
using Xunit;

namespace Qmgr.Tests.Groups;

/// <summary>
/// <see cref="BandwidthShares.Divide{TNode}"/>: how the cluster cap (Decision 4) is divided among nodes — strict
/// priority across the cluster, proportional to running transfers inside the top level, a 1 % floor for the rest.
/// </summary>
public sealed class BandwidthSharesSpecs
{
    private static Dictionary<string, NodeDemand> Nodes(params (string Node, JobPriority? Top, int Transfers)[] nodes) =>
        nodes.ToDictionary(n => n.Node, n => new NodeDemand(n.Top, n.Transfers));

    [Fact]
    public void Nodes_at_the_same_priority_share_the_cap_in_proportion_to_their_transfers()
    {
        var shares = BandwidthShares.Divide(10_000_000, Nodes(("a", JobPriority.Normal, 1), ("b", JobPriority.Normal, 3)));

        Assert.Equal(2_500_000, shares["a"]);
        Assert.Equal(7_500_000, shares["b"]);
    }

    [Fact]
    public void A_node_running_high_takes_the_cap_and_normal_and_idle_nodes_keep_one_percent_between_them()
    {
        var shares = BandwidthShares.Divide(10_000_000, Nodes(("a", JobPriority.High, 1), ("b", JobPriority.Normal, 5), ("c", null, 0)));

        Assert.Equal(9_900_000, shares["a"]);
        Assert.Equal(50_000, shares["b"]);
        Assert.Equal(50_000, shares["c"]);
    }

    [Fact]
    public void With_no_transfer_running_anywhere_the_cap_is_split_evenly_and_sums_to_the_cap()
    {
        var shares = BandwidthShares.Divide(1_000_001, Nodes(("a", null, 0), ("b", null, 0), ("c", null, 0)));

        Assert.Equal(1_000_001, shares.Values.Sum());
        Assert.InRange(shares.Values.Max() - shares.Values.Min(), 0, 1);
    }

    [Fact]
    public void Integer_remainders_are_given_out_so_the_shares_sum_to_the_cap_exactly()
    {
        var shares = BandwidthShares.Divide(1_000_003, Nodes(("a", JobPriority.Low, 1), ("b", JobPriority.Low, 1), ("c", JobPriority.Low, 1), ("d", null, 0)));

        Assert.Equal(1_000_003, shares.Values.Sum());
        Assert.Equal(10_000, shares["d"]);
    }

    [Fact]
    public void No_cap_gives_every_node_zero_which_the_governor_reads_as_uncapped()
    {
        var shares = BandwidthShares.Divide(0, Nodes(("a", JobPriority.High, 2), ("b", null, 0)));

        Assert.All(shares.Values, s => Assert.Equal(0, s));
    }

    [Fact]
    public void A_cap_below_one_byte_per_second_per_node_never_gives_a_zero_share()
    {
        var shares = BandwidthShares.Divide(2, Nodes(("a", JobPriority.Normal, 1), ("b", null, 0), ("c", null, 0)));

        Assert.All(shares.Values, s => Assert.True(s >= 1));
    }

    [Fact]
    public void A_negative_cap_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BandwidthShares.Divide(-1, Nodes(("a", null, 0))));
    }
}
