using System.CommandLine;
using Qmgr.Groups;
using Qmgr.Jobs;
using Serilog.Events;

namespace Qmgr.Host.Cli;

/// <summary>
/// <c>qmgr serve</c>: takes the data-directory lock, recovers every group from the journal and carries on every
/// unfinished job. With <c>--exit-when-idle</c> it exits once no job is queued, connecting, transferring or in a
/// transient error: 0 when none is in Error, else 1 with one line per job in Error.
/// </summary>
public static class ServeCommand
{
    public static Command Create(Option<string?> dataDirOption)
    {
        var exitWhenIdle = new Option<bool>("--exit-when-idle") { Description = "exit once recovery is over and no job is active" };
        var command = new Command("serve", "Run the queue manager on the data directory") { dataDirOption, exitWhenIdle };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(dataDirOption), parse.GetValue(exitWhenIdle), ct));
        return command;
    }

    private static async Task<int> RunAsync(string? dataDirOption, bool exitWhenIdle, CancellationToken invocation)
    {
        // SIGTERM (systemctl stop, docker stop) and SIGINT stop the service gracefully: unfinished jobs stay in the
        // journal and the next `serve` carries them on (Decision 10).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(invocation);
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        var cancellationToken = stop.Token;
        var dataDir = DataDirectory.Resolve(dataDirOption);
        return await QmgrHost.RunLockedAsync(dataDir, LogEventLevel.Information, async host =>
        {
            try
            {
                var qm = host.QueueManager();
                var ids = await qm.GetGroupIdsAsync(cancellationToken);
                foreach (var id in ids) await qm.GetGroupAsync(id, cancellationToken); // wakes and recovers the group
                Serilog.Log.Information("Recovered {Count} groups from {DataDirectory}", ids.Count, dataDir.Path);
                if (!exitWhenIdle)
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
                    Serilog.Log.Information("Stopping: unfinished jobs stay in {DataDirectory} for the next serve", dataDir.Path);
                    return ExitCodes.Done;
                }
                while (true)
                {
                    var groups = await Task.WhenAll(ids.Select(id => qm.GetGroupAsync(id, cancellationToken)));
                    var jobs = groups.SelectMany(g => g.Jobs).ToList();
                    if (!jobs.Any(j => j.State.IsActive()))
                    {
                        var failed = jobs.Where(j => j.State == JobState.Error).ToList();
                        foreach (var job in failed) Console.Error.WriteLine($"qmgr: job {job.Id:D}: {Format.Failure(job)}");
                        return failed.Count == 0 ? ExitCodes.Done : ExitCodes.Failed;
                    }
                    await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // a plain serve stopping is its normal end; --exit-when-idle stopped early was interrupted
                return exitWhenIdle
                    ? Program.Fail(ExitCodes.Interrupted, "stopped before the jobs were idle: they stay in the journal for the next serve")
                    : ExitCodes.Done;
            }
        });
    }
}
