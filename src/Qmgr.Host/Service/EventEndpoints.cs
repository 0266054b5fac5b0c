using Qmgr.Api;
using Qmgr.Client;

namespace Qmgr.Host.Service;

/// <summary>
/// /api/v1/events: server-sent events of the caller's jobs (every owner's for an administrator), of one group
/// (<c>?group=ID</c>) or of one job (<c>?job=ID</c>, whose first event is a <c>snapshot</c> of the job as it is). Each
/// event is a <see cref="JobEvent"/>; throttling and buffering as <see cref="EventFeed"/> says.
/// </summary>
public static class EventEndpoints
{
    public static RouteGroupBuilder MapEvents(this RouteGroupBuilder api)
    {
        api.MapGet("/events", async (HttpContext http, string? group, string? job, ServiceSettings settings, CancellationToken ct) =>
        {
            var qm = http.QueueManager();
            Guid? groupId = group is null ? null : CallerContext.ParseId(group, "group");
            Guid? jobId = job is null ? null : CallerContext.ParseId(job, "job");
            // 404 before the stream starts when the caller may not see the group or job
            if (groupId is { } g) await qm.GetGroupAsync(g, ct);
            var watched = jobId is { } j ? await qm.GetJobAsync(j, ct) : null;

            var feed = new EventFeed(settings.EventBuffer, settings.MinimumNotificationInterval,
                n => (groupId is null || n.GroupId == groupId) && (jobId is null || n.Job.Id == jobId), TimeProvider.System);
            var subscription = qm.Notifications.Subscribe(feed); // subscribed before the snapshot is read: nothing falls between
            http.RequestAborted.Register(subscription.Dispose);
            if (watched is not null)
            {
                var state = await watched.GetAsync(ct);
                feed.Enqueue(new JobEvent("snapshot", watched.GroupId, state.ToResource(watched.GroupId, watched.Owner)));
            }
            return TypedResults.ServerSentEvents(feed.ReadAllAsync(http.RequestAborted));
        }).WithTags("Events").WithSummary("Server-sent events: state changes, progress, finished files and errors of the caller's jobs");
        return api;
    }
}
