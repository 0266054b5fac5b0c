using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// The smaller modern members on a real node: <c>IBackgroundCopyError</c> (GetError, GetFile, GetErrorDescription,
/// GetErrorContextDescription, GetProtocol), <c>IBackgroundCopyFile5</c> HTTP_RESPONSE_HEADERS, the peer members of
/// File3 / File4, and the typed counterparts of the IEnum* enumerators, GetNotifyInterface and GetNotifyCmdLine.
/// </summary>
public sealed class ModernMemberSpecs() : EmbeddedNodeSpecs("carol")
{
    private async Task<(IJob Job, Job Done)> DownloadAsync(string name, string url, string? localDirectory = null)
    {
        var job = await (await Qm.CreateGroupAsync(name)).CreateJobAsync(name);
        await job.AddFilesAsync([(url, Path.Combine(localDirectory ?? Dir.Path, name))]);
        await job.ResumeAsync();
        return (job, await job.WaitAsync(j => j.State is JobState.Transferred or JobState.Error, new CancellationTokenSource(Deadline).Token));
    }

    private static int Refused(Action call) => Assert.Throws<QmgrException>(call).HResult;

    [Fact]
    public async Task The_error_object_gives_context_code_file_protocol_and_descriptions_and_is_unavailable_without_an_error()
    {
        // arrange: a 404, a local directory that is gone by the time the file is written, a job that never failed
        var missing = Server.UrlOf("/missing.bin").ToString();
        var gone = Directory.CreateDirectory(Dir.File("gone")).FullName;
        var present = Server.Add("/present.bin", LoopbackFileServer.Content(1_000, 41)).ToString();
        var fresh = await (await Qm.CreateGroupAsync("fresh")).CreateJobAsync("fresh");

        // act
        var (notFound, _) = await DownloadAsync("not-found.bin", missing);
        var remote = await notFound.GetErrorAsync();
        var localJob = await (await Qm.CreateGroupAsync("local")).CreateJobAsync("local");
        await localJob.AddFilesAsync([(present, Path.Combine(gone, "local.bin"))]);
        Directory.Delete(gone);
        await localJob.ResumeAsync();
        await localJob.WaitAsync(j => j.State is JobState.Error or JobState.Transferred, new CancellationTokenSource(Deadline).Token);
        var local = await localJob.GetErrorAsync();
        var noError = await RefusedAsync(() => fresh.GetErrorAsync());
        var queueManagerError = new BackgroundCopyError(await fresh.GetAsync() with
        {
            Error = new JobError(ErrorContext.GeneralQueueManager, HResults.BG_E_MAXDOWNLOAD_TIMEOUT, null, "maximum download time", null),
        });

        // assert
        Assert.Equal((ErrorContext.RemoteFile, unchecked((int)0x80190194)), remote.GetError());
        Assert.Equal(missing, remote.GetFile().RemoteName);
        Assert.Equal("http", remote.GetProtocol());
        Assert.Contains("404", remote.GetErrorDescription());
        Assert.Equal("The error occurred while the remote file was being processed.", remote.GetErrorContextDescription());
        Assert.Equal(ErrorContext.LocalFile, local.GetError().Context);
        Assert.Equal(Path.Combine(gone, "local.bin"), local.GetFile().LocalName);
        Assert.Equal(HResults.BG_E_PROTOCOL_NOT_AVAILABLE, Refused(() => local.GetProtocol()));
        Assert.Equal("The error occurred while the local file was being processed.", local.GetErrorContextDescription());
        Assert.Equal(HResults.BG_E_ERROR_INFORMATION_UNAVAILABLE, noError);
        Assert.Equal(HResults.BG_E_FILE_NOT_AVAILABLE, Refused(() => queueManagerError.GetFile()));
        Assert.Equal(HResults.BG_E_PROTOCOL_NOT_AVAILABLE, Refused(() => queueManagerError.GetProtocol()));
        Assert.Equal("The error occurred in the queue manager.", queueManagerError.GetErrorContextDescription());
    }

