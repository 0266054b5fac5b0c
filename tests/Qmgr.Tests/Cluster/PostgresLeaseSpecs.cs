using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Coordination;
using Npgsql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qmgr.Cluster;
using Qmgr.Groups;
using Qmgr.Hosting;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Cluster;

/// <summary>
/// <see cref="PostgresLease"/> against the real PostgreSQL of <see cref="PostgresDatabase"/> (one database for the class,
/// a lease name per test), and the fencing it feeds: a downloader whose fence is not held writes no byte. Short lease
/// timings (heartbeat every 200 ms, timeout 1.5 s); every wait polls with an explicit deadline.
/// </summary>
public sealed class PostgresLeaseSpecs : IClassFixture<PostgresDatabase>, IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(1500);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private readonly PostgresDatabase _db;
    private readonly string _name = $"lease-{Guid.NewGuid():N}";
    private readonly List<PostgresLease> _leases = [];
    private readonly TempDirectory _dir = new();

    public PostgresLeaseSpecs(PostgresDatabase db) => _db = db;

    public async Task InitializeAsync() => await _db.ScalarAsync(PostgresLease.Schema);

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var lease in _leases) lease.Dispose();
        _dir.Dispose();
    }

    /// <summary>A lease on this test's name for <paramref name="owner"/>, timed by <paramref name="clock"/> (the system clock by default).</summary>
    private PostgresLease Lease(string owner, TimeProvider? clock = null, string? name = null)
    {
        var settings = new LeaseSettings(name ?? _name, owner, new TimeoutSettings(Interval, Timeout, TimeSpan.FromSeconds(3)), Config.Empty);
        var lease = new PostgresLease(settings, _db.ConnectionString, clock ?? TimeProvider.System);
        _leases.Add(lease);
        return lease;
    }

    private async Task<(string Owner, long Token)> RowAsync()
    {
        await using var c = new NpgsqlConnection(_db.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT owner, fencing_token FROM qmgr_leases WHERE name = @name", c);
        cmd.Parameters.AddWithValue("name", _name);
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync(), $"no row for {_name}");
        return (r.GetString(0), r.GetInt64(1));
    }

    /// <summary>Polls <paramref name="condition"/> every 50 ms until it is true; fails after <see cref="Deadline"/>.</summary>
    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < Deadline, $"not within {Deadline}: {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>The system's monotonic clock, which a test can jump forward: what a process frozen by SIGSTOP sees when it resumes.</summary>
    private sealed class PausableClock : TimeProvider
    {
        private long _skipped;

        public void Freeze(TimeSpan howLong) => Interlocked.Add(ref _skipped, (long)(howLong.TotalSeconds * TimestampFrequency));

        public override long GetTimestamp() => System.GetTimestamp() + Interlocked.Read(ref _skipped);
    }

    [Fact]
    public async Task A_second_owner_cannot_acquire_while_the_first_holds_the_lease()
    {
        // arrange
        var a = Lease("node-a:1");
        var b = Lease("node-b:2");

        // act
        var first = await a.Acquire();
        var second = await b.Acquire();

        // assert
        Assert.True(first);
        Assert.False(second);
        Assert.True(a.CheckLease());
        Assert.False(b.CheckLease());
        Assert.Equal("node-a:1", (await RowAsync()).Owner);
    }

    [Fact]
    public async Task A_second_owner_acquires_once_the_first_owners_lease_expired()
    {
        // arrange: A holds it, then stops renewing as a crashed node would (no release)
        var a = Lease("node-a:1");
        var b = Lease("node-b:2");
        Assert.True(await a.Acquire());
        var crashed = Stopwatch.StartNew();
        a.Dispose();
        Assert.False(await b.Acquire());

        // act
        await EventuallyAsync(() => b.Acquire(), "B acquires after A's expiry");

        // assert: not before A's heartbeat-timeout had passed (the database clock decides, this one only bounds it)
        Assert.True(crashed.Elapsed >= Timeout - TimeSpan.FromMilliseconds(300), $"acquired after {crashed.Elapsed}");
        Assert.True(b.CheckLease());
        Assert.Equal("node-b:2", (await RowAsync()).Owner);
    }

    [Fact]
    public async Task Renewal_keeps_the_lease_held_well_beyond_its_heartbeat_timeout()
    {
        // arrange
        var a = Lease("node-a:1");
        var b = Lease("node-b:2");
        Assert.True(await a.Acquire());
        var held = Stopwatch.StartNew();

        // act + assert: for three timeouts A keeps it and B cannot take it
        while (held.Elapsed < 3 * Timeout)
        {
            Assert.True(a.CheckLease(), $"A lost the lease after {held.Elapsed}");
            Assert.False(await b.Acquire(), $"B acquired after {held.Elapsed}");
            await Task.Delay(100);
        }
        Assert.Equal("node-a:1", (await RowAsync()).Owner);
    }

    [Fact]
    public async Task A_paused_process_sees_the_lease_as_not_held_the_instant_it_resumes_and_again_once_a_renewal_finds_it_still_its_own()
    {
        // arrange
        var clock = new PausableClock();
        var lost = 0;
        var a = Lease("node-a:1", clock);
        Assert.True(await a.Acquire(_ => Interlocked.Increment(ref lost)));
        Assert.True(a.CheckLease());

        // act: the process "resumes" after a pause longer than heartbeat-timeout, before any renewal has run
        clock.Freeze(Timeout + TimeSpan.FromSeconds(1));

        // assert: not certainly held at once; nobody took the row, so the next renewal makes it valid again
        Assert.False(a.CheckLease());
        await EventuallyAsync(() => Task.FromResult(a.CheckLease()), "a renewal after the pause");
        Assert.Equal(0, Volatile.Read(ref lost));
    }

    [Fact]
    public async Task Lease_lost_fires_once_when_another_owner_took_the_lease()
    {
        // arrange
        var lost = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var a = Lease("node-a:1");
        Assert.True(await a.Acquire(ex =>
        {
            Interlocked.Increment(ref calls);
            lost.TrySetResult(ex);
        }));

        // act: another node takes the row (as its acquire does once A's row expired while A could not renew)
        await _db.ScalarAsync($"UPDATE qmgr_leases SET owner = 'node-b:2', fencing_token = fencing_token + 1 WHERE name = '{_name}'");

        // assert
        var reason = await lost.Task.WaitAsync(Deadline);
        Assert.IsType<LeaseException>(reason);
        Assert.False(a.CheckLease());
        Assert.Equal(1, Volatile.Read(ref calls));
        Assert.Equal("node-b:2", (await RowAsync()).Owner);
    }

    [Fact]
    public async Task Release_lets_another_owner_acquire_at_once()
    {
        // arrange
        var a = Lease("node-a:1");
        var b = Lease("node-b:2");
        Assert.True(await a.Acquire());

        // act
        var released = await a.Release();
        var acquired = await b.Acquire();

        // assert
        Assert.True(released);
        Assert.True(acquired);
        Assert.False(a.CheckLease());
        Assert.False(await a.Release()); // not A's any more
        Assert.Equal("node-b:2", (await RowAsync()).Owner);
    }

    [Fact]
    public async Task An_owners_leases_renewed_together_stay_held_and_only_the_one_another_owner_took_is_lost()
    {
        // arrange: one owner holds ten leases (one renewal statement a heartbeat for all of them)
        var names = Enumerable.Range(0, 10).Select(i => $"{_name}-{i}").ToList();
        var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var leases = names.Select(n => Lease("node-a:1", name: n)).ToList();
        for (var i = 0; i < leases.Count; i++)
        {
            var name = names[i];
            Assert.True(await leases[i].Acquire(_ => lost.TrySetResult(name)));
        }
        var held = Stopwatch.StartNew();

        // act: another node takes the fourth row
        await _db.ScalarAsync($"UPDATE qmgr_leases SET owner = 'node-b:2', fencing_token = fencing_token + 1 WHERE name = '{names[3]}'");

        // assert: that one is lost once; the other nine are renewed past two heartbeat timeouts
        Assert.Equal(names[3], await lost.Task.WaitAsync(Deadline));
        Assert.False(leases[3].CheckLease());
        while (held.Elapsed < 2 * Timeout) await Task.Delay(100);
        Assert.All(leases.Where((_, i) => i != 3), l => Assert.True(l.CheckLease(), $"{l.Settings.LeaseName} not held after {held.Elapsed}"));
        var other = Lease("node-b:2", name: names[5]);
        Assert.False(await other.Acquire());
    }

    [Fact]
    public async Task The_fencing_token_grows_on_each_change_of_owner_and_only_then()
    {
        // arrange
        var a = Lease("node-a:1");
        var b = Lease("node-b:2");

        // act + assert
        Assert.True(await a.Acquire());
        var first = a.FencingToken;
        Assert.True(await a.Acquire()); // again by the same owner: no change of owner
        Assert.Equal(first, a.FencingToken);
        Assert.True(await a.Release());
        Assert.True(await b.Acquire());
        Assert.Equal(first + 1, b.FencingToken);
        Assert.True(await b.Release());
        Assert.True(await a.Acquire());
        Assert.Equal(first + 2, a.FencingToken);
        Assert.Equal(("node-a:1", first + 2), await RowAsync());
    }

    [Fact]
    public async Task LeaseProvider_builds_the_lease_from_the_qmgr_cluster_lease_block_with_the_journal_connection_string()
    {
        // arrange: qmgr.cluster.lease leaves connection-string empty, so the journal's is used
        var config = ConfigurationFactory.ParseString($"""
                akka.persistence.journal.sql.connection-string = "{_db.ConnectionString}"
                """)
            .WithFallback(QmgrSettings.DefaultConfig());
        using var system = ActorSystem.Create("lease-spec", config);
        try
        {
            // act
            var lease = LeaseProvider.Get(system).GetLease(_name, "qmgr.cluster.lease", "node-a:1");

            // assert: the reflection constructor ran, with qmgr.conf's timings, and the lease works
            var postgres = Assert.IsType<PostgresLease>(lease);
            Assert.Same(lease, LeaseProvider.Get(system).GetLease(_name, "qmgr.cluster.lease", "node-a:1"));
            Assert.Equal(TimeSpan.FromSeconds(8), postgres.Settings.TimeoutSettings.HeartbeatTimeout);
            Assert.Equal(TimeSpan.FromSeconds(1), postgres.Settings.TimeoutSettings.HeartbeatInterval);
            Assert.True(await lease.Acquire());
            Assert.True(lease.CheckLease());
            Assert.True(await lease.Release());
        }
        finally
        {
            await system.Terminate().WaitAsync(Deadline);
        }
    }

    [Fact]
    public async Task A_download_whose_shard_lease_is_no_longer_held_writes_no_further_byte_and_fails_transiently()
    {
        // arrange: a slow file; the fence holds for the entry check and two writes, then the lease is gone
        await using var server = await LoopbackFileServer.StartAsync();
        var url = server.AddGenerated("/f", 400_000, seed: 7, new LoopbackFileOptions { TrickleBytesPerSecond = 200_000 });
        var temp = _dir.File("f.bin.tmp");
        var checks = 0;
        long? lengthWhenLost = null;
        bool Fence()
        {
            if (++checks <= 3) return true;
            lengthWhenLost ??= new FileInfo(temp).Length;
            return false;
        }
        var request = new DownloadRequest(url, temp, 0, Validators.None, null, false, 4 * 1024 * 1024, TimeSpan.FromSeconds(1),
            [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50)], TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10))
        {
            WriteFence = Fence,
        };
        using var http = new HttpClient();
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await new HttpFileDownloader(http).DownloadAsync(request, observer, (_, _) => ValueTask.CompletedTask, CancellationToken.None)
            .WaitAsync(Deadline);

        // assert: a transient queue-manager error without quick retries, and the file as it was when the lease went
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.Equal(BitsErrors.ShardLeaseNotHeld, failed.Error.HResult);
        Assert.Equal(ErrorContext.GeneralQueueManager, failed.Error.Context);
        Assert.True(failed.Error.IsTransient);
        Assert.Contains("shard lease is not held", failed.Error.Message);
        Assert.Empty(observer.QuickRetries);
        Assert.NotNull(lengthWhenLost);
        Assert.True(lengthWhenLost < 400_000);
        Assert.Equal(lengthWhenLost, new FileInfo(temp).Length);
    }

    [Fact]
    public async Task A_download_that_starts_without_its_shard_lease_creates_no_temp_file_and_sends_no_request()
    {
        // arrange
        await using var server = await LoopbackFileServer.StartAsync();
        var url = server.AddGenerated("/g", 10_000, seed: 3);
        var temp = _dir.File("g.bin.tmp");
        var request = new DownloadRequest(url, temp, 0, Validators.None, null, false, 4 * 1024 * 1024, TimeSpan.FromSeconds(1),
            [], TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10))
        {
            WriteFence = () => false,
        };
        using var http = new HttpClient();

        // act
        var outcome = await new HttpFileDownloader(http).DownloadAsync(request, new RecordingDownloadObserver(), (_, _) => ValueTask.CompletedTask, CancellationToken.None)
            .WaitAsync(Deadline);

        // assert
        Assert.Equal(BitsErrors.ShardLeaseNotHeld, Assert.IsType<DownloadOutcome.Failed>(outcome).Error.HResult);
        Assert.False(File.Exists(temp));
        Assert.Empty(server.RequestsFor("/g"));
    }

    [Fact]
    public async Task A_node_on_the_postgres_store_starts_a_group_shard_only_under_its_PostgresLease_and_its_fence_holds()
    {
        // arrange: one node on this database through AddQmgr (Akka.Hosting ShardOptions leave the lease to
        // akka.cluster.sharding.use-lease of hocon/postgres.conf); the journal tables made by the plugin for the test
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddQmgr(new QmgrOptions
        {
            DataDirectory = _dir.Sub("node"),
            Store = QmgrStore.Postgres,
            ConnectionString = _db.ConnectionString,
            Overrides = ConfigurationFactory.ParseString("""
                akka.persistence.journal.sql.auto-initialize = on
                akka.persistence.snapshot-store.sql.auto-initialize = on
                """).WithFallback(HostedQmgr.TestTimings),
        });
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(Deadline);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var group = Guid.NewGuid();
            var shardId = new GroupMessageExtractor().ShardId(group.ToString("N"), messageHint: null);
            var owner = Akka.Cluster.Cluster.Get(system).SelfAddress.HostPort();

            // act
            var created = await GroupClient.From(system).SendAsync(new GroupCommands.CreateGroup(group, "alice", "leased", JobPriority.Normal, 0))
                .WaitAsync(Deadline);

            // assert: the shard's lease row is this node's, and the entity's fence is that very lease
            Assert.True(created.IsSuccess, created.Message);
            var row = await _db.ScalarAsync($"SELECT owner FROM qmgr_leases WHERE name = 'qmgr-shard-{QmgrHostingExtensions.GroupRegionName}-{shardId}'");
            Assert.Equal(owner, row);
            Assert.True(ShardFence.For(system, QmgrHostingExtensions.GroupRegionName, shardId).IsHeld());
        }
        finally
        {
            await host.StopAsync(Deadline);
        }
    }
}
