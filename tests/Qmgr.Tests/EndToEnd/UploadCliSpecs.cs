using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.EndToEnd;

/// <summary>The real <c>qmgr upload</c> executable against <see cref="BitsUploadServer"/> on loopback, on a fresh data directory.</summary>
public sealed class UploadCliSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dir = new();
    private BitsUploadServer _server = null!;

    private string DataDir => _dir.File("data");

    public async Task InitializeAsync() => _server = await BitsUploadServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Upload_with_reply_sends_the_file_writes_the_reply_completes_the_job_and_exits_zero()
    {
        // arrange
        var content = LoopbackFileServer.Content(300_000, seed: 3);
        var reply = LoopbackFileServer.Content(2_000, seed: 4);
        var source = _dir.File("report.csv");
        await File.WriteAllBytesAsync(source, content);
        var url = _server.Accept("/app/import", new BitsUploadOptions { Reply = reply });

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "upload", "--data-dir", DataDir, "--reply", _dir.File("answer.txt"), url.ToString(), source);

        // assert
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(content, _server.Uploaded("/app/import"));
        Assert.Equal(reply, File.ReadAllBytes(_dir.File("answer.txt")));
        var job = Assert.Single(Assert.Single(new Journal(DataDir).Groups()).Jobs);
        Assert.Equal((JobType.UploadReply, JobState.Acknowledged), (job.Type, job.State));
    }

    [Fact]
    public async Task Upload_of_a_missing_file_is_a_usage_error()
    {
        var result = await QmgrProcess.RunAsync(Deadline, "upload", "--data-dir", DataDir, _server.Accept("/in/x").ToString(), _dir.File("missing.bin"));
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("no such file to upload", result.Stderr);
        Assert.Empty(_server.Requests);
    }
}
