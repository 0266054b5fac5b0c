using Qmgr.Jobs;
using Qmgr.Transfers;
using Xunit;
using static Qmgr.Jobs.JobPriority;

namespace Qmgr.Tests.Groups;

/// <summary>The pure admission rules of <see cref="SlotScheduler"/> (Decision 5, BITS §2.6): timestamps are plain numbers.</summary>
public sealed class SlotSchedulerSpecs
{
    private static SlotWaiter W(long id, JobPriority p, string host = "h:80") => new(id, p, host, id);
    private static SlotHolder H(long id, JobPriority p, long grantedAt = 0, string host = "h:80", bool preempting = false) => new(id, p, host, grantedAt, preempting);

    [Fact]
    public void Waiters_are_admitted_by_priority_then_in_arrival_order()
    {
        // arrange: 4 slots; arrivals Low, Normal, Normal, Foreground, High, Normal
        SlotWaiter[] waiting = [W(1, Low), W(2, Normal), W(3, Normal), W(4, Foreground), W(5, High), W(6, Normal)];

        // act
        var plan = SlotScheduler.Plan(waiting, [], nodeSlots: 2, hostSlots: 4, now: 0, timeSliceTicks: 0);

        // assert: Foreground first, then High; no Normal or Low while a High waits or runs
        Assert.Equal([4L, 5L], plan.Grants);
        Assert.Empty(plan.Preemptions);
    }

    [Fact]
    public void Within_one_priority_admission_is_first_come_first_served()
    {
        var plan = SlotScheduler.Plan([W(7, Normal), W(3, Normal), W(5, Normal)], [], 2, 4, 0, 0);
        Assert.Equal([3L, 5L], plan.Grants);
    }

    [Fact]
    public void A_running_higher_background_priority_holds_back_lower_ones_even_with_free_slots()
    {
        var plan = SlotScheduler.Plan([W(2, Normal), W(3, Low)], [H(1, High)], 4, 4, 0, 0);
        Assert.Empty(plan.Grants);
        Assert.Empty(plan.Preemptions);
    }

    [Fact]
    public void Foreground_neither_blocks_nor_is_blocked_by_the_background_levels()
    {
        var plan = SlotScheduler.Plan([W(2, Normal), W(3, Foreground)], [H(1, Foreground)], 4, 4, 0, 0);
        Assert.Equal([3L, 2L], plan.Grants);
    }

    [Fact]
    public void A_higher_background_priority_arriving_preempts_every_lower_running_transfer()
    {
        // arrange: two Normal and one Low run, a High arrives, slots are free
        var plan = SlotScheduler.Plan([W(9, High)], [H(1, Normal), H(2, Normal), H(3, Low)], 4, 4, 100, 0);

        // assert: the High goes at once; the lower ones are asked back (they pause as Queued)
        Assert.Equal([9L], plan.Grants);
        Assert.Equal([1L, 2L, 3L], plan.Preemptions.Select(p => p.HolderId).Order());
        Assert.All(plan.Preemptions, p => Assert.Equal(PreemptionCause.HigherPriority, p.Cause));
    }

    [Fact]
    public void Foreground_waiting_on_a_full_node_preempts_one_transfer_of_the_lowest_priority_latest_started()
    {
        var plan = SlotScheduler.Plan([W(9, Foreground)], [H(1, Normal, 10), H(2, Normal, 20)], 2, 4, 100, 0);
        Assert.Empty(plan.Grants);
        Assert.Equal([(2L, PreemptionCause.HigherPriority)], plan.Preemptions);
    }

    [Fact]
    public void A_slot_already_being_freed_serves_the_waiter_so_nothing_more_is_preempted()
    {
        var plan = SlotScheduler.Plan([W(9, Foreground)], [H(1, Normal, 10), H(2, Normal, 20, preempting: true)], 2, 4, 100, 0);
        Assert.Empty(plan.Grants);
        Assert.Empty(plan.Preemptions);
    }

    [Fact]
    public void A_full_host_preempts_a_lower_transfer_on_that_host_only()
    {
        // arrange: one slot per host; a Foreground for host a waits, Normal runs on a and on b
        var plan = SlotScheduler.Plan([W(9, Foreground, "a:80")], [H(1, Normal, 10, "a:80"), H(2, Normal, 20, "b:80")], 4, 1, 100, 0);
        Assert.Equal([(1L, PreemptionCause.HigherPriority)], plan.Preemptions);
    }

    [Fact]
    public void Round_robin_preempts_the_oldest_same_level_holder_whose_slice_ended()
    {
        // arrange: slice 30 ticks; holders granted at 0 and 50; now 60: only the first has used its slice
        var plan = SlotScheduler.Plan([W(9, Normal)], [H(1, Normal, 0), H(2, Normal, 50)], 2, 4, now: 60, timeSliceTicks: 30);
        Assert.Equal([(1L, PreemptionCause.TimeSliceEnded)], plan.Preemptions);
    }

    [Fact]
    public void Without_a_time_slice_or_before_it_ends_same_level_holders_keep_their_slots()
    {
        Assert.Empty(SlotScheduler.Plan([W(9, Normal)], [H(1, Normal, 0)], 1, 4, 60, 0).Preemptions);
        Assert.Empty(SlotScheduler.Plan([W(9, Normal)], [H(1, Normal, 0)], 1, 4, 20, 30).Preemptions);
    }

    [Fact]
    public void A_lower_priority_waiter_never_preempts_a_higher_holder()
    {
        var plan = SlotScheduler.Plan([W(9, Foreground)], [H(1, Foreground, 0)], 1, 4, 1000, 30);
        Assert.Equal([(1L, PreemptionCause.TimeSliceEnded)], plan.Preemptions);
        Assert.Empty(SlotScheduler.Plan([W(9, Low)], [H(1, Normal, 0)], 1, 4, 1000, 30).Preemptions);
    }
}