    [Fact]
    public async Task Each_file_keeps_the_header_block_of_its_last_response_journaled_and_read_only()
    {
        // arrange: a file whose server adds a header of its own, and a 404
        var url = Server.Add("/probe.bin", LoopbackFileServer.Content(2_000, 42),
            new LoopbackFileOptions { ExtraHeaders = new Dictionary<string, string> { ["X-Qmgr-Probe"] = "one" } }).ToString();
        var job = await (await Qm.CreateGroupAsync("probe")).CreateJobAsync("probe");
        await job.AddFilesAsync([(url, Dir.File("probe.bin"))]);

        // act
        var before = await job.GetFilePropertyAsync(0, BitsFilePropertyId.HttpResponseHeaders);
        await job.ResumeAsync();
        await job.WaitAsync(j => j.State is JobState.Transferred or JobState.Error, new CancellationTokenSource(Deadline).Token);
        var after = await job.GetFilePropertyAsync(0, BitsFilePropertyId.HttpResponseHeaders);
        var (notFound, _) = await DownloadAsync("probe-404.bin", Server.UrlOf("/probe-404.bin").ToString());
        var ofError = await notFound.GetFilePropertyAsync(0, BitsFilePropertyId.HttpResponseHeaders);
        var set = await RefusedAsync(() => job.SetFilePropertyAsync(0, BitsFilePropertyId.HttpResponseHeaders, "HTTP/1.1 200 OK\r\n"));
        var unknown = await RefusedAsync(() => job.GetFilePropertyAsync(0, (BitsFilePropertyId)2));
        var noFile = await RefusedAsync(() => job.GetFilePropertyAsync(1, BitsFilePropertyId.HttpResponseHeaders));

        // assert
        Assert.Null(before);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", after);
        Assert.Contains("X-Qmgr-Probe: one\r\n", after);
        Assert.Contains("Content-Length: 2000\r\n", after);
        Assert.StartsWith("HTTP/1.1 404 Not Found\r\n", ofError);
        Assert.Equal((HResults.BG_E_READ_ONLY_PROPERTY, HResults.BG_E_UNKNOWN_PROPERTY_ID, HResults.E_INVALIDARG), (set, unknown, noFile));
        Assert.Equal(after, new Journal(DataDir).Events<GroupEvents.FileResponseHeadersReceived>().Last(e => e.JobId == job.Id).Headers);
    }

    [Fact]
    public async Task Files_report_every_byte_from_the_origin_and_none_from_peers()
    {
        // arrange
        var url = Server.Add("/origin.bin", LoopbackFileServer.Content(12_345, 43)).ToString();

        // act
        var (_, done) = await DownloadAsync("origin.bin", url);

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        Assert.False(done.Files[0].IsDownloadedFromPeer());
        Assert.Equal((12_345ul, 0ul), done.Files[0].GetPeerDownloadStats());
    }

    private sealed class NoOpCallback : IJobCallback
    {
        public Task JobTransferredAsync(IJob job, Job state) => Task.CompletedTask;
        public Task JobErrorAsync(IJob job, Job state, JobError error) => Task.CompletedTask;
        public Task JobModificationAsync(IJob job, Job state) => Task.CompletedTask;
        public Task FileTransferredAsync(IJob job, Job state, int fileIndex) => Task.CompletedTask;
    }

    [Fact]
    public async Task Enumerations_are_snapshot_lists_and_the_notify_getters_return_what_was_set()
    {
        // arrange
        var group = await Qm.CreateGroupAsync("enum");
        var first = await group.CreateJobAsync("first");
        var second = await group.CreateJobAsync("second");
        var url = Server.Add("/enum.bin", LoopbackFileServer.Content(100, 44)).ToString();
        await first.AddFilesAsync([(url, Dir.File("enum-a.bin")), (url, Dir.File("enum-b.bin"))]);
        var callback = new NoOpCallback();
        var program = Path.Combine(Dir.Path, "notify.sh");

        // act
        var snapshot = await group.EnumJobsAsync(); // IEnumBackgroundCopyJobs: GetCount, Next, Skip, Reset, Clone
        await group.CreateJobAsync("third");
        var files = (await first.GetAsync()).Files; // IEnumBackgroundCopyFiles
        await first.SetNotifyInterfaceAsync(callback);
        var registered = first.GetNotifyInterface();
        await first.SetNotifyInterfaceAsync(null);
        await first.SetNotifyCmdLineAsync(new NotifyCommandLine(program, "--job x"));
        var commandLine = (await first.GetAsync()).NotifyCmdLine;

        // assert
        Assert.Equal([first.Id, second.Id], snapshot.Select(j => j.Id));
        Assert.Equal(3, (await group.EnumJobsAsync()).Count);
        Assert.Equal([Dir.File("enum-a.bin"), Dir.File("enum-b.bin")], files.Select(f => f.LocalName));
        Assert.Same(callback, registered);
        Assert.Null(first.GetNotifyInterface());
        Assert.Null(second.GetNotifyInterface());
        Assert.Equal(new NotifyCommandLine(program, "--job x"), commandLine);
    }
}
