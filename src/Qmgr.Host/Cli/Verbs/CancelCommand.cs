using System.CommandLine;
using Qmgr.Api;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr cancel</c>, after <c>bitsadmin /cancel</c>: cancels the named jobs (a group id cancels every unfinished job of
/// that group, leaving the group), or with <c>--errors</c> every job in Error. Ids may be prefixes (at least 4 hex
/// digits). A cancelled job's temp files and uncompleted results are deleted (BITS Cancel, T19). It acts as an
/// administrator (every owner's jobs: in process, the owner of the data directory; on a service, an administrator
/// token). Exit codes: 0 done, 1 a job refused to be cancelled, 2 an id that matches no unfinished job or group, or
/// several (nothing is cancelled then), 3 data directory in use, store error or no service.
/// </summary>
public static class CancelCommand
{
    public static Command Create(CliConnection connection)
    {
        var errors = new Option<bool>("--errors") { Description = "cancel every job in the Error state" };
        var ids = new Argument<string[]>("ID") { Description = "job or group ids, or prefixes of them (as `qmgr list` prints them)", Arity = ArgumentArity.ZeroOrMore };
        var command = Verb.Create(connection, "cancel", "Cancel jobs (by job or group id, or every job in Error)", errors, ids);
        command.SetAction((parse, _) => Verb.Guard(() =>
        {
            var names = parse.GetValue(ids) ?? [];
            if (!parse.GetValue(errors) && names.Length == 0) throw CliError.Usage("name the job or group ids to cancel, or give --errors");
            foreach (var name in names) Resolve.Hex(name, "job or group");
            return Verb.RunAsync(connection, parse, (p, qm, ct) => RunAsync(connection, p, qm, p.GetValue(errors), names, ct), administrator: true);
        }));
        return command;
    }

    private static async Task<int> RunAsync(CliConnection connection, ParseResult parse, IQueueManager qm, bool errors, string[] names, CancellationToken ct)
    {
        var groups = await Resolve.GroupsAsync(qm, ct);
        var unfinished = groups.SelectMany(g => g.State.Jobs.Where(j => !j.State.IsFinal()).Select(j => (g.Group, Job: j))).ToList();
        var chosen = errors ? unfinished.Where(x => x.Job.State == JobState.Error).ToList() : [];
        var unmatched = new List<string>();
        foreach (var name in names)
        {
            var jobs = unfinished.Where(x => Resolve.Matches(name, x.Job.Id)).ToList();
            var ofGroups = groups.Where(g => Resolve.Matches(name, g.Group.Id)).ToList();
            if (jobs.Count + ofGroups.Count > 1)
                throw CliError.Usage($"'{name}' matches {jobs.Count} jobs and {ofGroups.Count} groups: type more of the id; nothing cancelled");
            var matched = jobs.Count == 1 ? jobs : unfinished.Where(x => ofGroups.Any(g => g.Group.Id == x.Group.Id)).ToList();
            if (matched.Count == 0) unmatched.Add(name);
            chosen.AddRange(matched.Where(m => !chosen.Any(c => c.Job.Id == m.Job.Id)));
        }
        if (unmatched.Count > 0)
            throw CliError.Usage($"no unfinished job or group {string.Join(", ", unmatched.Select(n => $"'{n}'"))} in {connection.Describe(parse)}; nothing cancelled");
        var json = parse.GetValue(connection.Json);
        var done = new List<object>();
        foreach (var (group, job) in chosen)
        {
            try
            {
                await (await group.GetJobAsync(job.Id, ct)).CancelAsync(ct);
            }
            catch (QmgrException e)
            {
                if (json) Verb.WriteJson(done);
                return Program.Fail(ExitCodes.Failed, $"job {job.Id:D}: {e.Message} (code 0x{e.HResult:X8})");
            }
            if (json) done.Add(new { job = job.Id, group = group.Id, displayName = job.DisplayName, was = job.State });
            else Console.WriteLine($"cancelled job {job.Id:D} ({job.DisplayName}, was {job.State})");
        }
        if (json) Verb.WriteJson(done);
        return ExitCodes.Done;
    }
}
