using System.CommandLine;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr create NAME</c>, after <c>bitsadmin /create</c>: a job in Suspended, in a new group named NAME unless
/// <c>--group</c> names one of the caller's groups. Prints the job id (<c>--json</c>: <c>{group, job}</c>).
/// </summary>
public static class CreateCommand
{
    public static Command Create(CliConnection connection)
    {
        var name = new Argument<string>("NAME") { Description = "display name of the job (and of the new group)" };
        var group = new Option<string?>("--group") { Description = "an existing group's id (or a prefix of it) instead of a new group" };
        var priority = new Option<string?>("--priority") { Description = "foreground, high, normal or low (default: the group's, normal for a new group)" };
        var type = new Option<string>("--type") { Description = "download, upload or upload-reply", DefaultValueFactory = _ => "download" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Complete may replace existing local files" };
        return Verb.Create(connection, "create", "Create a job in Suspended (like bitsadmin /create)", name, group, priority, type, overwrite)
            .WithAction(connection, parse => (CliValues.Type(parse.GetValue(type)!), parse.GetValue(priority) is { } p ? CliValues.Priority(p) : (JobPriority?)null),
                async (parse, qm, input, ct) =>
            {
                var (jobType, jobPriority) = input;
                var displayName = parse.GetValue(name)!;
                var container = parse.GetValue(group) is { } g
                    ? (await Resolve.GroupAsync(qm, g, ct)).Group
                    : await qm.CreateGroupAsync(displayName, jobPriority ?? JobPriority.Normal, cancellationToken: ct);
                var job = await container.CreateJobAsync(displayName, jobType, new JobOptions(Overwrite: parse.GetValue(overwrite)), jobPriority, cancellationToken: ct);
                if (parse.GetValue(connection.Json)) Verb.WriteJson(new { group = container.Id, job = job.Id });
                else Console.WriteLine(job.Id.ToString("D"));
                return ExitCodes.Done;
            });
    }
}
