using Qmgr.Api;
using Qmgr.Client;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Host.Service;

/// <summary>/api/v1/groups: the caller's groups (BITS 1.0 groups; every owner's for an administrator).</summary>
public static class GroupEndpoints
{
    public static RouteGroupBuilder MapGroups(this RouteGroupBuilder api)
    {
        var groups = api.MapGroup("/groups").WithTags("Groups");

        groups.MapGet("/", async (HttpContext http, bool? includeFinal, CancellationToken ct) =>
        {
            var qm = http.QueueManager();
            var resources = await Task.WhenAll((await qm.EnumGroupsAsync(ct)).Select(g => ResourceAsync(g, includeFinal ?? false, ct)));
            return TypedResults.Ok(resources.ToList());
        }).WithSummary("The caller's groups with their unfinished jobs (all jobs with includeFinal=true) and the node running each");

        groups.MapPost("/", async (HttpContext http, CreateGroupRequest request, CancellationToken ct) =>
        {
            if (request.DisplayName is null) return Problems.BadRequest("displayName is required (BITS CreateGroup takes a display name)");
            var group = await http.QueueManager().CreateGroupAsync(request.DisplayName, request.Priority ?? JobPriority.Normal,
                request.MaxBytesPerSecond ?? 0, request.Id, ct);
            return (IResult)TypedResults.Created($"/api/v1/groups/{group.Id:D}", await ResourceAsync(group, includeFinalJobs: true, ct));
        }).WithSummary("Creates a group owned by the caller");

        groups.MapGet("/{groupId}", async (HttpContext http, string groupId, CancellationToken ct) =>
            TypedResults.Ok(await ResourceAsync(await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct), includeFinalJobs: true, ct)))
            .WithSummary("A group, all its jobs and the node running it");

        groups.MapDelete("/{groupId}", async (HttpContext http, string groupId, CancellationToken ct) =>
        {
            await (await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct)).CancelAsync(ct);
            return TypedResults.NoContent();
        }).WithSummary("Cancels the group: its unfinished jobs are cancelled (temp files deleted), then it is gone");

        groups.MapPut("/{groupId}/properties/{property}", async (HttpContext http, string groupId, string property, SetPropertyRequest request, CancellationToken ct) =>
        {
            if (!Enum.TryParse<GroupProperty>(property, ignoreCase: true, out var p) || !Enum.IsDefined(p))
                return Problems.BadRequest($"unknown group property {property} (one of {string.Join(", ", Enum.GetNames<GroupProperty>())})");
            await (await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct)).SetPropertyAsync(p, request.Value ?? "", ct);
            return TypedResults.NoContent();
        }).WithSummary("Sets a group property (value as invariant text); a priority applies to the unfinished jobs too");

        groups.MapPut("/{groupId}/credentials", async (HttpContext http, string groupId, GroupCredentialsRequest request, CancellationToken ct) =>
        {
            await (await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct)).SetCredentialsAsync(request.UserName, request.Password, ct);
            return TypedResults.NoContent();
        }).WithSummary("Sets (both null: clears) the group's Basic server credentials; write-only");

        groups.MapPut("/{groupId}/webhook", async (HttpContext http, string groupId, WebhookRequest request, CancellationToken ct) =>
        {
            if (string.IsNullOrEmpty(request.Url)) return Problems.BadRequest("url: give the webhook's absolute http or https URL (DELETE clears it)");
            var group = await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct);
            var secret = await group.SetWebhookAsync(request.Url, request.Secret, ct);
            return TypedResults.Ok(new WebhookResponse(request.Url, secret!));
        }).WithSummary("Sets the group's webhook; answers its HMAC secret this once (X-Qmgr-Signature: sha256=HMAC-SHA256(body, secret))");

        groups.MapDelete("/{groupId}/webhook", async (HttpContext http, string groupId, CancellationToken ct) =>
        {
            await (await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct)).SetWebhookAsync(null, null, ct);
            return TypedResults.NoContent();
        }).WithSummary("Clears the group's webhook (deliveries already due wait until one is set again)");

        groups.MapPost("/{groupId}/take-ownership", async (HttpContext http, string groupId, CancellationToken ct) =>
        {
            await (await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct)).TakeOwnershipAsync(ct);
            return TypedResults.NoContent();
        }).WithSummary("An administrator becomes the group's owner (BITS TakeOwnership)");

        groups.MapPost("/{groupId}/suspend", (HttpContext http, string groupId, CancellationToken ct) =>
            ForEachJobAsync(http, groupId, (job, c) => job.SuspendAsync(c), ct))
            .WithSummary("Suspends every unfinished job of the group");

        groups.MapPost("/{groupId}/resume", (HttpContext http, string groupId, CancellationToken ct) =>
            ForEachJobAsync(http, groupId, (job, c) => job.ResumeAsync(c), ct))
            .WithSummary("Resumes every unfinished job of the group that has files");

        groups.MapGet("/{groupId}/jobs", async (HttpContext http, string groupId, CancellationToken ct) =>
            TypedResults.Ok((await OpenAsync(http, groupId, ct)).ToResource(includeFinalJobs: false).Jobs))
            .WithSummary("The group's unfinished jobs (BITS enumerations leave Acknowledged and Cancelled jobs out)");

        groups.MapPost("/{groupId}/jobs", async (HttpContext http, string groupId, CreateJobRequest request, CancellationToken ct) =>
        {
            if (request.DisplayName is null) return Problems.BadRequest("displayName is required (BITS CreateJob takes a display name)");
            var group = await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct);
            var options = new JobOptions(request.AutoComplete ?? false, request.Overwrite ?? false, request.StrictRangeSupport ?? false);
            var job = await group.CreateJobAsync(request.DisplayName, request.Type ?? JobType.Download, options, request.Priority, request.Id, ct);
            var state = await group.GetStateAsync(ct);
            return (IResult)TypedResults.Created($"/api/v1/jobs/{job.Id:D}", state.FindJob(job.Id)!.ToResource(state));
        }).WithSummary("Creates a job in Suspended (BITS CreateJob)");

        return api;
    }

    /// <summary>The group as a resource with <c>node</c>: read first (which starts the group), then located.</summary>
    private static async Task<GroupResource> ResourceAsync(IGroup group, bool includeFinalJobs, CancellationToken ct)
    {
        var state = await group.GetStateAsync(ct);
        return state.ToResource(includeFinalJobs) with { Node = await group.GetNodeAsync(ct) };
    }

    private static async Task<GroupState> OpenAsync(HttpContext http, string groupId, CancellationToken ct) =>
        await (await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct)).GetStateAsync(ct);

    private static async Task<IResult> ForEachJobAsync(HttpContext http, string groupId, Func<IJob, CancellationToken, Task> action, CancellationToken ct)
    {
        var group = await http.QueueManager().GetGroupAsync(CallerContext.ParseId(groupId, "group"), ct);
        foreach (var job in await group.EnumJobsAsync(ct))
        {
            var state = await job.GetAsync(ct);
            if (state.Files.Count > 0) await action(job, ct);
        }
        return TypedResults.NoContent();
    }
}
