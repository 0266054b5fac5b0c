using System.Collections.Immutable;
using Qmgr.Api;
using Qmgr.Groups;

namespace Qmgr.Host.Service;

/// <summary>/api/v1/jobs/{jobId}/files: a job's files (BITS AddFileSet / AddFileWithRanges / EnumFiles / SetRemoteName).</summary>
public static class FileEndpoints
{
    public static RouteGroupBuilder MapFiles(this RouteGroupBuilder api)
    {
        var files = api.MapGroup("/jobs/{jobId}/files").WithTags("Files");

        files.MapGet("/", async (HttpContext http, string jobId, CancellationToken ct) =>
            TypedResults.Ok((await JobEndpoints.ResourceAsync(http, jobId, ct)).Files))
            .WithSummary("The job's files with per-file progress");

        files.MapPost("/", async (HttpContext http, string jobId, Client.AddFilesRequest request, CancellationToken ct) =>
        {
            if (request.Files is not { Count: > 0 }) return Problems.BadRequest("files: give at least one {remoteName, localName}");
            if (request.Files.Any(f => string.IsNullOrEmpty(f.RemoteName) || string.IsNullOrEmpty(f.LocalName)))
                return Problems.BadRequest("every file needs a remoteName (absolute http or https URL) and a localName (absolute path)");
            var job = await http.QueueManager().GetJobAsync(CallerContext.ParseId(jobId, "job"), ct);
            try
            {
                if (request.Files is [{ Ranges: { } ranges } one])
                    await job.AddFileWithRangesAsync(one.RemoteName, one.LocalName, ranges, ct);
                else if (request.Files.Any(f => f.Ranges is not null))
                    return Problems.BadRequest("a file with ranges must be added on its own (BITS AddFileWithRanges takes one file)");
                else
                    await job.AddFilesAsync(request.Files.Select(f => new GroupCommands.FileSpec(f.RemoteName, f.LocalName, f.Sha256)).ToImmutableList(), ct);
            }
            catch (QmgrException ex) when (ex.HResult == HResults.E_ACCESSDENIED)
            {
                // a target outside qmgr.paths.allowed-roots is bad input, not a missing permission of the token
                return Problems.From(ex, StatusCodes.Status400BadRequest);
            }
            return TypedResults.NoContent();
        }).WithSummary("Adds files, all or none (BITS AddFileSet); one file with ranges is AddFileWithRanges");

        files.MapPut("/{index:int}/remote-name", (HttpContext http, string jobId, int index, Client.RemoteNameRequest request, CancellationToken ct) =>
                JobEndpoints.VerbAsync(http, jobId, (j, c) => j.SetRemoteNameAsync(index, request.RemoteName ?? "", c), ct))
            .WithSummary("Changes the URL of a file not yet transferred (BITS SetRemoteName)");

        return api;
    }
}
