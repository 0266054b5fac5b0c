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

    [Fact]
    public async Task Upload_of_an_empty_file_is_a_usage_error_before_any_job_is_created()
    {
        // arrange
        var source = _dir.File("empty.bin");
        await File.WriteAllBytesAsync(source, []);

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "upload", "--data-dir", DataDir, _server.Accept("/in/empty").ToString(), source);

        // assert
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"{source} is empty", result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
        Assert.Empty(_server.Requests);
        Assert.False(Directory.Exists(DataDir) && new Journal(DataDir).Groups().Any(), "no group or job is created");
    }

    [Fact]
    public async Task Upload_to_a_server_without_the_BITS_Upload_Protocol_exits_one_with_the_reason_naming_FILE_then_URL()
    {
        // arrange: a plain web server answers BITS_POST 501 Unsupported method (python http.server)
        var source = _dir.File("notes.txt");
        await File.WriteAllBytesAsync(source, LoopbackFileServer.Content(5_000, seed: 5));
        var url = _server.Accept("/plain/notes", new BitsUploadOptions { PlainStatus = 501 });

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "upload", "--data-dir", DataDir, url.ToString(), source);

        // assert
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"{source} -> {url}: ", result.Stderr);
        Assert.Contains("does not speak the BITS Upload Protocol", result.Stderr);
        Assert.Contains("code 0x801901F5", result.Stderr);
        Assert.Single(_server.Requests); // one Ping, no retries
        var job = Assert.Single(Assert.Single(new Journal(DataDir).Groups()).Jobs);
        Assert.Equal(JobState.Error, job.State);
    }
}
