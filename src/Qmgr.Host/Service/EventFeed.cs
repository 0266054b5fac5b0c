using System.Net.ServerSentEvents;
using System.Text.Json;
using Qmgr.Api;
using Qmgr.Client;

namespace Qmgr.Host.Service;

/// <summary>
/// One SSE client's buffer between the node's notifications and the response: bounded (<see cref="ServiceSettings.EventBuffer"/>
/// events), progress throttled per job to the minimum notification interval, and when full the oldest progress event is
/// dropped — never a state change, a finished file or an error. A buffer full of those ends the stream (the client
/// reconnects and reads the state again), so a slow reader never makes the service buffer without bound.
/// </summary>
public sealed class EventFeed(int capacity, TimeSpan progressInterval, Func<QmgrNotification, bool> filter, TimeProvider clock) : IObserver<QmgrNotification>
{
    private readonly LinkedList<JobEvent> _queue = new();
    private readonly Dictionary<Guid, long> _lastProgress = new();
    private readonly SemaphoreSlim _ready = new(0);
    private bool _overflowed;

    /// <summary>Events dropped so far (progress only).</summary>
    public int Dropped { get; private set; }

    /// <summary>Queues an event to be sent before any notification (the snapshot of a watched job).</summary>
    public void Enqueue(JobEvent first)
    {
        lock (_queue) _queue.AddFirst(first);
        _ready.Release();
    }

    public void OnNext(QmgrNotification value)
    {
        if (!filter(value)) return;
        var e = value.ToEvent();
        lock (_queue)
        {
            if (_overflowed) return;
            if (value is QmgrNotification.Progress)
            {
                var now = clock.GetTimestamp();
                if (_lastProgress.TryGetValue(e.Job.Id, out var last) && clock.GetElapsedTime(last, now) < progressInterval) return;
                _lastProgress[e.Job.Id] = now;
            }
            if (_queue.Count >= capacity)
            {
                var oldestProgress = _queue.First;
                while (oldestProgress is not null && oldestProgress.Value.Kind != "progress") oldestProgress = oldestProgress.Next;
                if (oldestProgress is not null) { _queue.Remove(oldestProgress); Dropped++; }
                else if (e.Kind == "progress") { Dropped++; return; }
                else { _overflowed = true; _ready.Release(); return; }
            }
            _queue.AddLast(e);
        }
        _ready.Release();
    }

    public void OnCompleted() { }
    public void OnError(Exception error) { }

    /// <summary>The events as SSE items (<c>event:</c> the kind, <c>data:</c> the <see cref="JobEvent"/> as JSON), until
    /// <paramref name="cancellationToken"/> ends the request or the buffer overflowed.</summary>
    public async IAsyncEnumerable<SseItem<string>> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await _ready.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            JobEvent? next;
            lock (_queue)
            {
                if (_overflowed && _queue.Count == 0) yield break;
                next = _queue.First?.Value;
                if (next is not null) _queue.RemoveFirst();
            }
            if (next is not null) yield return new SseItem<string>(JsonSerializer.Serialize(next, ApiJson.Options), next.Kind);
            else if (_overflowed) yield break;
        }
    }
}
