using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using static Qmgr.Legacy.QmgrH;

namespace Qmgr.Legacy;

/// <summary>
/// How a <see cref="GroupState"/> looks through BITS 1.0 (bits-spec §1.10). Pure functions of the persisted state and a clock.
/// </summary>
internal static class LegacyView
{
    /// <summary>A group a CancelGroup ended (<see cref="GroupState.Cancelled"/>): gone for the legacy surface; the journal keeps it.</summary>
    public static bool IsCancelled(GroupState g) => g.Cancelled;

    /// <summary>A job that legacy CancelJob/CancelGroup (or a modern Cancel or partial Complete) ended: left out of legacy views.</summary>
    public static bool IsGone(Job j) =>
        j.State == JobState.Cancelled || (j.State == JobState.Acknowledged && j.Files.Any(f => !f.Completed));

    /// <summary>The jobs the legacy surface shows, in creation order.</summary>
    public static IReadOnlyList<Job> Jobs(GroupState g) =>
        g.Jobs.Where(j => !IsGone(j)).ToList();

    public static bool IsComplete(Job j) => j.State is JobState.Transferred or JobState.Acknowledged;

    public static bool IsGroupComplete(GroupState g) => Jobs(g) is { Count: > 0 } jobs && jobs.All(IsComplete);

    /// <summary>§1.10: Suspended → SUSPENDED (also a group with no job: new groups start suspended); active → INCOMPLETE;
    /// Error → ERROR; all jobs Transferred/Acknowledged → COMPLETE; FOREGROUND when a job runs at Foreground priority.
    /// With several jobs the bits combine; the index is the first active job's, else 0.</summary>
    public static (uint Status, uint JobIndex) GroupStatus(GroupState g)
    {
        var jobs = Jobs(g);
        uint status = 0;
        if (jobs.Count == 0 || jobs.Any(j => j.State == JobState.Suspended)) status |= QM_STATUS_GROUP_SUSPENDED;
        if (jobs.Any(j => j.State.IsActive())) status |= QM_STATUS_GROUP_INCOMPLETE;
        if (jobs.Any(j => j.State == JobState.Error)) status |= QM_STATUS_GROUP_ERROR;
        if (jobs.Count > 0 && jobs.All(IsComplete)) status |= QM_STATUS_GROUP_COMPLETE;
        if (jobs.Any(j => !IsComplete(j) && j.Priority == JobPriority.Foreground)) status |= QM_STATUS_GROUP_FOREGROUND;
        var active = jobs.ToList().FindIndex(j => j.State.IsActive());
        return (status, active < 0 ? 0u : (uint)active);
    }

    public static (uint Status, uint Win32Result, uint TransportResult, uint NumOfRetries) JobStatus(Job j)
    {
        uint status = IsComplete(j) ? QM_STATUS_JOB_COMPLETE : QM_STATUS_JOB_INCOMPLETE;
        if (j.Priority == JobPriority.Foreground && !IsComplete(j)) status |= QM_STATUS_JOB_FOREGROUND;
        if (j.State != JobState.Error || j.Error is not { } e) return (status, 0, 0, 0);
        return (status | QM_STATUS_JOB_ERROR, Win32Of(e.HResult), (uint)(e.HttpStatus ?? 0), (uint)j.ErrorCount);
    }

    /// <summary>The Win32 code of an HRESULT_FROM_WIN32 (facility 7), else the HRESULT's bits.</summary>
    public static uint Win32Of(int hresult) =>
        ((uint)hresult & 0xFFFF0000) == 0x80070000 ? (uint)hresult & 0xFFFF : (uint)hresult;

    /// <summary>QM_PROGRESS_* of some jobs: percent (0 when the total is unknown or 0, 100 once all are complete), bytes,
    /// or whole seconds from <paramref name="since"/> to the last transfer completion (to <paramref name="now"/> while unfinished).</summary>
    public static long Progress(uint flags, IReadOnlyList<Job> jobs, DateTimeOffset since, DateTimeOffset now)
    {
        var bytes = jobs.Sum(j => j.BytesTransferred);
        switch (flags)
        {
            case QM_PROGRESS_SIZE_DONE:
                return bytes;
            case QM_PROGRESS_PERCENT_DONE:
                if (jobs.Count > 0 && jobs.All(IsComplete)) return 100;
                long? total = jobs.Any(j => j.BytesTotal is null) ? null : jobs.Sum(j => j.BytesTotal!.Value);
                return total is > 0 ? Math.Min(100, bytes * 100 / total.Value) : 0;
            case QM_PROGRESS_TIME_DONE:
                var end = jobs.Count > 0 && jobs.All(IsComplete) ? jobs.Max(j => j.TransferCompletionTime ?? j.ModificationTime) : now;
                return Math.Max(0, (long)(end - since).TotalSeconds);
            default:
                throw new QmgrException(E_INVALIDARG, $"progress flags must be QM_PROGRESS_PERCENT_DONE, _TIME_DONE or _SIZE_DONE, not {flags}");
        }
    }

    /// <summary>Size of some jobs in bytes, 0 while any size is unknown (get_Size).</summary>
    public static long Size(IEnumerable<Job> jobs)
    {
        long size = 0;
        foreach (var j in jobs)
        {
            if (j.BytesTotal is not { } t) return 0;
            size += t;
        }
        return size;
    }

    /// <summary>GROUPPROP_PRIORITY numbers (bigger = sooner): 0 Low, 1 Normal (BITS 1.0's only value, the default), 2 High, 3 Foreground.</summary>
    public static int LegacyPriority(JobPriority p) => p switch
    {
        JobPriority.Low => 0,
        JobPriority.Normal => 1,
        JobPriority.High => 2,
        _ => 3,
    };

    public static JobPriority? PriorityOf(long legacy) => legacy switch
    {
        0 => JobPriority.Low,
        1 => JobPriority.Normal,
        2 => JobPriority.High,
        3 => JobPriority.Foreground,
        _ => null,
    };

    /// <summary>Engine codes translated to the QM_E_/E_ codes the 1.0 pages give (bits-spec §1.9); others pass through.</summary>
    public static int Translate(int hresult) => hresult switch
    {
        HResults.BG_E_NOT_FOUND => QM_E_ITEM_NOT_FOUND,
        HResults.BG_E_INVALID_STATE or HResults.BG_E_EMPTY => QM_E_INVALID_STATE,
        HResults.BG_E_STRING_TOO_LONG or HResults.BG_E_TOO_MANY_FILES_IN_JOB or HResults.BG_E_USERNAME_TOO_LARGE or HResults.BG_E_PASSWORD_TOO_LARGE => E_INVALIDARG,
        _ => hresult,
    };
}
