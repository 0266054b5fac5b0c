using System.Collections.Immutable;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Transport;

namespace Qmgr.Client;

/// <summary>
/// Domain state ↔ wire contracts, in one place: the service maps <see cref="GroupState"/> / <see cref="Job"/> to
/// resources; <see cref="HttpQueueManager"/> maps them back. What never goes on the wire (ciphertext of credentials and
/// custom headers, validators, upload sessions, on-demand maps) comes back empty.
/// </summary>
public static class ApiMapping
{
    /// <summary>The group as a resource; <paramref name="includeFinalJobs"/> false leaves Acknowledged and Cancelled jobs out (BITS enumerations).</summary>
    public static GroupResource ToResource(this GroupState g, bool includeFinalJobs = true)
    {
        var jobs = g.Jobs.Where(j => includeFinalJobs || !j.State.IsFinal()).Select(j => j.ToResource(g)).ToList();
        return new GroupResource(g.Id, g.DisplayName, g.Description, g.Owner, g.Priority, g.MaxBytesPerSecond, g.CreationTime,
            DerivedState(g), g.Jobs.Sum(j => j.BytesTransferred), g.Jobs.Any(j => j.BytesTotal is null) ? null : g.Jobs.Sum(j => j.BytesTotal!.Value),
            g.RemoteUserId, g.ProtectedCredentials is not null, g.Webhook?.Url, g.PendingDeliveries.Count, jobs);
    }

    /// <summary>The job of group <paramref name="g"/> as a resource.</summary>
    public static JobResource ToResource(this Job j, GroupState g) => ToResource(j, g.Id, g.Owner);

    /// <summary>The job as a resource.</summary>
    public static JobResource ToResource(this Job j, Guid groupId, string owner) => new(
        j.Id, groupId, owner, j.DisplayName, j.Description, j.Type, j.State, j.Priority, j.NotifyFlags,
        j.Options.AutoComplete, j.Options.Overwrite, j.Options.StrictRangeSupport,
        j.BytesTransferred, j.BytesTotal, j.FilesTransferred, j.Files.Count,
        j.Error is { } e ? e.ToResource() : null, j.ErrorCount,
        (long)j.MinimumRetryDelay.TotalSeconds, (long)j.NoProgressTimeout.TotalSeconds, (long)j.MaximumDownloadTime.TotalSeconds,
        j.CreationTime, j.ModificationTime, j.TransferCompletionTime, j.RetryDueAt,
        j.HttpMethod, j.ProtectedCustomHeaders is not null, j.CustomHeadersWriteOnly,
        j.Credentials.Select(c => new CredentialsKey(c.Target, c.Scheme)).ToList(),
        j.Files.Select((f, i) => new FileResource(i, f.RemoteName, f.LocalName, f.TempName, f.BytesTotal, f.BytesTransferred,
            f.Transferred, f.Completed, f.ExpectedSha256, f.Ranges)).ToList(),
        j.Reply is { } r ? new ReplyResource(r.FileName, r.BytesTotal, r.BytesTransferred) : null);

    /// <summary>The error record as a resource.</summary>
    public static ErrorResource ToResource(this JobError e) =>
        new(e.Context, BackgroundCopyError.ContextDescription(e.Context), e.HResult, $"0x{e.HResult:X8}", e.HttpStatus, e.Message, e.FileIndex);

    /// <summary>
    /// The group's state as BITS 1.0 would summarise it: the "most active" state among its jobs
    /// (Transferring > Connecting > Queued > TransientError > Error > Suspended > Transferred > Acknowledged > Cancelled), or <c>Empty</c>.
    /// </summary>
    public static string DerivedState(GroupState g)
    {
        JobState[] order =
        [
            JobState.Transferring, JobState.Connecting, JobState.Queued, JobState.TransientError, JobState.Error,
            JobState.Suspended, JobState.Transferred, JobState.Acknowledged, JobState.Cancelled,
        ];
        var state = order.FirstOrDefault(s => g.Jobs.Any(j => j.State == s), (JobState)(-1));
        return (int)state < 0 ? "Empty" : state.ToString();
    }

    /// <summary>A notification as a server-sent event.</summary>
    public static JobEvent ToEvent(this QmgrNotification n)
    {
        var job = n.Job.ToResource(n.GroupId, n.Owner);
        return n switch
        {
            QmgrNotification.StateChanged s => new JobEvent("state", n.GroupId, job, s.From, s.To),
            QmgrNotification.Progress => new JobEvent("progress", n.GroupId, job),
            QmgrNotification.Modified m => new JobEvent("modified", n.GroupId, job, Property: m.Property.ToString()),
            QmgrNotification.FileTransferred f => new JobEvent("file-transferred", n.GroupId, job, FileIndex: f.FileIndex),
            QmgrNotification.FileRangesTransferred r => new JobEvent("ranges-transferred", n.GroupId, job, FileIndex: r.FileIndex),
            _ => new JobEvent("modified", n.GroupId, job),
        };
    }

    /// <summary>The group back from the wire (jobs as <see cref="ToJob"/> gives them).</summary>
    public static GroupState ToState(this GroupResource g) =>
        new GroupState(g.Id, true, g.Owner, g.DisplayName, g.Description, g.Priority, g.MaxBytesPerSecond, g.CreationTime,
            g.Jobs.Select(ToJob).ToImmutableList()) { RemoteUserId = g.RemoteUserId };

    /// <summary>The job back from the wire. Credentials and custom headers come back as markers, never as secrets.</summary>
    public static Job ToJob(this JobResource j) => new(
        j.Id, j.DisplayName, j.Description, j.NotifyFlags, TimeSpan.FromSeconds(j.MaximumDownloadTimeSeconds), j.State, j.Priority,
        new JobOptions(j.AutoComplete, j.Overwrite, j.StrictRangeSupport),
        j.Files.Select(f => new JobFile(f.RemoteName, f.LocalName, f.TempName, f.BytesTotal, f.BytesTransferred, f.Transferred, f.Completed,
            Validators.None, f.ExpectedSha256, f.Ranges?.ToImmutableList())).ToImmutableList(),
        j.Error is { } e ? new JobError(e.Context, e.HResult, e.HttpStatus, e.Message, e.FileIndex) : null,
        j.ErrorCount, TimeSpan.FromSeconds(j.MinimumRetryDelaySeconds), TimeSpan.FromSeconds(j.NoProgressTimeoutSeconds),
        j.CreationTime, j.ModificationTime, j.TransferCompletionTime, j.RetryDueAt, null,
        j.Credentials.Select(c => new ProtectedCredentials(c.Target, c.Scheme, "")).ToImmutableList(),
        j.HasCustomHeaders ? "" : null,
        Type: j.Type, HttpMethod: j.HttpMethod, CustomHeadersWriteOnly: j.CustomHeadersWriteOnly,
        Reply: j.Reply is { } r ? new JobReply(r.FileName, null, null, r.BytesTotal, r.BytesTransferred) : null);
}
