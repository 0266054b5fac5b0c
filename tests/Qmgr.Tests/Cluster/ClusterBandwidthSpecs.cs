using System.Diagnostics;
using Qmgr.Api;
using Qmgr.Hosting;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Qmgr.Tests.Cluster;

/// <summary>
/// Decision 4 on a real cluster: <c>qmgr.bandwidth.max-bytes-per-second</c> caps the sum of every node's transfers,
/// measured as the growth of the temp files the nodes write (what they took off the wire; the server's own count would
/// include what loopback socket buffers, several MiB and growing, hold) while one, two and three nodes transfer.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterBandwidthSpecs(ITestOutputHelper output) : ClusterSpecs
{
    private const long Cap = 1024 * 1024;

    [Fact]
    public async Task The_cluster_cap_holds_within_three_percent_with_one_two_and_three_nodes_transferring()
    {
        // arrange: a 1 MiB/s cluster cap; jobs created until each node runs the transfer of one of them
        await using var cluster = await QmgrCluster.StartAsync(Db, 3, $"""
            qmgr.bandwidth.max-bytes-per-second = {Cap}
            qmgr.bandwidth.share-report-interval = 200ms
            """, TimeSpan.FromSeconds(90));
        using var qm = await cluster.Nodes[0].ConnectAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(240));
        var byNode = new Dictionary<string, IJob>();
        var outDir = Dir.Sub("out");
        for (var i = 0; i < 12 && byNode.Count < 3; i++)
        {
            var group = await qm.CreateGroupAsync($"capped {i}");
            var job = await group.CreateJobAsync("endless");
            await job.AddFilesAsync([(Server.AddGenerated($"/big{i}.bin", 1L << 32, seed: i).ToString(), Path.Combine(outDir, $"big{i}.bin"))]);
            await job.ResumeAsync();
            await job.WaitAsync(j => j.State == JobState.Transferring, deadline.Token);
            var node = await ClusterFailoverSpecs.TransferNodeAsync(Db, cluster, job.Id);
            if (byNode.ContainsKey(node.HostPort)) await job.SuspendAsync();
            else byNode[node.HostPort] = job;
        }
        Assert.True(byNode.Count == 3, $"transfers landed on {byNode.Count} nodes only");
        var jobs = byNode.Values.ToList();
        await jobs[1].SuspendAsync();
        await jobs[2].SuspendAsync();

        // act + assert: one, then two, then three nodes transfer; the server sees at most the cap (+3 %) and most of it
        for (var nodes = 1; nodes <= 3; nodes++)
        {
            if (nodes > 1)
            {
                await jobs[nodes - 1].ResumeAsync();
                await jobs[nodes - 1].WaitAsync(j => j.State == JobState.Transferring, deadline.Token);
            }
            var rate = await WriteRateAsync(outDir, settle: TimeSpan.FromSeconds(4), window: TimeSpan.FromSeconds(10));
            output.WriteLine($"{nodes} node(s) transferring: {rate / 1024:F0} KiB/s = {rate / Cap:P1} of the cap");
            Assert.InRange(rate, 0.80 * Cap, 1.03 * Cap);
        }
    }

    // the rate at which the nodes write into the temp files in `dir` over `window`, after `settle` for the shares to
    // follow the change (a measurement window, not a wait for an event)
    private static async Task<double> WriteRateAsync(string dir, TimeSpan settle, TimeSpan window)
    {
        await Task.Delay(settle);
        var (bytes0, clock) = (BytesIn(dir), Stopwatch.StartNew());
        await Task.Delay(window);
        return (BytesIn(dir) - bytes0) / clock.Elapsed.TotalSeconds;
    }

    private static long BytesIn(string dir) => new DirectoryInfo(dir).GetFiles("*", SearchOption.TopDirectoryOnly).Sum(f => f.Length);
}
