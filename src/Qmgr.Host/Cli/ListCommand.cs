using System.CommandLine;
using System.Text.Json;
using Qmgr.Persistence;

namespace Qmgr.Host.Cli;

/// <summary>
/// <c>qmgr list</c>: reads the store without the lock and without starting actors (Decision 13) and prints each
/// group: id, display name, derived state, jobs, bytes transferred / total. <c>--json</c> prints one JSON array.
/// </summary>
public static class ListCommand
{
    public static Command Create(Option<string?> dataDirOption)
    {
        var json = new Option<bool>("--json") { Description = "print JSON instead of a table" };
        var command = new Command("list", "List groups and jobs from the store (no lock, no actors)") { dataDirOption, json };
        command.SetAction(parse => Run(parse.GetValue(dataDirOption), parse.GetValue(json)));
        return command;
    }

    private static int Run(string? dataDirOption, bool json)
    {
        var dataDir = DataDirectory.Resolve(dataDirOption);
        IReadOnlyList<Groups.GroupState> groups;
        try
        {
            groups = new StoreReader(dataDir.DatabasePath).ReadGroups();
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or JsonException or IOException)
        {
            return Program.Fail(ExitCodes.DataDirectory, $"store error: {ex.Message}");
        }
        var rows = groups.Select(g => new
        {
            group = g.Id,
            displayName = g.DisplayName,
            owner = g.Owner,
            priority = g.Priority.ToString(),
            maxBytesPerSecond = g.MaxBytesPerSecond,
            state = DerivedState(g),
            jobs = g.Jobs.Select(j => new
            {
                job = j.Id, displayName = j.DisplayName, state = j.State.ToString(), priority = j.Priority.ToString(),
                files = j.Files.Count, filesTransferred = j.FilesTransferred, bytesTransferred = j.BytesTransferred, bytesTotal = j.BytesTotal,
                error = j.Error is null ? null : Format.Failure(j),
            }).ToList(),
            bytesTransferred = g.Jobs.Sum(j => j.BytesTransferred),
            bytesTotal = g.Jobs.Any(j => j.BytesTotal is null) ? (long?)null : g.Jobs.Sum(j => j.BytesTotal!.Value),
        }).ToList();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            return ExitCodes.Done;
        }
        foreach (var g in rows)
        {
            Console.WriteLine($"{g.group:D}  {g.state,-14} {Format.Bytes(g.bytesTransferred)} / {Format.Bytes(g.bytesTotal)}  jobs {g.jobs.Count}  {g.displayName}");
            foreach (var j in g.jobs)
                Console.WriteLine($"  job {j.job:D}  {j.state,-14} {Format.Bytes(j.bytesTransferred)} / {Format.Bytes(j.bytesTotal)}  files {j.filesTransferred}/{j.files}{(j.error is null ? "" : "  " + j.error)}");
        }
        if (rows.Count == 0) Console.WriteLine("no groups");
        return ExitCodes.Done;
    }

    /// <summary>
    /// The group's state as BITS 1.0 would summarise it: the "most active" state among its jobs
    /// (Transferring > Connecting > Queued > TransientError > Error > Suspended > Transferred > Acknowledged > Cancelled).
    /// </summary>
    internal static string DerivedState(Groups.GroupState g)
    {
        Jobs.JobState[] order =
        [
            Jobs.JobState.Transferring, Jobs.JobState.Connecting, Jobs.JobState.Queued, Jobs.JobState.TransientError, Jobs.JobState.Error,
            Jobs.JobState.Suspended, Jobs.JobState.Transferred, Jobs.JobState.Acknowledged, Jobs.JobState.Cancelled,
        ];
        var state = order.FirstOrDefault(s => g.Jobs.Any(j => j.State == s), (Jobs.JobState)(-1));
        return (int)state < 0 ? "Empty" : state.ToString();
    }
}
