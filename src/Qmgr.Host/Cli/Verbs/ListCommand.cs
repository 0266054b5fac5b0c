using System.CommandLine;
using System.Text.Json;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Persistence;
using Spectre.Console;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr list</c>, after <c>bitsadmin /list</c>: the caller's groups and their jobs, per job its id, state, progress,
/// files, display name, the next retry time in TransientError and the reason in Error. As BITS's enumerations do, final
/// jobs (Acknowledged, Cancelled) are left out, and so are groups that hold only final jobs; <c>--all</c> shows them.
/// <c>--all-users</c> lists every owner's groups (as an administrator). Reads through the running service, else an
/// in-process node; while another process that is not a service (a <c>qmgr transfer</c>) holds the data directory, the
/// store is read without the lock (Decision 13). A data directory without a store is exit 3 naming the missing store.
/// </summary>
public static class ListCommand
{
    public static Command Create(CliConnection connection)
    {
        var all = new Option<bool>("--all") { Description = "also list final jobs (Acknowledged, Cancelled)" };
        var allUsers = new Option<bool>("--all-users") { Description = "list every owner's groups (administrator)" };
        var command = Verb.Create(connection, "list", "List the caller's groups and jobs (like bitsadmin /list)", all, allUsers);
        command.SetAction((parse, _) => Verb.Guard(async () =>
        {
            var showAll = parse.GetValue(all);
            var everyone = parse.GetValue(allUsers);
            var json = parse.GetValue(connection.Json);
            if (connection.ServerOf(parse) is null && CliConnection.SharedStoreConnectionString() is { } shared)
                return Print(ReadWithoutLock(new Qmgr.Hosting.QmgrOptions { DataDirectory = connection.DataDirectoryOf(parse).Path, Store = Qmgr.Hosting.QmgrStore.Postgres, ConnectionString = shared }, everyone), showAll, everyone, json);
            if (connection.ServerOf(parse) is null)
            {
                var dataDir = connection.DataDirectoryOf(parse);
                if (!File.Exists(dataDir.DatabasePath))
                    throw new CliError(ExitCodes.DataDirectory, $"no store {dataDir.DatabasePath}: nothing was ever queued in this data directory");
                if (dataDir.IsLocked())
                    return Print(ReadWithoutLock(new Qmgr.Hosting.QmgrOptions { DataDirectory = dataDir.Path }, everyone), showAll, everyone, json);
            }
            return await Verb.RunAsync(connection, parse, async (_, qm, ct) =>
                Print((await Resolve.GroupsAsync(qm, ct)).Select(g => g.State).ToList(), showAll, everyone, json), administrator: everyone);
        }));
        return command;
    }

    // Decision 13: a read-only look at the store while another process (not a service) holds the data directory, or at
    // the shared store named by QMGR_CONNECTION_STRING when no node's API is given
    private static IReadOnlyList<GroupState> ReadWithoutLock(Qmgr.Hosting.QmgrOptions store, bool everyone)
    {
        try
        {
            return StoreReader.For(store).ReadGroups()
                .Where(g => !g.Cancelled && (everyone || g.Owner == Environment.UserName)).ToList();
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or JsonException or IOException)
        {
            throw new CliError(ExitCodes.DataDirectory, $"store error: {ex.Message}");
        }
    }

    private static int Print(IReadOnlyList<GroupState> groups, bool showAll, bool everyone, bool json)
    {
        var views = groups
            .Select(g => (State: g, Jobs: g.Jobs.Where(j => showAll || !j.State.IsFinal()).ToList()))
            .Where(g => showAll || g.Jobs.Count > 0 || g.State.Jobs.Count == 0)
            .Select(g => GroupView.From(g.State, g.Jobs))
            .ToList();
        if (json)
        {
            Verb.WriteJson(views);
            return ExitCodes.Done;
        }
        if (views.Count == 0)
        {
            Console.WriteLine(showAll ? "no groups" : "no groups with unfinished jobs (--all shows finished ones)");
            return ExitCodes.Done;
        }
        if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive) Table(views, everyone);
        else Plain(views, everyone);
        return ExitCodes.Done;
    }

    /// <summary>One job's line after its id and state: progress, files, display name, then the retry time or the reason.</summary>
    public static string JobSummary(JobView j) =>
        $"{Format.Progress(j.BytesTransferred, j.BytesTotal)}  files {j.FilesTransferred}/{j.FilesTotal}  {j.DisplayName}" +
        (j.State == JobState.TransientError && j.RetryDueAt is { } due ? $"  retry at {due.ToLocalTime():HH:mm:ss}" : "") +
        (j.Error is { } e && j.State is JobState.Error or JobState.TransientError ? $"  {e.Description}" : "");

    private static void Plain(IReadOnlyList<GroupView> views, bool everyone)
    {
        foreach (var g in views)
        {
            Console.WriteLine($"{g.Group:D}  {g.State,-14} {Format.Bytes(g.BytesTransferred)} / {Format.Bytes(g.BytesTotal)}  jobs {g.Jobs.Count}  {g.DisplayName}" +
                              (everyone ? $"  owner {g.Owner}" : ""));
            foreach (var j in g.Jobs)
                Console.WriteLine($"  job {j.Job:D}  {j.State,-14} {JobSummary(j)}");
        }
    }

    private static void Table(IReadOnlyList<GroupView> views, bool everyone)
    {
        var table = new Table().Border(TableBorder.Simple)
            .AddColumn(new TableColumn("id").NoWrap()).AddColumn(new TableColumn("state").NoWrap())
            .AddColumn(new TableColumn("progress").RightAligned().NoWrap()).AddColumn(new TableColumn("files").RightAligned().NoWrap())
            .AddColumn("name");
        foreach (var g in views)
        {
            table.AddRow(new Markup($"[bold]{g.Group:D}[/]"), new Text(g.State), new Text($"{Format.Bytes(g.BytesTransferred)} / {Format.Bytes(g.BytesTotal)}"),
                new Text($"jobs {g.Jobs.Count}"), new Markup($"[bold]{Markup.Escape(g.DisplayName)}[/]{(everyone ? $" [grey](owner {Markup.Escape(g.Owner)})[/]" : "")}"));
            foreach (var j in g.Jobs)
            {
                var note = j.State == JobState.TransientError && j.RetryDueAt is { } due ? $"\n[yellow]retry at {due.ToLocalTime():HH:mm:ss}[/]" : "";
                if (j.Error is { } e && j.State is JobState.Error or JobState.TransientError) note += $"\n[red]{Markup.Escape(e.Message)}[/]";
                table.AddRow(new Text($"  {j.Job:D}"), new Markup(StateMarkup(j.State)), new Text(Format.Progress(j.BytesTransferred, j.BytesTotal)),
                    new Text($"{j.FilesTransferred}/{j.FilesTotal}"), new Markup(Markup.Escape(j.DisplayName) + note));
            }
        }
        AnsiConsole.Write(table);
    }

    /// <summary>A job state in a colour that says how it is doing.</summary>
    public static string StateMarkup(JobState s) => s switch
    {
        JobState.Transferring or JobState.Connecting => $"[blue]{s}[/]",
        JobState.Transferred or JobState.Acknowledged => $"[green]{s}[/]",
        JobState.Error => $"[red]{s}[/]",
        JobState.TransientError => $"[yellow]{s}[/]",
        _ => s.ToString(),
    };
}
