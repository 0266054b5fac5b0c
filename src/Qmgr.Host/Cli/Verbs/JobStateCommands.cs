using System.CommandLine;
using Qmgr.Api;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr resume JOB</c>, <c>qmgr suspend JOB</c> and <c>qmgr complete JOB</c>, after bitsadmin <c>/resume</c>,
/// <c>/suspend</c> and <c>/complete</c>. Each prints one line with the job's state afterwards (<c>--json</c>:
/// <c>{job, state}</c>); <c>complete</c> says "partially completed" when BITS answers BG_S_PARTIAL_COMPLETE (some files
/// were not transferred and are dropped). A refusal of the model (e.g. BG_E_EMPTY, BG_E_INVALID_STATE) is exit 2.
/// </summary>
public static class JobStateCommands
{
    /// <summary>BG_S_PARTIAL_COMPLETE: Complete renamed only the files that were transferred.</summary>
    public const int PartialComplete = 0x00200017;

    public static Command Resume(CliConnection connection) =>
        Simple(connection, "resume", "Resume (start or restart) a job (like bitsadmin /resume)", "resumed", (job, ct) => job.ResumeAsync(ct));

    public static Command Suspend(CliConnection connection) =>
        Simple(connection, "suspend", "Suspend a job (like bitsadmin /suspend)", "suspended", (job, ct) => job.SuspendAsync(ct));

    public static Command Complete(CliConnection connection)
    {
        var job = Args.Job();
        return Verb.Create(connection, "complete", "Complete a transferred job: rename its files into place (like bitsadmin /complete)", job)
            .WithAction(connection, async (parse, qm, ct) =>
            {
                var found = await Resolve.JobAsync(qm, parse.GetValue(job)!, includeFinal: false, ct);
                var hr = await found.Handle.CompleteAsync(ct);
                var partial = hr == PartialComplete;
                if (parse.GetValue(connection.Json)) Verb.WriteJson(new { job = found.Job.Id, hresult = $"0x{hr:X8}", partial });
                else Console.WriteLine(partial
                    ? $"job {found.Job.Id:D} partially completed (code 0x{hr:X8}): only the transferred files were renamed into place"
                    : $"job {found.Job.Id:D} completed");
                return ExitCodes.Done;
            });
    }

    private static Command Simple(CliConnection connection, string name, string description, string done, Func<IJob, CancellationToken, Task> act)
    {
        var job = Args.Job();
        return Verb.Create(connection, name, description, job)
            .WithAction(connection, async (parse, qm, ct) =>
            {
                var found = await Resolve.JobAsync(qm, parse.GetValue(job)!, includeFinal: false, ct);
                await act(found.Handle, ct);
                var now = await found.Handle.GetAsync(ct);
                if (parse.GetValue(connection.Json)) Verb.WriteJson(new { job = now.Id, state = now.State });
                else Console.WriteLine($"{done} job {now.Id:D} ({now.State})");
                return ExitCodes.Done;
            });
    }
}
