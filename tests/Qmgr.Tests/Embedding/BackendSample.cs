using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qmgr.Api;
using Qmgr.Hosting;
using Qmgr.Jobs;

namespace BackendSampleApp; // outside Qmgr.*, as a real backend would be

/// <summary>A backend embedding Qmgr in its own <see cref="IHost"/>: the whole integration, under 30 lines.</summary>
public static class BackendSample
{
    /// <summary>Downloads <paramref name="url"/> to <paramref name="localPath"/> in the background and waits for it.</summary>
    public static async Task<Job> DownloadAsync(string dataDirectory, Uri url, string localPath, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddQmgr(new QmgrOptions { DataDirectory = dataDirectory });
        using var host = builder.Build();
        await host.StartAsync(cancellationToken);

        var qmgr = host.Services.GetRequiredService<IQueueManager>();
        var group = await qmgr.CreateGroupAsync("nightly reports", cancellationToken: cancellationToken);
        var job = await group.CreateJobAsync("report", new JobOptions(AutoComplete: true), cancellationToken: cancellationToken);
        await job.AddFilesAsync([(url.ToString(), localPath)], cancellationToken);
        await job.ResumeAsync(cancellationToken);
        var done = await job.WaitAsync(j => j.State is JobState.Acknowledged or JobState.Error, cancellationToken);

        await host.StopAsync(cancellationToken);
        return done;
    }
}
