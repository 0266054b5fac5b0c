using System.Text.Json;
using System.Text.Json.Serialization;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>The CLI's <c>--json</c> output: camelCase names, enums as their names, indented, <c>-&gt;</c> and paths unescaped.</summary>
public static class CliJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Serialize(object value) => JsonSerializer.Serialize(value, value.GetType(), Options);
}

/// <summary>One file of a job as the CLI shows it (BG_FILE_INFO + BG_FILE_PROGRESS; bytesTotal null = size unknown).</summary>
public sealed record FileView(string RemoteName, string LocalName, long? BytesTotal, long BytesTransferred, bool Transferred, bool Completed, string? Sha256)
{
    public static FileView From(JobFile f) => new(f.RemoteName, f.LocalName, f.BytesTotal, f.BytesTransferred, f.Transferred, f.Completed, f.ExpectedSha256);
}

/// <summary>A job's error record (BITS IBackgroundCopyError): context, HRESULT as <c>0x…</c>, HTTP status, message, file, error count.</summary>
public sealed record ErrorView(string Context, string Hresult, int? HttpStatus, string Message, int? FileIndex, string? File, int ErrorCount, string Description)
{
    public static ErrorView? From(Job job) => job.Error is { } e
        ? new(e.Context.ToString(), $"0x{e.HResult:X8}", e.HttpStatus, e.Message, e.FileIndex,
            e.FileIndex is int i && i < job.Files.Count ? job.Files[i].LocalName : null, job.ErrorCount, Format.Failure(job))
        : null;
}

/// <summary>A job's settable properties (what <c>info --verbose</c> prints and the set* verbs change); no secret is ever shown.</summary>
public sealed record JobPropertiesView(
    string Description, int NotifyFlags, long MinimumRetryDelaySeconds, long NoProgressTimeoutSeconds, long MaximumDownloadTimeSeconds,
    int SecurityFlags, bool AutoComplete, bool Overwrite, bool StrictRangeSupport, string HttpMethod, bool CustomHeaders,
    IReadOnlyList<string> Credentials, string? Proxy)
{
    public static JobPropertiesView From(Job j) => new(
        j.Description, (int)j.NotifyFlags, (long)j.MinimumRetryDelay.TotalSeconds, (long)j.NoProgressTimeout.TotalSeconds,
        (long)j.MaximumDownloadTime.TotalSeconds, j.SecurityFlags, j.Options.AutoComplete, j.Options.Overwrite, j.Options.StrictRangeSupport,
        j.HttpMethod ?? "GET", j.ProtectedCustomHeaders is not null,
        j.Credentials.Select(c => $"{c.Target.ToString().ToLowerInvariant()} {c.Scheme.ToString().ToLowerInvariant()}").ToList(),
        j.Proxy is { } p ? $"{p.Usage}{(p.ProxyList is null ? "" : " " + p.ProxyList)}{(p.BypassList is null ? "" : " bypass " + p.BypassList)}" : null);
}

/// <summary>A job as <c>info --json</c>, <c>list --json</c> and <c>transfer --json</c> print it.</summary>
public sealed record JobView(
    Guid Job, Guid Group, string Owner, string DisplayName, JobType Type, JobState State, JobPriority Priority,
    long? BytesTotal, long BytesTransferred, int FilesTotal, int FilesTransferred, ErrorView? Error,
    DateTimeOffset CreationTime, DateTimeOffset ModificationTime, DateTimeOffset? TransferCompletionTime, DateTimeOffset? RetryDueAt,
    IReadOnlyList<FileView> Files, JobPropertiesView Properties)
{
    public static JobView From(GroupState g, Job j) => new(
        j.Id, g.Id, g.Owner, j.DisplayName, j.Type, j.State, j.Priority, j.BytesTotal, j.BytesTransferred, j.Files.Count, j.FilesTransferred,
        ErrorView.From(j), j.CreationTime, j.ModificationTime, j.TransferCompletionTime, j.State == JobState.TransientError ? j.RetryDueAt : null,
        j.Files.Select(FileView.From).ToList(), JobPropertiesView.From(j));
}

/// <summary>
/// A group as <c>list --json</c> and the group verbs print it; <see cref="Jobs"/> as the verb selected them.
/// <see cref="Node"/>: the cluster node running the group (<c>akka.tcp://qmgr@host:port</c>), given by <c>group info</c>
/// only (null elsewhere, and when no node runs it).
/// </summary>
public sealed record GroupView(
    Guid Group, string Owner, string DisplayName, string Description, JobPriority Priority, long MaxBytesPerSecond, string State,
    DateTimeOffset CreationTime, long BytesTransferred, long? BytesTotal, IReadOnlyList<JobView> Jobs, string? Node = null)
{
    public static GroupView From(GroupState g, IEnumerable<Job> jobs)
    {
        var list = jobs.ToList();
        return new(g.Id, g.Owner, g.DisplayName, g.Description, g.Priority, g.MaxBytesPerSecond, DerivedState(list), g.CreationTime,
            list.Sum(j => j.BytesTransferred), list.Any(j => j.BytesTotal is null) ? null : list.Sum(j => j.BytesTotal!.Value),
            list.Select(j => JobView.From(g, j)).ToList());
    }

    /// <summary>
    /// The group's state as BITS 1.0 would summarise it: the "most active" state among <paramref name="jobs"/>
    /// (Transferring > Connecting > Queued > TransientError > Error > Suspended > Transferred > Acknowledged > Cancelled),
    /// or Empty.
    /// </summary>
    public static string DerivedState(IReadOnlyCollection<Job> jobs)
    {
        JobState[] order =
        [
            JobState.Transferring, JobState.Connecting, JobState.Queued, JobState.TransientError, JobState.Error,
            JobState.Suspended, JobState.Transferred, JobState.Acknowledged, JobState.Cancelled,
        ];
        var state = order.FirstOrDefault(s => jobs.Any(j => j.State == s), (JobState)(-1));
        return (int)state < 0 ? "Empty" : state.ToString();
    }
}
