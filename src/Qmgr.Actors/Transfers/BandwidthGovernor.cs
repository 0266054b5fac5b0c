using System.Collections.Concurrent;
using Akka.Actor;
using Qmgr.Jobs;
using Qmgr.Transport;

namespace Qmgr.Transfers;

/// <summary>
/// Node-local bandwidth and concurrency budget (Decisions 4 and 5), an Akka extension shared by every
/// <see cref="TransferActor"/> on the node: the background cap (<c>qmgr.bandwidth.max-bytes-per-second</c>, skipped
/// by Foreground jobs), one bucket per group with a <c>MaxBytesPerSecond</c>, and the per-node and per-host transfer slots.
/// The effective rate is the smallest that applies.
/// </summary>
public sealed class BandwidthGovernor : IExtension
{
    private readonly QmgrSettings _settings;
    private readonly TimeProvider _time;
    private readonly ThrottleGate? _background;
    private readonly ConcurrentDictionary<Guid, ThrottleGate> _groups = new();
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _hostSlots = new(StringComparer.OrdinalIgnoreCase);

    public BandwidthGovernor(QmgrSettings settings, TimeProvider time)
    {
        _settings = settings;
        _time = time;
        _background = settings.MaxBytesPerSecond > 0 ? new ThrottleGate(settings.MaxBytesPerSecond, settings.BurstSeconds, time) : null;
        _slots = new SemaphoreSlim(settings.MaxConcurrentPerNode, settings.MaxConcurrentPerNode);
    }

    /// <summary>The governor of <paramref name="system"/>'s node.</summary>
    public static BandwidthGovernor Get(ActorSystem system) => system.WithExtension<BandwidthGovernor, BandwidthGovernorProvider>();

    /// <summary>
    /// Waits for one of the node's <c>max-concurrent-per-node</c> transfer slots and one of the
    /// <c>max-concurrent-per-host</c> slots of <paramref name="url"/>'s host and port (Decision 5); dispose the result
    /// to free both. Throws <see cref="OperationCanceledException"/> when cancelled while waiting.
    /// </summary>
    public async Task<IDisposable> AcquireSlotAsync(Uri url, CancellationToken cancellationToken)
    {
        var host = _hostSlots.GetOrAdd(url.Authority, _ => new SemaphoreSlim(_settings.MaxConcurrentPerHost, _settings.MaxConcurrentPerHost));
        await host.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            host.Release();
            throw;
        }
        return new Slot(_slots, host);
    }

    /// <summary>
    /// The throttle for one transfer: the group's bucket when <paramref name="groupMaxBytesPerSecond"/> &gt; 0, then the
    /// node's background bucket unless <paramref name="priority"/> is Foreground.
    /// </summary>
    public BandwidthThrottle ThrottleFor(Guid groupId, long groupMaxBytesPerSecond, JobPriority priority)
    {
        ThrottleGate? group = null;
        if (groupMaxBytesPerSecond > 0)
        {
            group = _groups.GetOrAdd(groupId, _ => new ThrottleGate(groupMaxBytesPerSecond, _settings.BurstSeconds, _time));
            if (group.BytesPerSecond != groupMaxBytesPerSecond) group.SetRate(groupMaxBytesPerSecond);
        }
        var background = priority == JobPriority.Foreground ? null : _background;
        if (group is null && background is null) return static (_, _) => ValueTask.CompletedTask;
        return async (bytes, ct) =>
        {
            if (group is not null) await group.TakeAsync(bytes, ct).ConfigureAwait(false);
            if (background is not null) await background.TakeAsync(bytes, ct).ConfigureAwait(false);
        };
    }

    private sealed class Slot(SemaphoreSlim node, SemaphoreSlim host) : IDisposable
    {
        private int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0) return;
            node.Release();
            host.Release();
        }
    }
}

/// <summary>Creates the node's <see cref="BandwidthGovernor"/> from the system's <c>qmgr</c> settings.</summary>
public sealed class BandwidthGovernorProvider : ExtensionIdProvider<BandwidthGovernor>
{
    public override BandwidthGovernor CreateExtension(ExtendedActorSystem system) =>
        new(QmgrSettings.Create(system), TimeProvider.System);
}
