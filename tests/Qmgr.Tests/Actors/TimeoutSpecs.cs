using Akka.Configuration;
using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Actors;

/// <summary>BITS's job timers on a live node: MaximumDownloadTime (T23) and the job inactivity timeout (T22).</summary>
public sealed class TimeoutSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_job_past_its_maximum_download_time_goes_to_error_with_BG_E_MAXDOWNLOAD_TIMEOUT()
    {
        // arrange: 1 MB trickled at 100 KB/s takes 10 s; the job may spend 1 s connecting and transferring
        await using var node = HostedQmgr.Start(_dir.File("data"));
        var qm = QueueManager.Create(node.System, "dave");
        var job = await (await qm.CreateGroupAsync("slow")).CreateJobAsync("slow");
        await job.SetPropertyAsync(JobProperty.MaximumDownloadTime, "1");
        await job.AddFilesAsync([(_server.Add("/slow.bin", LoopbackFileServer.Content(1_000_000, 51), new LoopbackFileOptions { TrickleBytesPerSecond = 100_000 }).ToString(), _dir.File("slow.bin"))]);

        // act
        await job.ResumeAsync();
        var failed = await job.WaitAsync(j => j.State == JobState.Error, new CancellationTokenSource(Deadline).Token);

        // assert
        Assert.Equal(unchecked((int)0x80200054), failed.Error!.HResult); // BG_E_MAXDOWNLOAD_TIMEOUT in bitsmsg.h
        Assert.InRange(failed.ActiveTime, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(9));
        Assert.True(failed.BytesTransferred < 1_000_000);
    }

    [Fact]
    public async Task A_job_left_untouched_past_the_inactivity_timeout_is_cancelled_and_its_temp_file_deleted()
    {
        // arrange: a 2 s inactivity timeout; a job transferred half way, then suspended and left alone
        await using var node = HostedQmgr.Start(_dir.File("data"), ConfigurationFactory.ParseString("qmgr.job.inactivity-timeout = 2s"));
        var qm = QueueManager.Create(node.System, "dave");
        var job = await (await qm.CreateGroupAsync("idle")).CreateJobAsync("idle");
        await job.AddFilesAsync([(_server.Add("/idle.bin", LoopbackFileServer.Content(1_000_000, 52), new LoopbackFileOptions { TrickleBytesPerSecond = 500_000 }).ToString(), _dir.File("idle.bin"))]);
        await job.ResumeAsync();
        var partial = await job.WaitAsync(j => j.BytesTransferred > 0, new CancellationTokenSource(Deadline).Token);
        await job.SuspendAsync();

        // act
        var cancelled = await job.WaitAsync(j => j.State == JobState.Cancelled, new CancellationTokenSource(Deadline).Token);

        // assert
        Assert.False(File.Exists(partial.Files[0].TempName));
        Assert.True(cancelled.ModificationTime - partial.ModificationTime >= TimeSpan.FromSeconds(2));
    }
}
