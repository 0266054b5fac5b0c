using Qmgr.Api;
using Qmgr.Client;
using Qmgr.Jobs;

namespace Qmgr.Host.Service;

/// <summary>/api/v1/jobs: one job by its id (BITS GetJob), its verbs, properties, credentials and error record.</summary>
public static class JobEndpoints
{
    public static RouteGroupBuilder MapJobs(this RouteGroupBuilder api)
    {
        var jobs = api.MapGroup("/jobs").WithTags("Jobs");

        jobs.MapGet("/", async (HttpContext http, bool? includeFinal, CancellationToken ct) =>
        {
            var qm = http.QueueManager();
            var states = await Task.WhenAll((await qm.EnumGroupsAsync(ct)).Select(g => g.GetStateAsync(ct)));
            return TypedResults.Ok(states.SelectMany(s => s.ToResource(includeFinal ?? false).Jobs).ToList());
        }).WithSummary("Every job of the caller's groups, unfinished ones unless includeFinal=true");

        jobs.MapGet("/{jobId}", async (HttpContext http, string jobId, CancellationToken ct) =>
            TypedResults.Ok(await ResourceAsync(http, jobId, ct)))
            .WithSummary("A job: state, progress, files, error record, properties");

        jobs.MapDelete("/{jobId}", (HttpContext http, string jobId, CancellationToken ct) => VerbAsync(http, jobId, (j, c) => j.CancelAsync(c), ct))
            .WithSummary("Cancels the job (as POST …/cancel)");
        jobs.MapPost("/{jobId}/resume", (HttpContext http, string jobId, CancellationToken ct) => VerbAsync(http, jobId, (j, c) => j.ResumeAsync(c), ct))
            .WithSummary("Resume (BG_E_EMPTY without files)");
        jobs.MapPost("/{jobId}/suspend", (HttpContext http, string jobId, CancellationToken ct) => VerbAsync(http, jobId, (j, c) => j.SuspendAsync(c), ct))
            .WithSummary("Suspend");
        jobs.MapPost("/{jobId}/cancel", (HttpContext http, string jobId, CancellationToken ct) => VerbAsync(http, jobId, (j, c) => j.CancelAsync(c), ct))
            .WithSummary("Cancel: deletes temp files and results not yet completed");
        jobs.MapPost("/{jobId}/foreground", (HttpContext http, string jobId, CancellationToken ct) =>
                VerbAsync(http, jobId, (j, c) => j.SetPropertyAsync(JobProperty.Priority, nameof(JobPriority.Foreground), c), ct))
            .WithSummary("Switches the job to Foreground priority (bitsadmin /setpriority FOREGROUND)");

        jobs.MapPost("/{jobId}/complete", async (HttpContext http, string jobId, CancellationToken ct) =>
        {
            var hresult = await (await http.QueueManager().GetJobAsync(CallerContext.ParseId(jobId, "job"), ct)).CompleteAsync(ct);
            return TypedResults.Ok(new CompleteResponse(hresult, hresult != 0));
        }).WithSummary("Complete: renames the transferred files into place (BG_S_PARTIAL_COMPLETE when some were not transferred)");

        jobs.MapPut("/{jobId}/properties/{property}", async (HttpContext http, string jobId, string property, SetPropertyRequest request, CancellationToken ct) =>
        {
            if (!Enum.TryParse<JobProperty>(property, ignoreCase: true, out var p) || !Enum.IsDefined(p))
                return Problems.BadRequest($"unknown job property {property} (one of {string.Join(", ", Enum.GetNames<JobProperty>())})");
            return await VerbAsync(http, jobId, (j, c) => j.SetPropertyAsync(p, request.Value ?? "", c), ct);
        }).WithSummary("Sets a job property (value as invariant text, durations in whole seconds)");

        jobs.MapGet("/{jobId}/error", async (HttpContext http, string jobId, CancellationToken ct) =>
        {
            var error = await (await http.QueueManager().GetJobAsync(CallerContext.ParseId(jobId, "job"), ct)).GetErrorAsync(ct);
            return TypedResults.Ok(error.Record.ToResource());
        }).WithSummary("The error record (404 BG_E_ERROR_INFORMATION_UNAVAILABLE when the job has none)");

        jobs.MapPut("/{jobId}/credentials", (HttpContext http, string jobId, JobCredentialsRequest request, CancellationToken ct) =>
                VerbAsync(http, jobId, (j, c) => j.SetCredentialsAsync(request.Target, request.Scheme, request.UserName ?? "", request.Password ?? "", c), ct))
            .WithSummary("Sets credentials for (target, scheme); write-only, encrypted before they are journaled");

        jobs.MapDelete("/{jobId}/credentials/{target}/{scheme}", (HttpContext http, string jobId, string target, string scheme, CancellationToken ct) =>
        {
            if (!Enum.TryParse<AuthTarget>(target, true, out var t) || !Enum.IsDefined(t)) return Task.FromResult(Problems.BadRequest($"unknown credentials target {target} (Server or Proxy)"));
            if (!Enum.TryParse<AuthScheme>(scheme, true, out var s) || !Enum.IsDefined(s)) return Task.FromResult(Problems.BadRequest($"unknown authentication scheme {scheme}"));
            return VerbAsync(http, jobId, (j, c) => j.RemoveCredentialsAsync(t, s, c), ct);
        }).WithSummary("Removes the credentials for (target, scheme)");

        jobs.MapPut("/{jobId}/reply-file-name", (HttpContext http, string jobId, ReplyFileNameRequest request, CancellationToken ct) =>
                VerbAsync(http, jobId, (j, c) => j.SetReplyFileNameAsync(request.FileName ?? "", c), ct))
            .WithSummary("Names the reply file of an upload-reply job (BITS SetReplyFileName)");

        jobs.MapGet("/{jobId}/reply", async (HttpContext http, string jobId, CancellationToken ct) =>
        {
            var data = await (await http.QueueManager().GetJobAsync(CallerContext.ParseId(jobId, "job"), ct)).GetReplyDataAsync(ct);
            return TypedResults.Bytes(data, "application/octet-stream");
        }).WithSummary("The whole reply of a Transferred upload-reply job, at most 1 MiB (BITS GetReplyData)");

        jobs.MapPut("/{jobId}/custom-headers", (HttpContext http, string jobId, CustomHeadersRequest request, CancellationToken ct) =>
                VerbAsync(http, jobId, (j, c) => j.SetCustomHeadersAsync(request.Headers, c), ct))
            .WithSummary("Sets the custom header lines (null clears); never readable through the API");

        jobs.MapPost("/{jobId}/custom-headers/write-only", (HttpContext http, string jobId, CancellationToken ct) =>
                VerbAsync(http, jobId, (j, c) => j.MakeCustomHeadersWriteOnlyAsync(c), ct))
            .WithSummary("Makes the custom headers write-only for embedding callers too (BITS MakeCustomHeadersWriteOnly)");

        return api;
    }

    /// <summary>The job as a resource, through the caller's façade (404 for another owner's job).</summary>
    internal static async Task<JobResource> ResourceAsync(HttpContext http, string jobId, CancellationToken ct)
    {
        var job = await http.QueueManager().GetJobAsync(CallerContext.ParseId(jobId, "job"), ct);
        return (await job.GetAsync(ct)).ToResource(job.GroupId, job.Owner);
    }

    internal static async Task<IResult> VerbAsync(HttpContext http, string jobId, Func<IJob, CancellationToken, Task> verb, CancellationToken ct)
    {
        await verb(await http.QueueManager().GetJobAsync(CallerContext.ParseId(jobId, "job"), ct), ct);
        return TypedResults.NoContent();
    }
}
