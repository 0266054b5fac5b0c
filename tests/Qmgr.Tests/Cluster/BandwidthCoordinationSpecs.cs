using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Qmgr.Jobs;
using Qmgr.Serialization;
using Qmgr.Tests.Support;
using Qmgr.Transfers;
using Xunit;

namespace Qmgr.Tests.Cluster;

/// <summary>
/// Decision 4 across a real two-node cluster (two embedded nodes joined over loopback TCP, each with its own SQLite
/// journal): the <see cref="BandwidthCoordinator"/> singleton divides <c>qmgr.bandwidth.max-bytes-per-second</c> among
/// the nodes by what their governors run, and a node that leaves gives its share back. Demand is made with the
/// governors' own slot API (what every <see cref="TransferActor"/> calls), and the outcome read from each governor's
/// background bucket rate.
/// </summary>
public sealed class BandwidthCoordinationSpecs : TestKit, IDisposable
{
    private const long Cap = 10_000_000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly Config CapConfig = ConfigurationFactory.ParseString($"""
        qmgr.bandwidth.max-bytes-per-second = {Cap}
        qmgr.bandwidth.share-report-interval = 200ms
        """);
    private readonly TempDirectory _dir = new();

    private async Task SharesAreAsync(BandwidthGovernor a, long aShare, BandwidthGovernor b, long bShare) =>
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(aShare, a.BackgroundBytesPerSecond);
            Assert.Equal(bShare, b.BackgroundBytesPerSecond);
        }, Deadline, TimeSpan.FromMilliseconds(50));

    [Fact]
    public async Task The_cluster_cap_is_divided_by_demand_with_strict_priority_across_nodes_and_a_leaving_node_gives_its_share_back()
    {
        // arrange: node A (the oldest, so it hosts the singleton) and node B joined to it
        var nodeA = HostedQmgr.Start(_dir.File("a"), CapConfig);
        await using var nodeB = HostedQmgr.Start(_dir.File("b"), CapConfig, [Akka.Cluster.Cluster.Get(nodeA.System).SelfAddress.ToString()]);
        try
        {
            await AwaitAssertAsync(() => Assert.Equal(2, Akka.Cluster.Cluster.Get(nodeB.System).State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up)), Deadline, TimeSpan.FromMilliseconds(50));
            var (a, b) = (BandwidthGovernor.Get(nodeA.System), BandwidthGovernor.Get(nodeB.System));
            var url = new Uri("http://127.0.0.1:9/file");

            // act + assert: nothing runs → an even split
            await SharesAreAsync(a, Cap / 2, b, Cap / 2);

            // a Normal transfer on B → B contends alone; A keeps the 1 % floor
            using (await b.AcquireSlotAsync(url, JobPriority.Normal, _ => { }, CancellationToken.None))
            {
                await SharesAreAsync(a, Cap / 100, b, Cap - Cap / 100);

                // a High transfer on A → strict priority across the cluster: A takes the cap, B's Normal keeps the floor
                using (await a.AcquireSlotAsync(url, JobPriority.High, _ => { }, CancellationToken.None))
                {
                    await SharesAreAsync(a, Cap - Cap / 100, b, Cap / 100);
                }

                // the High transfer ends → B's Normal transfer gets the cap back
                await SharesAreAsync(a, Cap / 100, b, Cap - Cap / 100);

                // a Foreground transfer is not background demand: nothing changes
                using (await a.AcquireSlotAsync(url, JobPriority.Foreground, _ => { }, CancellationToken.None))
                {
                    Assert.Equal(new NodeDemand(null, 0), a.Demand);
                }

                // A leaves the cluster (its singleton hands over to B) → B holds the whole cap
                await nodeA.DisposeAsync();
                await AwaitAssertAsync(() => Assert.Equal(Cap, b.BackgroundBytesPerSecond), Deadline, TimeSpan.FromMilliseconds(50));
            }
        }
        finally
        {
            await nodeA.DisposeAsync();
        }
    }

    [Fact]
    public void The_coordinator_wire_messages_round_trip_through_the_qmgr_serializer()
    {
        // arrange
        var serializer = new QmgrJsonSerializer((Akka.Actor.ExtendedActorSystem)Sys);
        Qmgr.IQmgrMessage[] messages =
        [
            new BandwidthProtocol.ReportDemand("akka.tcp://qmgr@127.0.0.1:4053", new NodeDemand(JobPriority.Low, 3)),
            new BandwidthProtocol.NodeShareAssigned(2_500_000, Cap),
        ];

        foreach (var message in messages)
        {
            // act
            var manifest = serializer.Manifest(message);
            var back = serializer.FromBinary(serializer.ToBinary(message), manifest);

            // assert
            Assert.Equal(message, back);
            Assert.Equal(message.GetType(), QmgrManifests.TypeOf(manifest));
        }
    }

    public new void Dispose()
    {
        base.Dispose();
        _dir.Dispose();
    }
}
