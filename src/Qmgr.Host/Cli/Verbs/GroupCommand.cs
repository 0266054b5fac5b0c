using System.CommandLine;
using System.Globalization;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr group create|list|info|suspend|resume|cancel|set</c>: the caller's groups (BITS 1.0 <c>IBackgroundCopyGroup</c>).
/// <c>suspend</c> / <c>resume</c> act on every unfinished job of the group; <c>cancel</c> cancels the group itself
/// (its unfinished jobs are cancelled and the group is gone); <c>set GROUP PROPERTY VALUE</c> takes a
/// <see cref="GroupProperty"/> name, case-insensitive (MaxBytesPerSecond accepts K/M/G suffixes, Priority a priority name).
/// </summary>
public static class GroupCommand
{
    public static Command Create(CliConnection connection)
    {
        var group = new Command("group", "Create, list, show and change groups of jobs");
        group.Subcommands.Add(CreateGroup(connection));
        group.Subcommands.Add(List(connection));
        group.Subcommands.Add(Info(connection));
        group.Subcommands.Add(ForEachJob(connection, "suspend", "Suspend every unfinished job of a group", "suspended", (j, ct) => j.SuspendAsync(ct)));
        group.Subcommands.Add(ForEachJob(connection, "resume", "Resume every unfinished job of a group", "resumed", (j, ct) => j.ResumeAsync(ct)));
        group.Subcommands.Add(Cancel(connection));
        group.Subcommands.Add(Set(connection));
        return group;
    }

    private static Command CreateGroup(CliConnection connection)
    {
        var name = new Argument<string>("NAME") { Description = "display name of the group" };
        var priority = new Option<string?>("--priority") { Description = "foreground, high, normal or low: the default of its new jobs (default normal)" };
        var maxBandwidth = new Option<string?>("--max-bandwidth") { Description = "the group's cap in bytes per second, K/M/G suffixes (0 = none)" };
        return Verb.Create(connection, "create", "Create a group; prints its id", name, priority, maxBandwidth)
            .WithAction(connection,
                parse => (parse.GetValue(priority) is { } p ? CliValues.Priority(p) : JobPriority.Normal,
                          parse.GetValue(maxBandwidth) is { } b ? CliValues.Size(b, "--max-bandwidth") : 0L),
                async (parse, qm, input, ct) =>
                {
                    var g = await qm.CreateGroupAsync(parse.GetValue(name)!, input.Item1, input.Item2, cancellationToken: ct);
                    if (parse.GetValue(connection.Json)) Verb.WriteJson(new { group = g.Id });
                    else Console.WriteLine(g.Id.ToString("D"));
                    return ExitCodes.Done;
                });
    }

    private static Command List(CliConnection connection)
    {
        var allUsers = new Option<bool>("--all-users") { Description = "every owner's groups (administrator)" };
        return Verb.Create(connection, "list", "List the caller's groups (every one, also those whose jobs are all final)", allUsers)
            .WithAction(connection, async (parse, qm, ct) =>
            {
                var groups = await Resolve.GroupsAsync(qm, ct);
                if (parse.GetValue(connection.Json))
                {
                    Verb.WriteJson(groups.Select(g => GroupView.From(g.State, g.State.Jobs)).ToList());
                    return ExitCodes.Done;
                }
                foreach (var (_, g) in groups)
                {
                    var unfinished = g.Jobs.Count(j => !j.State.IsFinal());
                    Console.WriteLine($"{g.Id:D}  {GroupView.DerivedState(g.Jobs),-14} jobs {unfinished} unfinished / {g.Jobs.Count}  {g.Priority,-10} " +
                                      $"cap {(g.MaxBytesPerSecond == 0 ? "none" : Format.Bytes(g.MaxBytesPerSecond) + "/s")}  {g.DisplayName}" +
                                      (parse.GetValue(allUsers) ? $"  owner {g.Owner}" : ""));
                }
                if (groups.Count == 0) Console.WriteLine("no groups");
                return ExitCodes.Done;
            }, administrator: parse => parse.GetValue(allUsers));
    }

