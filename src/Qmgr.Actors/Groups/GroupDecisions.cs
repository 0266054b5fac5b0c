using System.Collections.Immutable;
using Qmgr.Jobs;
using Qmgr.Transport;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Groups;

/// <summary>
/// Pure decisions of the BITS model: given the state, a command and the time, the reply and the events to persist.
/// No I/O (Complete's renames happen in <see cref="GroupActor"/> before its events are decided).
/// </summary>
public static class GroupDecisions
{
    /// <summary>Longest display name (BITS <c>SetDisplayName</c>: 256 characters).</summary>
    public const int MaxDisplayNameLength = 256;

    public static (CommandResult Result, IGroupEvent[] Events) Decide(this GroupState state, IGroupCommand command, DateTimeOffset now, QmgrSettings settings)
    {
        if (command is CreateGroup create)
        {
            if (state.Exists)
                return state.Owner == create.Caller && state.DisplayName == create.DisplayName
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Rejected(HResults.E_INVALIDARG, $"group {create.GroupId:D} already exists"), []);
            if (create.DisplayName.Length > MaxDisplayNameLength)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"display name longer than {MaxDisplayNameLength} characters"), []);
            if (create.MaxBytesPerSecond < 0)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, "max bytes per second must be 0 (no cap) or positive"), []);
            return (CommandResult.Ok, [new GroupCreated(create.GroupId, create.Caller, create.DisplayName, create.Priority, create.MaxBytesPerSecond, now)]);
        }

        if (!state.Exists)
            return (CommandResult.Rejected(HResults.BG_E_NOT_FOUND, $"no group {command.GroupId:D}"), []);
        if (state.Owner != command.Caller)
            return (CommandResult.Rejected(HResults.E_ACCESSDENIED, $"group {command.GroupId:D} belongs to another owner"), []);

        if (command is CreateJob createJob)
        {
            if (state.FindJob(createJob.JobId) is not null)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"job {createJob.JobId:D} already exists"), []);
            if (createJob.DisplayName.Length > MaxDisplayNameLength)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"display name longer than {MaxDisplayNameLength} characters"), []);
            return (CommandResult.Ok, [new JobCreated(createJob.JobId, createJob.DisplayName, createJob.Priority ?? state.Priority,
                createJob.Options, settings.MinimumRetryDelay, settings.NoProgressTimeout, now)]);
        }

        var (job, rejected) = state.CheckJob(command);
        if (rejected is not null) return (rejected, []);
        var jobId = job!.Id;

        switch (command)
        {
            case AddFiles add:
                return DecideAddFiles(job, add, now);

            case ResumeJob:
                if (job.Files.IsEmpty)
                    return (CommandResult.Rejected(HResults.BG_E_EMPTY, $"job {jobId:D} has no files"), []);
                if (job.State is JobState.Queued or JobState.Connecting or JobState.Transferring)
                    return (CommandResult.NoOp, []);
                if (job.State == JobState.Transferred && job.NextFileIndex is null)
                    return (CommandResult.NoOp, []);
                return (CommandResult.Ok, [new JobStateChanged(jobId, job.State, JobState.Queued, "resumed", now)]);

            case SuspendJob:
                return job.State == JobState.Suspended
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new JobStateChanged(jobId, job.State, JobState.Suspended, "suspended", now)]);

            case CancelJob:
                return (CommandResult.Ok, [new JobCancelled(jobId, now)]);

            default:
                throw new InvalidOperationException($"{command.GetType().Name} is decided by the GroupActor (it needs I/O)");
        }
    }

    /// <summary>
    /// The job a job command names, or the rejection BITS gives: BG_E_NOT_FOUND (no group or job), E_ACCESSDENIED
    /// (another owner, Decision 11) or BG_E_INVALID_STATE (the job is Acknowledged or Cancelled).
    /// </summary>
    public static (Job? Job, CommandResult? Rejected) CheckJob(this GroupState state, IGroupCommand command)
    {
        if (!state.Exists)
            return (null, CommandResult.Rejected(HResults.BG_E_NOT_FOUND, $"no group {command.GroupId:D}"));
        if (state.Owner != command.Caller)
            return (null, CommandResult.Rejected(HResults.E_ACCESSDENIED, $"group {command.GroupId:D} belongs to another owner"));
        var jobId = command switch
        {
            AddFiles a => a.JobId,
            ResumeJob r => r.JobId,
            SuspendJob s => s.JobId,
            CancelJob c => c.JobId,
            CompleteJob c => c.JobId,
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a job command"),
        };
        var job = state.FindJob(jobId);
        if (job is null)
            return (null, CommandResult.Rejected(HResults.BG_E_NOT_FOUND, $"no job {jobId:D} in group {state.Id:D}"));
        if (job.State.IsFinal())
            return (null, CommandResult.Rejected(HResults.BG_E_INVALID_STATE, $"job {jobId:D} is {job.State}"));
        return (job, null);
    }

    private static (CommandResult, IGroupEvent[]) DecideAddFiles(Job job, AddFiles add, DateTimeOffset now)
    {
        if (add.Files.IsEmpty)
            return (CommandResult.Rejected(HResults.E_INVALIDARG, "no files given"), []);
        var files = ImmutableList.CreateBuilder<NewFile>();
        foreach (var f in add.Files)
        {
            if (!Uri.TryCreate(f.RemoteName, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"remote name is not an absolute http or https URL: {f.RemoteName}"), []);
            if (!Path.IsPathFullyQualified(f.LocalName) || Path.GetFileName(f.LocalName).Length == 0)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"local name is not an absolute file path: {f.LocalName}"), []);
            var local = Path.GetFullPath(f.LocalName);
            if (job.Files.Any(x => x.LocalName == local) || files.Any(x => x.LocalName == local))
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"local name is already used in this job: {local}"), []);
            files.Add(new NewFile(uri.AbsoluteUri, local, TempFiles.TempPathFor(local, TempSuffix(job.Id, job.Files.Count + files.Count))));
        }
        return (CommandResult.Ok, [new FilesAdded(job.Id, files.ToImmutable(), now)]);
    }

    /// <summary>Eight hex digits naming a file's temp file, derived from the job id and file index (stable across processes).</summary>
    public static string TempSuffix(Guid jobId, int fileIndex)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{jobId:N}/{fileIndex}"));
        return Convert.ToHexStringLower(hash, 0, 4);
    }
}
