using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>A job found by <see cref="Resolve"/>: its group, the group as read, the job as read, and the job's handle.</summary>
public sealed record FoundJob(IGroup Group, GroupState GroupState, Job Job, IJob Handle);

/// <summary>
/// Names the user types for jobs and groups: a full id (with or without dashes or braces) or an unambiguous prefix of
/// at least 4 hex digits, matched against the caller's groups (<see cref="IQueueManager.EnumGroupsAsync"/>) and their
/// jobs (<see cref="IGroup.GetStateAsync"/>). Nothing or several matches is a <see cref="CliError"/> (exit 2) naming exactly
/// what was typed.
/// </summary>
public static class Resolve
{
    /// <summary>The caller's groups with their state now, in creation order.</summary>
    public static async Task<IReadOnlyList<(IGroup Group, GroupState State)>> GroupsAsync(IQueueManager qm, CancellationToken ct)
    {
        var groups = await qm.EnumGroupsAsync(ct);
        var states = await Task.WhenAll(groups.Select(g => g.GetStateAsync(ct)));
        return groups.Zip(states).ToList();
    }

    /// <summary>
    /// The job <paramref name="text"/> names. <paramref name="includeFinal"/>: Acknowledged and Cancelled jobs match too
    /// (info and get* verbs); otherwise only unfinished jobs do, and a final job that alone matches is refused saying so.
    /// </summary>
    public static async Task<FoundJob> JobAsync(IQueueManager qm, string text, bool includeFinal, CancellationToken ct)
    {
        var hex = Hex(text, "job");
        var groups = await GroupsAsync(qm, ct);
        var matches = groups.SelectMany(g => g.State.Jobs.Where(j => j.Id.ToString("N").StartsWith(hex, StringComparison.Ordinal)).Select(j => (g.Group, g.State, Job: j))).ToList();
        var eligible = includeFinal ? matches : matches.Where(m => !m.Job.State.IsFinal()).ToList();
        switch (eligible.Count)
        {
            case 1:
                var (group, state, job) = eligible[0];
                return new FoundJob(group, state, job, await group.GetJobAsync(job.Id, ct));
            case 0 when matches.Count == 1:
                throw CliError.Usage($"job '{text}' is {matches[0].Job.State}: a final job cannot change");
            case 0 when matches.Count > 1:
                throw CliError.Usage($"no unfinished job matches '{text}' ({matches.Count} final jobs do)");
            case 0:
                throw CliError.Usage($"no job matches '{text}'");
            default:
                throw CliError.Usage($"'{text}' matches {eligible.Count} jobs ({string.Join(", ", eligible.Take(5).Select(m => m.Job.Id.ToString("D")))}" +
                                     $"{(eligible.Count > 5 ? ", ..." : "")}): type more of the id");
        }
    }

    /// <summary>The group <paramref name="text"/> names, among the caller's groups (cancelled groups are gone).</summary>
    public static async Task<(IGroup Group, GroupState State)> GroupAsync(IQueueManager qm, string text, CancellationToken ct)
    {
        var hex = Hex(text, "group");
        var matches = (await GroupsAsync(qm, ct)).Where(g => g.Group.Id.ToString("N").StartsWith(hex, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw CliError.Usage($"no group matches '{text}'"),
            _ => throw CliError.Usage($"'{text}' matches {matches.Count} groups ({string.Join(", ", matches.Take(5).Select(m => m.Group.Id.ToString("D")))}" +
                                      $"{(matches.Count > 5 ? ", ..." : "")}): type more of the id"),
        };
    }

    /// <summary>True when <paramref name="text"/> is an id or a prefix of one (see <see cref="Hex"/>) that matches <paramref name="id"/>.</summary>
    public static bool Matches(string text, Guid id) => TryHex(text, out var hex) && id.ToString("N").StartsWith(hex, StringComparison.Ordinal);

    /// <summary>The lower-case hex digits of an id or id prefix: dashes and braces dropped, 4 to 32 hex digits.</summary>
    public static string Hex(string text, string what) =>
        TryHex(text, out var hex) ? hex : throw CliError.Usage($"'{text}' is not a {what} id or a prefix of one (at least 4 hex digits)");

    private static bool TryHex(string text, out string hex)
    {
        hex = text.Trim().TrimStart('{').TrimEnd('}').Replace("-", "").ToLowerInvariant();
        return hex.Length is >= 4 and <= 32 && hex.All(Uri.IsHexDigit);
    }
}
