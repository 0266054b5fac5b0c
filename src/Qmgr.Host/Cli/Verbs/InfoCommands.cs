using System.CommandLine;
using System.Globalization;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr info JOB [--verbose]</c> and the single-value getters <c>getstate</c>, <c>geterror</c>, <c>getbytestotal</c>,
/// <c>getbytestransferred</c>, after bitsadmin <c>/info</c> and <c>/get*</c>. Final jobs (Acknowledged, Cancelled) are
/// found too. Getters print one plain value: the state name; the byte counts as whole numbers (<c>unknown</c> while a
/// file's size is not known; <c>--json</c>: null); <c>geterror</c> prints the error record on one line, or <c>no error</c>
/// with exit 0 when the job has none (BITS answers BG_E_ERROR_INFORMATION_UNAVAILABLE; here "no error" is an answer,
/// not a failure, so scripts can test the output).
/// </summary>
public static class InfoCommands
{
    public static Command Info(CliConnection connection)
    {
        var job = Args.Job();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "also print the job's properties" };
        return Verb.Create(connection, "info", "Show a job: state, progress, files, error, times (like bitsadmin /info)", job, verbose)
            .WithAction(connection, async (parse, qm, ct) =>
            {
                var found = await Resolve.JobAsync(qm, parse.GetValue(job)!, includeFinal: true, ct);
                var view = JobView.From(found.GroupState, found.Job);
                if (parse.GetValue(connection.Json)) Verb.WriteJson(view);
                else Print(view, parse.GetValue(verbose));
                return ExitCodes.Done;
            });
    }

    public static Command GetState(CliConnection connection) =>
        Getter(connection, "getstate", "Print a job's state (like bitsadmin /getstate)", j => j.State.ToString(), j => new { job = j.Id, state = j.State });

    public static Command GetBytesTotal(CliConnection connection) =>
        Getter(connection, "getbytestotal", "Print a job's total size in bytes (like bitsadmin /getbytestotal)",
            j => j.BytesTotal?.ToString(CultureInfo.InvariantCulture) ?? "unknown", j => new { job = j.Id, bytesTotal = j.BytesTotal });

    public static Command GetBytesTransferred(CliConnection connection) =>
        Getter(connection, "getbytestransferred", "Print the bytes a job has transferred (like bitsadmin /getbytestransferred)",
            j => j.BytesTransferred.ToString(CultureInfo.InvariantCulture), j => new { job = j.Id, bytesTransferred = j.BytesTransferred });

    public static Command GetError(CliConnection connection) =>
        Getter(connection, "geterror", "Print a job's error record, or 'no error' (like bitsadmin /geterror)",
            j => j.Error is null ? "no error" : Format.Failure(j), j => new { job = j.Id, error = ErrorView.From(j) });

    private static Command Getter(CliConnection connection, string name, string description, Func<Job, string> text, Func<Job, object> json)
    {
        var job = Args.Job();
        return Verb.Create(connection, name, description, job)
            .WithAction(connection, async (parse, qm, ct) =>
            {
                var found = await Resolve.JobAsync(qm, parse.GetValue(job)!, includeFinal: true, ct);
                if (parse.GetValue(connection.Json)) Verb.WriteJson(json(found.Job));
                else Console.WriteLine(text(found.Job));
                return ExitCodes.Done;
            });
    }

    private static string Time(DateTimeOffset? t) => t is { } v ? v.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture) : "-";

    private static void Print(JobView j, bool verbose)
    {
        var w = Console.Out;
        w.WriteLine($"job          {j.Job:D}");
        w.WriteLine($"group        {j.Group:D}");
        w.WriteLine($"display name {j.DisplayName}");
        w.WriteLine($"owner        {j.Owner}");
        w.WriteLine($"type         {j.Type}");
        w.WriteLine($"state        {j.State}");
        w.WriteLine($"priority     {j.Priority}");
        w.WriteLine($"progress     {Format.Progress(j.BytesTransferred, j.BytesTotal)}, files {j.FilesTransferred}/{j.FilesTotal}");
        if (j.Error is { } e)
        {
            w.WriteLine($"error        {e.Message}");
            w.WriteLine($"             code {e.Hresult}, context {e.Context}{(e.HttpStatus is int s ? $", HTTP {s}" : "")}" +
                        $"{(e.File is null ? "" : $", file {e.File}")}, errors so far {e.ErrorCount}");
        }
        if (j.RetryDueAt is { } due) w.WriteLine($"retry at     {Time(due)}");
        w.WriteLine($"created      {Time(j.CreationTime)}");
        w.WriteLine($"modified     {Time(j.ModificationTime)}");
        w.WriteLine($"transferred  {Time(j.TransferCompletionTime)}");
        if (verbose)
        {
            var p = j.Properties;
            w.WriteLine($"description  {p.Description}");
            w.WriteLine($"notify flags {p.NotifyFlags} (0x{p.NotifyFlags:X})");
            w.WriteLine($"min retry    {p.MinimumRetryDelaySeconds} s");
            w.WriteLine($"no progress  {p.NoProgressTimeoutSeconds} s");
            w.WriteLine($"max download {p.MaximumDownloadTimeSeconds} s");
            w.WriteLine($"security     0x{p.SecurityFlags:X}");
            w.WriteLine($"http method  {p.HttpMethod}");
            w.WriteLine($"headers      {(p.CustomHeaders ? "set (not shown)" : "none")}");
            w.WriteLine($"credentials  {(p.Credentials.Count == 0 ? "none" : string.Join(", ", p.Credentials))}");
            w.WriteLine($"proxy        {p.Proxy ?? "preconfig"}");
            w.WriteLine($"options      auto-complete {p.AutoComplete}, overwrite {p.Overwrite}, strict ranges {p.StrictRangeSupport}".ToLowerInvariant());
        }
        w.WriteLine($"files        {j.FilesTotal}");
        for (var i = 0; i < j.Files.Count; i++)
        {
            var f = j.Files[i];
            var state = f.Completed ? "completed" : f.Transferred ? "transferred" : "";
            w.WriteLine($"  [{i}] {f.RemoteName} -> {f.LocalName}");
            w.WriteLine($"      {Format.Progress(f.BytesTransferred, f.BytesTotal)}{(state.Length > 0 ? ", " + state : "")}");
        }
    }
}
