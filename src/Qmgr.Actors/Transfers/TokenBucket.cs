namespace Qmgr.Transfers;

/// <summary>
/// A token bucket as pure arithmetic: <see cref="RatePerSecond"/> bytes/s refill up to <see cref="Capacity"/> bytes.
/// <see cref="Take"/> may drive the balance negative (debt), and tells how long to wait before the bytes may go.
/// Time is given in <see cref="TimeProvider"/> timestamp ticks so the bucket never reads a clock itself.
/// </summary>
public sealed record TokenBucket(double RatePerSecond, double Capacity, double Tokens, long LastTimestamp)
{
    /// <summary>A full bucket for <paramref name="bytesPerSecond"/> with <paramref name="burstSeconds"/> of burst (at least 16 KiB).</summary>
    public static TokenBucket Create(long bytesPerSecond, double burstSeconds, long nowTimestamp)
    {
        if (bytesPerSecond <= 0) throw new ArgumentOutOfRangeException(nameof(bytesPerSecond), "rate must be positive");
        var capacity = Math.Max(16 * 1024, bytesPerSecond * burstSeconds);
        return new TokenBucket(bytesPerSecond, capacity, capacity, nowTimestamp);
    }

    /// <summary>Takes <paramref name="bytes"/>; returns the next bucket and how long the caller must wait (zero when covered).</summary>
    public (TokenBucket Next, TimeSpan Wait) Take(long bytes, long nowTimestamp, long timestampFrequency)
    {
        var elapsed = Math.Max(0, nowTimestamp - LastTimestamp) / (double)timestampFrequency;
        var tokens = Math.Min(Capacity, Tokens + elapsed * RatePerSecond) - bytes;
        var wait = tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-tokens / RatePerSecond);
        return (this with { Tokens = tokens, LastTimestamp = nowTimestamp }, wait);
    }

    /// <summary>The same bucket at another rate (bytes/s), keeping its balance.</summary>
    public TokenBucket WithRate(long bytesPerSecond, double burstSeconds) =>
        this with { RatePerSecond = bytesPerSecond, Capacity = Math.Max(16 * 1024, bytesPerSecond * burstSeconds) };
}

/// <summary>A thread-safe holder of one <see cref="TokenBucket"/> whose waits are awaited, never blocking a thread.</summary>
public sealed class ThrottleGate(long bytesPerSecond, double burstSeconds, TimeProvider time)
{
    private readonly Lock _lock = new();
    private TokenBucket _bucket = TokenBucket.Create(bytesPerSecond, burstSeconds, time.GetTimestamp());

    /// <summary>Current rate in bytes per second.</summary>
    public long BytesPerSecond => (long)_bucket.RatePerSecond;

    /// <summary>Changes the rate (bytes/s, positive).</summary>
    public void SetRate(long bytesPerSecond)
    {
        lock (_lock) _bucket = _bucket.WithRate(bytesPerSecond, burstSeconds);
    }

    /// <summary>Waits until <paramref name="bytes"/> fit the budget. Throws <see cref="OperationCanceledException"/> when cancelled.</summary>
    public async ValueTask TakeAsync(int bytes, CancellationToken cancellationToken)
    {
        TimeSpan wait;
        lock (_lock) (_bucket, wait) = _bucket.Take(bytes, time.GetTimestamp(), time.TimestampFrequency);
        if (wait > TimeSpan.Zero) await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
    }
}
