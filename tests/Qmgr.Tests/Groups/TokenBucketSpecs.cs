using Qmgr.Transfers;
using Xunit;

namespace Qmgr.Tests.Groups;

/// <summary>The token bucket's arithmetic, on a virtual clock (timestamps with a frequency of 1,000 per second).</summary>
public sealed class TokenBucketSpecs
{
    private const long Hz = 1000;

    [Fact]
    public void Bytes_within_the_burst_go_at_once_and_the_rest_wait_rate_seconds()
    {
        // arrange: 1 MiB/s with 0.1 s of burst
        var bucket = TokenBucket.Create(1024 * 1024, 0.1, nowTimestamp: 0);

        // act
        var (afterBurst, noWait) = bucket.Take(104_857, 0, Hz);
        var (_, wait) = afterBurst.Take(1024 * 1024, 0, Hz);

        // assert
        Assert.Equal(TimeSpan.Zero, noWait);
        Assert.Equal(1.0, wait.TotalSeconds, precision: 3);
    }

    [Fact]
    public void Refill_is_capped_at_the_burst_so_idle_time_does_not_bank_bandwidth()
    {
        // arrange
        var bucket = TokenBucket.Create(1000 * 1000, 0.1, nowTimestamp: 0);

        // act: ten idle seconds, then take 1.1 MB
        var (_, wait) = bucket.Take(1_100_000, 10 * Hz, Hz);

        // assert: only the 0.1 s burst was banked, 1 s of rate must be waited for
        Assert.Equal(1.0, wait.TotalSeconds, precision: 3);
    }

    [Fact]
    public void Over_ten_seconds_the_achieved_rate_equals_the_cap()
    {
        // arrange
        var bucket = TokenBucket.Create(4 * 1024 * 1024, 0.1, 0);
        long now = 0, sent = 0;

        // act: a writer that always waits what the bucket says, 64 KiB at a time
        while (now < 10 * Hz)
        {
            (bucket, var wait) = bucket.Take(64 * 1024, now, Hz);
            now += (long)Math.Ceiling(wait.TotalSeconds * Hz);
            if (now <= 10 * Hz) sent += 64 * 1024;
        }

        // assert
        Assert.InRange(sent / 10.0 / (4 * 1024 * 1024), 0.99, 1.02);
    }

    [Fact]
    public void A_new_rate_keeps_the_debt_and_pays_it_at_the_new_rate()
    {
        // arrange: 1 MB/s, burst spent and 1 MB of debt
        var bucket = TokenBucket.Create(1_000_000, 0.1, 0);
        (bucket, _) = bucket.Take(1_100_000, 0, Hz);

        // act: the node's share doubles (SetNodeShare) before the next write
        var (_, wait) = bucket.WithRate(2_000_000, 0.1).Take(0, 0, Hz);

        // assert: the same debt at 2 MB/s
        Assert.Equal(0.5, wait.TotalSeconds, precision: 3);
    }
}
