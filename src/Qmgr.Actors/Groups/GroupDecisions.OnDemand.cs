using System.Collections.Immutable;
using Qmgr.Jobs;
using Qmgr.Transport;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Groups;

// ON_DEMAND_MODE (IBackgroundCopyJob5) and IBackgroundCopyFile6 random access: bits-spec §2.9, §2.10, T25.
public static partial class GroupDecisions
{
    /// <summary>The journaled cause of T25 when an on-demand job's requested ranges are present and a file is not complete.</summary>
    public const string RequestedRangesTransferredCause = "requested ranges transferred";

    private static (CommandResult, IGroupEvent[]) DecideRequestFileRanges(Job job, RequestFileRanges request, DateTimeOffset now)
    {
        if (!job.Properties5.OnDemandMode)
            return Refused(HResults.BG_E_RANDOM_ACCESS_NOT_SUPPORTED, $"job {job.Id:D} is not ON_DEMAND_MODE: RequestFileRanges needs random access");
        if (request.FileIndex < 0 || request.FileIndex >= job.Files.Count)
            return Refused(HResults.E_INVALIDARG, $"no file {request.FileIndex} in job {job.Id:D}");
        if (request.Ranges is null || request.Ranges.IsEmpty)
            return Refused(HResults.E_INVALIDARG, "RequestFileRanges needs at least one range");
        var size = job.Files[request.FileIndex].BytesTotal;
        var ranges = ImmutableList.CreateBuilder<FileRange>();
        foreach (var r in request.Ranges)
        {
            if (r.InitialOffset < 0)
                return Refused(HResults.BG_E_INVALID_RANGE, $"range offset {(ulong)r.InitialOffset} is not a byte offset (BG_LENGTH_TO_EOF is only a length)");
            if (r.Length == 0 || (r.Length < 0 && !r.ToEndOfFile) || (!r.ToEndOfFile && r.InitialOffset > long.MaxValue - r.Length))
                return Refused(HResults.BG_E_INVALID_RANGE, $"range {r.InitialOffset}:{(ulong)r.Length}: the length must be > 0 (or BG_LENGTH_TO_EOF) and end before 2^63");
            if (size is { } total)
            {
                if (r.InitialOffset >= total || !r.ToEndOfFile && r.InitialOffset + r.Length > total)
                    return Refused(HResults.BG_E_INVALID_RANGE, $"range {r.InitialOffset}:{(r.ToEndOfFile ? "eof" : r.Length)} lies outside the {total}-byte file");
                ranges.Add(r.ToEndOfFile ? new FileRange(r.InitialOffset, total - r.InitialOffset) : r);
            }
            else
            {
                ranges.Add(r);
            }
        }
        return (CommandResult.Ok, [new FileRangesRequested(job.Id, request.FileIndex, ranges.ToImmutable(), now)]);
    }

    private static (CommandResult, IGroupEvent[]) DecideUpdateDownloadPosition(Job job, UpdateDownloadPosition update, DateTimeOffset now)
    {
        if (!job.Properties5.OnDemandMode)
            return Refused(HResults.BG_E_RANDOM_ACCESS_NOT_SUPPORTED, $"job {job.Id:D} is not ON_DEMAND_MODE: UpdateDownloadPosition needs random access");
        if (update.FileIndex < 0 || update.FileIndex >= job.Files.Count)
            return Refused(HResults.E_INVALIDARG, $"no file {update.FileIndex} in job {job.Id:D}");
        var file = job.Files[update.FileIndex];
        if (update.Offset < 0 || file.BytesTotal is { } size && update.Offset >= size && size > 0)
            return Refused(HResults.BG_E_INVALID_RANGE, $"download position {(ulong)update.Offset} lies outside the file ({file.BytesTotal?.ToString() ?? "size unknown"})");
        return file.RandomAccess.Position == update.Offset
            ? (CommandResult.NoOp, [])
            : (CommandResult.Ok, [new DownloadPositionUpdated(job.Id, update.FileIndex, update.Offset, now)]);
    }

    // T25: a transfer stopped because every requested range is present. The job goes Suspended unless more ranges were
    // requested meanwhile (the JobActor then fetches them) or every file is complete (the FileDone made it Transferred).
    private static IGroupEvent[] RequestedRangesFilledEvents(Job job, DateTimeOffset now) =>
        job.Files.Any(f => !f.Transferred && !f.RandomAccess.Requested.IsEmpty) || job.Files.All(f => f.Transferred)
            ? []
            : [new JobStateChanged(job.Id, job.State, JobState.Suspended, RequestedRangesTransferredCause, now)];

    private static (CommandResult, IGroupEvent[]) Refused(int hr, string message) => (CommandResult.Rejected(hr, message), []);
}