    private static Command Info(CliConnection connection)
    {
        var id = Args.Group("ID");
        return Verb.Create(connection, "info", "Show a group: properties and every job", id)
            .WithAction(connection, async (parse, qm, ct) =>
            {
                var (group, g) = await Resolve.GroupAsync(qm, parse.GetValue(id)!, ct);
                var view = GroupView.From(g, g.Jobs) with { Node = await group.GetNodeAsync(ct) };
                if (parse.GetValue(connection.Json))
                {
                    Verb.WriteJson(view);
                    return ExitCodes.Done;
                }
                Console.WriteLine($"group        {g.Id:D}");
                Console.WriteLine($"display name {g.DisplayName}");
                Console.WriteLine($"description  {g.Description}");
                Console.WriteLine($"owner        {g.Owner}");
                Console.WriteLine($"state        {view.State}");
                Console.WriteLine($"priority     {g.Priority}");
                Console.WriteLine($"max bytes/s  {(g.MaxBytesPerSecond == 0 ? "0 (no cap)" : $"{g.MaxBytesPerSecond} ({Format.Bytes(g.MaxBytesPerSecond)}/s)")}");
                Console.WriteLine($"created      {g.CreationTime.ToLocalTime():yyyy-MM-dd HH:mm:ss zzz}");
                Console.WriteLine($"node         {view.Node ?? "-"}");
                Console.WriteLine($"progress     {Format.Progress(view.BytesTransferred, view.BytesTotal)}");
                Console.WriteLine($"jobs         {g.Jobs.Count}");
                foreach (var j in view.Jobs) Console.WriteLine($"  job {j.Job:D}  {j.State,-14} {ListCommand.JobSummary(j)}");
                return ExitCodes.Done;
            });
    }

    private static Command ForEachJob(CliConnection connection, string name, string description, string done, Func<IJob, CancellationToken, Task> act)
    {
        var id = Args.Group("ID");
        return Verb.Create(connection, name, description, id)
            .WithAction(connection, async (parse, qm, ct) =>
            {
                var (group, g) = await Resolve.GroupAsync(qm, parse.GetValue(id)!, ct);
                var json = parse.GetValue(connection.Json);
                var results = new List<object>();
                var refused = 0;
                foreach (var job in g.Jobs.Where(j => !j.State.IsFinal()))
                {
                    try
                    {
                        await act(await group.GetJobAsync(job.Id, ct), ct);
                        results.Add(new { job = job.Id, ok = true, error = (string?)null });
                        if (!json) Console.WriteLine($"{done} job {job.Id:D} ({job.DisplayName})");
                    }
                    catch (QmgrException e)
                    {
                        refused++;
                        results.Add(new { job = job.Id, ok = false, error = (string?)$"{e.Message} (code 0x{e.HResult:X8})" });
                        if (!json) Console.Error.WriteLine($"qmgr: job {job.Id:D} ({job.DisplayName}): {e.Message} (code 0x{e.HResult:X8})");
                    }
                }
                if (json) Verb.WriteJson(new { group = g.Id, jobs = results });
                else if (results.Count == 0) Console.WriteLine($"group {g.Id:D} has no unfinished job");
                return refused == 0 ? ExitCodes.Done : ExitCodes.Usage;
            });
    }

    private static Command Cancel(CliConnection connection)
    {
        var id = Args.Group("ID");
        return Verb.Create(connection, "cancel", "Cancel a group: its unfinished jobs are cancelled and the group is gone", id)
            .WithAction(connection, async (parse, qm, ct) =>
            {
                var (group, g) = await Resolve.GroupAsync(qm, parse.GetValue(id)!, ct);
                await group.CancelAsync(ct);
                var cancelled = g.Jobs.Count(j => !j.State.IsFinal());
                if (parse.GetValue(connection.Json)) Verb.WriteJson(new { group = g.Id, cancelledJobs = cancelled });
                else Console.WriteLine($"cancelled group {g.Id:D} ({g.DisplayName}, {cancelled} unfinished job{(cancelled == 1 ? "" : "s")} cancelled)");
                return ExitCodes.Done;
            });
    }

    private static Command Set(CliConnection connection)
    {
        var id = Args.Group("ID");
        var property = new Argument<string>("PROPERTY") { Description = string.Join(", ", Enum.GetNames<GroupProperty>()) + " (case-insensitive)" };
        var value = new Argument<string>("VALUE") { Description = "the new value (MaxBytesPerSecond: K/M/G suffixes; Priority: foreground, high, normal or low)" };
        return Verb.Create(connection, "set", "Set a group property", id, property, value)
            .WithAction(connection, parse =>
            {
                var p = CliValues.Name<GroupProperty>(parse.GetValue(property)!, "PROPERTY");
                var text = parse.GetValue(value)!;
                return (p, p switch
                {
                    GroupProperty.MaxBytesPerSecond => CliValues.Size(text, "MaxBytesPerSecond").ToString(CultureInfo.InvariantCulture),
                    GroupProperty.Priority => CliValues.Priority(text).ToString(),
                    GroupProperty.NotifyFlags => CliValues.Integer(text, "NotifyFlags").ToString(CultureInfo.InvariantCulture),
                    _ => text,
                });
            }, async (parse, qm, input, ct) =>
            {
                var (p, text) = input;
                var (group, _) = await Resolve.GroupAsync(qm, parse.GetValue(id)!, ct);
                await group.SetPropertyAsync(p, text, ct);
                if (parse.GetValue(connection.Json)) Verb.WriteJson(new { group = group.Id, property = p.ToString(), value = text });
                else Console.WriteLine($"group {group.Id:D}: {p} = {text}");
                return ExitCodes.Done;
            });
    }
}
