using Qmgr.Jobs;

namespace Qmgr.Transfers;

/// <summary>Why the governor takes a node slot back from a running transfer (BITS T8: Transferring → Queued).</summary>
public enum PreemptionCause
{
    /// <summary>A transfer of a higher priority is waiting for the slot, or runs on the node (strict priority).</summary>
    HigherPriority,

    /// <summary>The transfer used its <c>qmgr.transfer.time-slice</c> while transfers of the same priority wait (round robin).</summary>
    TimeSliceEnded,
}

/// <summary>A transfer waiting for a slot: <paramref name="Seq"/> orders arrivals (FIFO within a priority).</summary>
public sealed record SlotWaiter(long Id, JobPriority Priority, string Host, long Seq);

/// <summary>A transfer holding a slot since <paramref name="GrantedAt"/> (timestamp ticks); <paramref name="Preempting"/> once asked to stop.</summary>
public sealed record SlotHolder(long Id, JobPriority Priority, string Host, long GrantedAt, bool Preempting);

/// <summary>What <see cref="SlotScheduler.Plan"/> decided: waiters to admit (in order) and holders to preempt.</summary>
public sealed record SlotPlan(IReadOnlyList<long> Grants, IReadOnlyList<(long HolderId, PreemptionCause Cause)> Preemptions);

/// <summary>
/// The pure admission rules of the node's transfer slots (DESIGN Decisions 4–5, BITS §2.6):
/// <list type="bullet">
/// <item>Waiters are admitted in strict priority order (Foreground, High, Normal, Low), FIFO within a priority, while a
/// node slot (<c>max-concurrent-per-node</c>) and a slot of their host (<c>max-concurrent-per-host</c>) are free.</item>
/// <item>Strict priority between background levels (High, Normal, Low): while a background transfer of a higher priority
/// runs or waits on the node, lower background transfers are not admitted, and those running are preempted. Foreground
/// transfers are not background: they neither block nor get blocked by this rule, only by slots.</item>
/// <item>A waiter that finds its node or host slots taken preempts one holder of a lower priority, or, when the time
/// slice is on, one holder of its own priority whose slice has run out (round robin). A holder already being preempted
/// counts as a slot about to come free, so one waiter never preempts two holders.</item>
/// </list>
/// </summary>
public static class SlotScheduler
{
    /// <summary>True for High, Normal and Low (the priorities the background cap and strict exclusion apply to).</summary>
    public static bool IsBackground(JobPriority priority) => priority != JobPriority.Foreground;

    /// <summary>
    /// Decides grants and preemptions. <paramref name="now"/> and <paramref name="timeSliceTicks"/> are timestamp
    /// ticks (0 slice = no round robin). Throws <see cref="ArgumentOutOfRangeException"/> when a slot count is below 1.
    /// </summary>
    public static SlotPlan Plan(IReadOnlyList<SlotWaiter> waiting, IReadOnlyList<SlotHolder> holders, int nodeSlots, int hostSlots,
        long now, long timeSliceTicks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodeSlots, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hostSlots, 1);
        var active = holders.ToList();
        var grants = new List<long>();
        var preemptions = new List<(long, PreemptionCause)>();
        var top = TopBackground(waiting.Select(w => w.Priority).Concat(active.Where(h => !h.Preempting).Select(h => h.Priority)));

        // strict priority: lower background transfers stop while a higher one runs or waits
        foreach (var h in active.ToList())
            if (!h.Preempting && IsBackground(h.Priority) && h.Priority > top)
                Preempt(h, PreemptionCause.HigherPriority);

        var claimed = new HashSet<long>();
        foreach (var w in waiting.OrderBy(w => w.Priority).ThenBy(w => w.Seq))
        {
            if (IsBackground(w.Priority) && w.Priority > top) continue;
            var nodeFull = active.Count >= nodeSlots;
            var hostFull = active.Count(h => Same(h.Host, w.Host)) >= hostSlots;
            if (!nodeFull && !hostFull)
            {
                grants.Add(w.Id);
                active.Add(new SlotHolder(w.Id, w.Priority, w.Host, now, false));
                continue;
            }
            bool Fits(SlotHolder h) => !hostFull || Same(h.Host, w.Host);
            // a slot already on its way back serves this waiter
            var freeing = active.FirstOrDefault(h => h.Preempting && !claimed.Contains(h.Id) && Fits(h));
            if (freeing is not null) { claimed.Add(freeing.Id); continue; }
            var victim = active.Where(h => !h.Preempting && Fits(h) && h.Priority > w.Priority)
                             .OrderByDescending(h => h.Priority).ThenByDescending(h => h.GrantedAt).FirstOrDefault();
            var cause = PreemptionCause.HigherPriority;
            if (victim is null && timeSliceTicks > 0)
            {
                victim = active.Where(h => !h.Preempting && Fits(h) && h.Priority == w.Priority && now - h.GrantedAt >= timeSliceTicks)
                               .OrderBy(h => h.GrantedAt).FirstOrDefault();
                cause = PreemptionCause.TimeSliceEnded;
            }
            if (victim is null) continue;
            Preempt(victim, cause);
            claimed.Add(victim.Id);
        }
        return new SlotPlan(grants, preemptions);

        void Preempt(SlotHolder h, PreemptionCause cause)
        {
            active[active.FindIndex(x => x.Id == h.Id)] = h with { Preempting = true };
            preemptions.Add((h.Id, cause));
        }
    }

    /// <summary>The highest background priority among <paramref name="priorities"/>; <see cref="JobPriority.Low"/> when none.</summary>
    public static JobPriority TopBackground(IEnumerable<JobPriority> priorities) =>
        priorities.Where(IsBackground).DefaultIfEmpty(JobPriority.Low).Min();

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
}
