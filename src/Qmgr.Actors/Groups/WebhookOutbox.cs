using System.Text.Json;
using System.Text.Json.Serialization;
using Qmgr.Jobs;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Groups;

/// <summary>
/// Which facts become webhook deliveries (pure: the actor appends them to the same journal write as the facts). A job's
/// notify flags select them, as they select BITS callbacks: <c>job-transferred</c> (BG_NOTIFY_JOB_TRANSFERRED),
/// <c>job-error</c> (BG_NOTIFY_JOB_ERROR) and <c>job-modification</c> (BG_NOTIFY_JOB_MODIFICATION: every other state change,
/// Complete, Cancel and property changes — not progress checkpoints, which would post every second);
/// BG_NOTIFY_DISABLE silences the job. Nothing is due while the group has no webhook.
/// </summary>
public static class WebhookOutbox
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The deliveries due for <paramref name="events"/> applied to <paramref name="before"/>; ids from <paramref name="newId"/>.</summary>
    public static IGroupEvent[] DeliveriesFor(GroupState before, IReadOnlyList<IGroupEvent> events, DateTimeOffset now, Func<Guid> newId)
    {
        if (before.Webhook is null && !events.Any(e => e is GroupWebhookSet)) return [];
        var due = new List<IGroupEvent>();
        var state = before;
        foreach (var e in events)
        {
            state = state.Apply(e);
            if (state.Webhook is not { } hook) continue;
            var (jobId, flag, kind) = e switch
            {
                JobStateChanged { To: JobState.Transferred } s => (s.JobId, NotifyFlags.JobTransferred, "job-transferred"),
                JobStateChanged { To: JobState.Error } s => (s.JobId, NotifyFlags.JobError, "job-error"),
                JobStateChanged s => (s.JobId, NotifyFlags.JobModification, "job-modification"),
                JobCompleted c => (c.JobId, NotifyFlags.JobModification, "job-modification"),
                JobCancelled c => (c.JobId, NotifyFlags.JobModification, "job-modification"),
                JobPropertyChanged p => (p.JobId, NotifyFlags.JobModification, "job-modification"),
                _ => (Guid.Empty, NotifyFlags.None, ""),
            };
            if (flag == NotifyFlags.None || state.FindJob(jobId) is not { } job) continue;
            if (job.NotifyFlags.HasFlag(NotifyFlags.Disable) || !job.NotifyFlags.HasFlag(flag)) continue;
            var id = newId();
            due.Add(new WebhookDeliveryDue(id, jobId, kind, hook.Url, Body(id, kind, state, job, now), now));
        }
        return [.. due];
    }

    /// <summary>The JSON body of a delivery: <c>{deliveryId, event, groupId, owner, job: {id, displayName, state, priority,
    /// bytesTransferred, bytesTotal, filesTransferred, filesTotal, error}, time}</c> (bytes; time ISO 8601 UTC).</summary>
    public static string Body(Guid deliveryId, string kind, GroupState group, Job job, DateTimeOffset now) => JsonSerializer.Serialize(new
    {
        deliveryId,
        @event = kind,
        groupId = group.Id,
        owner = group.Owner,
        job = new
        {
            id = job.Id,
            displayName = job.DisplayName,
            state = job.State,
            priority = job.Priority,
            bytesTransferred = job.BytesTransferred,
            bytesTotal = job.BytesTotal,
            filesTransferred = job.FilesTransferred,
            filesTotal = job.Files.Count,
            error = job.Error is { } e ? new { context = e.Context, hresult = e.HResult, code = $"0x{e.HResult:X8}", httpStatus = e.HttpStatus, message = e.Message, fileIndex = e.FileIndex } : null,
        },
        time = now.UtcDateTime,
    }, Json);
}
