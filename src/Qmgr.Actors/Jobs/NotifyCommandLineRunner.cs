using System.Diagnostics;
using Akka.Event;

namespace Qmgr.Jobs;

/// <summary>
/// Starts a job's notify command line (BITS <c>SetNotifyCmdLine</c>) when the job is Transferred (BG_NOTIFY_JOB_TRANSFERRED)
/// or enters Error (BG_NOTIFY_JOB_ERROR), unless BG_NOTIFY_DISABLE is set. Fire and forget, off the caller's thread;
/// the program's exit code is logged. BITS prefers a registered callback; Qmgr runs the command whenever it is set.
/// </summary>
public static class NotifyCommandLineRunner
{
    /// <summary>Starts the program when <paramref name="job"/>'s flags select <paramref name="state"/>; does nothing otherwise.</summary>
    public static void RunIfSelected(Job job, JobState state, ILoggingAdapter log)
    {
        if (job.NotifyCmdLine is not { } cmd || job.NotifyFlags.HasFlag(NotifyFlags.Disable)) return;
        var wanted = state == JobState.Transferred ? NotifyFlags.JobTransferred : NotifyFlags.JobError;
        if (!job.NotifyFlags.HasFlag(wanted)) return;
        _ = Task.Run(async () =>
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo(cmd.Program, cmd.Parameters ?? "") { UseShellExecute = false })
                    ?? throw new InvalidOperationException("the process did not start");
                await process.WaitForExitAsync().ConfigureAwait(false);
                log.Info("Job [{JobId}] notify command {Program} exited with {ExitCode}", job.Id, cmd.Program, process.ExitCode);
            }
            catch (Exception ex)
            {
                log.Warning("Job [{JobId}] notify command {Program} failed: {Reason}", job.Id, cmd.Program, ex.Message);
            }
        });
    }
}
