using System.CommandLine;
using Qmgr.Groups;
using Qmgr.Jobs;
using Serilog.Events;

namespace Qmgr.Host.Cli;

/// <summary>
/// <c>qmgr cancel</c>, after <c>bitsadmin /cancel</c>: takes the data-directory lock, starts the node and cancels the
/// named jobs (a group id cancels every unfinished job of that group), or with <c>--errors</c> every job in Error. A
/// cancelled job's temp files and uncompleted results are deleted (BITS Cancel, T19). The process that holds the
/// data directory acts as its administrator, so any owner's job can be cancelled. Exit codes: 0 done, 2 an id matches
/// no unfinished job or group (nothing is cancelled then), 3 data directory in use or store error.
/// </summary>
public static class CancelCommand
{
    public static Command Create(Option<string?> dataDirOption)
    {
        var errors = new Option<bool>("--errors") { Description = "cancel every job in the Error state" };
        var ids = new Argument<Guid[]>("ID") { Description = "job or group ids (as `qmgr list` prints them)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("cancel", "Cancel jobs (by job or group id, or every job in Error)") { dataDirOption, errors, ids };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(dataDirOption), parse.GetValue(errors), parse.GetValue(ids) ?? [], ct));
        return command;
    }

    private static async Task<int> RunAsync(string? dataDirOption, bool errors, Guid[] ids, CancellationToken cancellationToken)
    {
        if (!errors && ids.Length == 0) return Program.Fail(ExitCodes.Usage, "name the job or group ids to cancel, or give --errors");
        var dataDir = DataDirectory.Resolve(dataDirOption);
        return await QmgrHost.RunLockedAsync(dataDir, LogEventLevel.Warning, async host =>
        {
            var qm = host.QueueManager();
            var groups = await Task.WhenAll((await qm.GetGroupIdsAsync(cancellationToken)).Select(id => qm.GetGroupAsync(id, cancellationToken)));
            var chosen = groups.SelectMany(g => g.Jobs.Where(j => !j.State.IsFinal()).Select(j => (Group: g, Job: j)))
                .Where(x => errors && x.Job.State == JobState.Error || ids.Contains(x.Job.Id) || ids.Contains(x.Group.Id))
                .ToList();
            var unmatched = ids.Where(id => !chosen.Any(x => x.Job.Id == id || x.Group.Id == id)).ToList();
            if (unmatched.Count > 0)
                return Program.Fail(ExitCodes.Usage, $"no unfinished job or group {string.Join(", ", unmatched.Select(id => id.ToString("D")))} in {dataDir.Path}; nothing cancelled");
            foreach (var (group, job) in chosen)
            {
                var result = await qm.SendAsync(new GroupCommands.CancelJob(group.Id, group.Owner, job.Id), cancellationToken);
                if (result.Code == ResultCode.Rejected) return Program.Fail(ExitCodes.Failed, $"job {job.Id:D}: {result.Message}");
                Console.WriteLine($"cancelled job {job.Id:D} ({job.DisplayName}, was {job.State})");
            }
            return ExitCodes.Done;
        });
    }
}
