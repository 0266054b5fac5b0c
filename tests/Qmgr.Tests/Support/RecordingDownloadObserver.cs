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

    public IReadOnlyList<ResponseInfo> Responses => Events.OfType<ResponseInfo>().ToArray();

    public IReadOnlyList<Restarted> Restarts => Events.OfType<Restarted>().ToArray();

    public IReadOnlyList<long> Checkpoints => Events.OfType<Checkpoint>().Select(c => c.Offset).ToArray();

    public IReadOnlyList<QuickRetry> QuickRetries => Events.OfType<QuickRetry>().ToArray();

    public void OnResponse(ResponseInfo response) => _events.Enqueue(response);

    public void OnRestarted(FileRestartReason reason, string detail) => _events.Enqueue(new Restarted(reason, detail));

    public void OnCheckpoint(long offset)
    {
        OnCheckpointHook?.Invoke(offset);
        _events.Enqueue(new Checkpoint(offset));
    }

    public void OnQuickRetry(int attempt, TimeSpan delay, TransferError error) =>
        _events.Enqueue(new QuickRetry(attempt, delay, error));

    public sealed record Restarted(FileRestartReason Reason, string Detail);

    public sealed record Checkpoint(long Offset);

    public sealed record QuickRetry(int Attempt, TimeSpan Delay, TransferError Error);
}
