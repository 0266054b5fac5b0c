using System.Collections.Concurrent;
using Qmgr.Transport;

namespace Qmgr.Tests.Support;

/// <summary>An <see cref="IDownloadObserver"/> that records every call, in order, for assertions.</summary>
public sealed class RecordingDownloadObserver : IDownloadObserver
{
    private readonly ConcurrentQueue<object> _events = new();

    /// <summary>Runs on every checkpoint before it is recorded (e.g. to read the temp file from disk).</summary>
    public Action<long>? OnCheckpointHook { get; init; }

    /// <summary>Every call as a record: <see cref="ResponseInfo"/>, <see cref="Restarted"/>, <see cref="Checkpoint"/>, <see cref="QuickRetry"/>.</summary>
    public IReadOnlyList<object> Events => _events.ToArray();

    /// <summary>Accepted responses, in order.</summary>
    public IReadOnlyList<ResponseInfo> Responses => Events.OfType<ResponseInfo>().ToArray();

    /// <summary>Restarts from byte 0, in order.</summary>
    public IReadOnlyList<Restarted> Restarts => Events.OfType<Restarted>().ToArray();

    /// <summary>Checkpointed offsets in bytes, in order.</summary>
    public IReadOnlyList<long> Checkpoints => Events.OfType<Checkpoint>().Select(c => c.Offset).ToArray();

    /// <summary>Quick retries, in order.</summary>
    public IReadOnlyList<QuickRetry> QuickRetries => Events.OfType<QuickRetry>().ToArray();

    /// <inheritdoc />
    public void OnResponse(ResponseInfo response) => _events.Enqueue(response);

    /// <inheritdoc />
    public void OnRestarted(FileRestartReason reason, string detail) => _events.Enqueue(new Restarted(reason, detail));

    /// <inheritdoc />
    public void OnCheckpoint(long offset)
    {
        OnCheckpointHook?.Invoke(offset);
        _events.Enqueue(new Checkpoint(offset));
    }

    /// <inheritdoc />
    public void OnQuickRetry(int attempt, TimeSpan delay, TransferError error) =>
        _events.Enqueue(new QuickRetry(attempt, delay, error));

    /// <summary>An <see cref="IDownloadObserver.OnRestarted"/> call.</summary>
    public sealed record Restarted(FileRestartReason Reason, string Detail);

    /// <summary>An <see cref="IDownloadObserver.OnCheckpoint"/> call (offset in bytes).</summary>
    public sealed record Checkpoint(long Offset);

    /// <summary>An <see cref="IDownloadObserver.OnQuickRetry"/> call.</summary>
    public sealed record QuickRetry(int Attempt, TimeSpan Delay, TransferError Error);
}
