using System.Diagnostics;
using System.Security.Cryptography;
using Npgsql;
using Qmgr.Api;
using Qmgr.Hosting;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Qmgr.Tests.Cluster;

/// <summary>
/// Issue 8 on a real cluster: three <c>qmgr serve</c> processes on 127.0.0.1 sharing a real PostgreSQL database
/// (a fresh one per test), a real loopback file server, SIGKILL and SIGSTOP on real processes.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterFailoverSpecs(ITestOutputHelper output) : ClusterSpecs
{
    [Fact]
    public async Task Any_node_answers_for_a_group_that_runs_on_another_node()
    {
        // arrange
        await using var cluster = await QmgrCluster.StartAsync(Db, 3, "", Formation);
        var content = RandomNumberGenerator.GetBytes(64 * 1024);
        var url = Server.Add("/small.bin", content);
        var target = Dir.File("small.bin");
        using var qm0 = await cluster.Nodes[0].ConnectAsync();

        // act: created through node 0
        var group = await qm0.CreateGroupAsync("spread");
        var job = await group.CreateJobAsync("one file");
        await job.AddFilesAsync([(url.ToString(), target)]);
        await job.ResumeAsync();

        // assert: every node sees the group and its job, lists it, and drives it to the end
        foreach (var node in cluster.Nodes)
        {
            using var qm = await node.ConnectAsync();
            var seen = await qm.GetGroupAsync(group.Id);
            Assert.Equal("spread", (await seen.GetStateAsync()).DisplayName);
            Assert.Contains(await qm.EnumGroupsAsync(), g => g.Id == group.Id);
            Assert.Equal(job.Id, (await qm.GetJobAsync(job.Id)).Id);
        }
        using var qm2 = await cluster.Nodes[2].ConnectAsync();
        var viaTwo = await qm2.GetJobAsync(job.Id);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await viaTwo.WaitAsync(j => j.State == JobState.Transferred, wait.Token);
        await viaTwo.CompleteAsync();
        Assert.Equal(content, await File.ReadAllBytesAsync(target));
        var runsOn = await QmgrCluster.GroupNodeAsync(cluster.Nodes[1], group.Id, wait.Token);
        Assert.Contains(runsOn, cluster.Nodes.Select(n => n.Address));

        // the CLI reads the shared store without a node (`list`), and refuses to start a node of its own on it
        var shared = new Dictionary<string, string> { ["QMGR_CONNECTION_STRING"] = Db.ConnectionString };
        using var list = QmgrProcess.Start(shared, "list", "--all", "--all-users", "--json", "--data-dir", Dir.File("cli"));
        var listed = await list.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Contains(group.Id.ToString("D"), listed.Stdout);
        using var transfer = QmgrProcess.Start(shared, "transfer", url.ToString(), Dir.File("cli.bin"), "--data-dir", Dir.File("cli"));
        var refused = await transfer.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--server", refused.Stderr);
    }

    [Fact]
    public async Task A_killed_nodes_download_resumes_on_a_survivor_from_its_last_checkpoint_and_finishes_byte_exact()
    {
        // arrange: a 4 MiB file at 256 KiB/s (a 16 s download), checkpoints every 128 KiB
        await using var cluster = await QmgrCluster.StartAsync(Db, 3, "qmgr.transfer.checkpoint-bytes = 131072", Formation);
        var content = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        var url = Server.Add("/big.bin", content);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var (groupId, jobId, target) = await ThrottledDownloadPastOneMiBAsync(cluster, url, "big.bin", deadline.Token);

        // act: SIGKILL the node whose shard lease holds the transfer (the process writing the bytes)
        var victim = await TransferNodeAsync(cluster, jobId, deadline.Token);
        var requestsBefore = Server.RequestsFor("/big.bin").Count;
        var killedAt = DateTimeOffset.UtcNow;
        victim.Process.Kill();
        output.WriteLine($"killed node {victim.Index} ({victim.Address}) at {killedAt:O}");

        // assert: a survivor asks for the rest (Range from the last checkpoint, not from 0) and finishes byte-exact
        var survivor = cluster.Nodes.First(n => n != victim);
        using var qm = await survivor.ConnectAsync();
        var resumed = await FirstRequestAfterAsync("/big.bin", requestsBefore, deadline.Token);
        var takeover = resumed.Time - killedAt;
        output.WriteLine($"takeover (kill → bytes flowing again): {takeover.TotalSeconds:F1} s; resumed with {resumed.Range}");
        Assert.StartsWith("bytes=", resumed.Range);
        Assert.NotEqual("bytes=0-", resumed.Range);
        var done = await (await qm.GetJobAsync(jobId)).WaitAsync(j => j.State is JobState.Transferred or JobState.Error, deadline.Token);
        Assert.Equal(JobState.Transferred, done.State);
        await (await qm.GetJobAsync(jobId)).CompleteAsync(deadline.Token);
        Assert.Equal(content, await File.ReadAllBytesAsync(target));
        Assert.True(takeover < TimeSpan.FromSeconds(30), $"takeover took {takeover}");
        await JournalIsLinearAsync(groupId);
    }

    [Fact]
    public async Task A_paused_node_that_lost_its_lease_writes_nothing_after_it_runs_again()
    {
        // arrange: version 1 of a 4 MiB file downloading at 256 KiB/s on one node
        await using var cluster = await QmgrCluster.StartAsync(Db, 3, "qmgr.transfer.checkpoint-bytes = 131072", Formation);
        var (v1, v2) = (RandomNumberGenerator.GetBytes(4 * 1024 * 1024), RandomNumberGenerator.GetBytes(4 * 1024 * 1024));
        var url = Server.Add("/paused.bin", v1, new LoopbackFileOptions { ETag = "\"v1\"" });
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var (groupId, jobId, target) = await ThrottledDownloadPastOneMiBAsync(cluster, url, "paused.bin", deadline.Token);

        // act: the server moves to version 2 and the transfer's node is frozen (SIGSTOP) while it holds version 1 bytes
        // in its socket buffers; the survivors take over, restart on version 2 (If-Range no longer matches) and finish
        var victim = await TransferNodeAsync(cluster, jobId, deadline.Token);
        Server.Add("/paused.bin", v2, new LoopbackFileOptions { ETag = "\"v2\"" });
        victim.Process.Pause();
        var survivor = cluster.Nodes.First(n => n != victim);
        using var qm = await survivor.ConnectAsync();
        try
        {
            var done = await (await qm.GetJobAsync(jobId)).WaitAsync(j => j.State is JobState.Transferred or JobState.Error, deadline.Token);
            Assert.Equal(JobState.Transferred, done.State);
        }
        finally
        {
            // ...then the frozen node runs again, its lease long gone: whatever it still holds must not reach the file
            victim.Process.Continue();
        }
        // the frozen node learns it was downed: it says so and exits (its groups run on the others now)
        var exit = await victim.Process.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, exit.ExitCode);
        Assert.Contains("removed from the cluster", exit.Stderr);

        // assert: the completed file is version 2 byte for byte (a stale write of version 1 would show), and the group's
        // journal is one linear history
        await (await qm.GetJobAsync(jobId)).CompleteAsync(deadline.Token);
        Assert.Equal(v2, await File.ReadAllBytesAsync(target));
        await JournalIsLinearAsync(groupId);
    }

    [Fact]
    public async Task A_node_killed_among_thirty_groups_of_small_files_loses_no_file_and_duplicates_none()
    {
        // arrange: 30 groups of one job of 10 files of 16 KiB, each group capped at 64 KiB/s so the run lasts a while
        await using var cluster = await QmgrCluster.StartAsync(Db, 3, "", Formation);
        var contents = new Dictionary<string, byte[]>();
        using var qm0 = await cluster.Nodes[0].ConnectAsync();
        var jobs = new List<Guid>();
        var outDir = Dir.Sub("out");
        for (var g = 0; g < 30; g++)
        {
            var group = await qm0.CreateGroupAsync($"g{g}", maxBytesPerSecond: 64 * 1024);
            var job = await group.CreateJobAsync("ten files");
            var files = new List<(string, string)>();
            for (var f = 0; f < 10; f++)
            {
                var content = RandomNumberGenerator.GetBytes(16 * 1024);
                var target = Path.Combine(outDir, $"g{g}-f{f}.bin");
                contents[target] = content;
                files.Add((Server.Add($"/g{g}/f{f}.bin", content).ToString(), target));
            }
            await job.AddFilesAsync(files);
            await job.ResumeAsync();
            jobs.Add(job.Id);
        }
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(240));

        // act: once a third of the files are in, SIGKILL node 2 (node 0's API carries on)
        while (contents.Keys.Count(t => File.Exists(t)) + await TransferredFilesAsync(qm0, jobs, deadline.Token) < 100)
            await Task.Delay(200, deadline.Token);
        cluster.Nodes[2].Process.Kill();

        // assert: every job reaches Transferred, completes, and every file is there once, byte-exact, with no stray file
        try
        {
            foreach (var id in jobs)
            {
                var job = await qm0.GetJobAsync(id, deadline.Token);
                var done = await job.WaitAsync(j => j.State is JobState.Transferred or JobState.Error, deadline.Token);
                Assert.Equal(JobState.Transferred, done.State);
                await job.CompleteAsync(deadline.Token);
            }
        }
        catch (Exception)
        {
            output.WriteLine(cluster.WarningsAndErrors());
            throw;
        }
        foreach (var (target, content) in contents) Assert.Equal(content, await File.ReadAllBytesAsync(target));
        Assert.Equal(contents.Keys.Order(), Directory.GetFiles(outDir).Order());
        // each file journaled as transferred exactly once per group stream, and each stream linear
        await using var c = new NpgsqlConnection(Db.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT persistence_id, convert_from(message, 'UTF8')::json->>'fileIndex', count(*) FROM journal
            WHERE manifest = 'file-transferred' AND persistence_id LIKE 'group-%' GROUP BY 1, 2 HAVING count(*) > 1
            """, c);
        await using (var r = await cmd.ExecuteReaderAsync())
            Assert.False(await r.ReadAsync(), "a file was journaled as transferred twice");
        foreach (var g in await qm0.EnumGroupsAsync(deadline.Token)) await JournalIsLinearAsync(g.Id);
    }

    private static async Task<int> TransferredFilesAsync(IQueueManager qm, IEnumerable<Guid> jobs, CancellationToken ct)
    {
        var n = 0;
        foreach (var id in jobs) n += (await (await qm.GetJobAsync(id, ct)).GetAsync(ct)).Files.Count(f => f.Transferred);
        return n;
    }

    /// <summary>A group capped at 256 KiB/s created through node 0, one job downloading <paramref name="url"/> to
    /// <paramref name="name"/> in the temp directory; returns their ids and the target once more than 1 MiB of it is in.</summary>
    private async Task<(Guid GroupId, Guid JobId, string Target)> ThrottledDownloadPastOneMiBAsync(QmgrCluster cluster, Uri url, string name, CancellationToken ct)
    {
        var target = Dir.File(name);
        using var qm0 = await cluster.Nodes[0].ConnectAsync();
        var group = await qm0.CreateGroupAsync(name, maxBytesPerSecond: 256 * 1024, cancellationToken: ct);
        var job = await group.CreateJobAsync("big file", cancellationToken: ct);
        await job.AddFilesAsync([(url.ToString(), target)], ct);
        await job.ResumeAsync(ct);
        await job.WaitAsync(j => j.BytesTransferred >= 1024 * 1024, ct);
        return (group.Id, job.Id, target);
    }

    private Task<ClusterNode> TransferNodeAsync(QmgrCluster cluster, Guid jobId, CancellationToken ct) => TransferNodeAsync(Db, cluster, jobId);

    /// <summary>The node holding the lease of the transfer shard of <paramref name="jobId"/> (qmgr_leases, written by the shard).</summary>
    internal static async Task<ClusterNode> TransferNodeAsync(PostgresDatabase db, QmgrCluster cluster, Guid jobId)
    {
        var shard = new TransferMessageExtractor().ShardId(jobId.ToString("N"));
        var owner = await db.ScalarAsync($"SELECT owner FROM qmgr_leases WHERE name = 'qmgr-shard-qmgr-transfer-{shard}'") as string;
        return cluster.Nodes.SingleOrDefault(n => n.HostPort == owner)
               ?? throw new InvalidOperationException($"no node holds the lease of transfer shard {shard} (owner '{owner}')");
    }

    private async Task<LoggedRequest> FirstRequestAfterAsync(string path, int index, CancellationToken ct)
    {
        while (true)
        {
            if (Server.RequestsFor(path) is var all && all.Count > index) return all[index];
            await Task.Delay(50, ct);
        }
    }

    /// <summary>The group's events have sequence numbers 1..N without a gap or a repeat (one writer at a time).</summary>
    private async Task JournalIsLinearAsync(Guid groupId)
    {
        await using var c = new NpgsqlConnection(Db.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT sequence_number FROM journal WHERE persistence_id = @p ORDER BY ordering", c);
        cmd.Parameters.AddWithValue("p", $"group-{groupId:N}");
        var seqs = new List<long>();
        await using (var r = await cmd.ExecuteReaderAsync()) while (await r.ReadAsync()) seqs.Add(r.GetInt64(0));
        Assert.NotEmpty(seqs);
        Assert.Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), seqs);
    }
}
