using System.Collections.Concurrent;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// Fatal transfer failures on a real node (SQLite journal, loopback server): a failure that leaves the file no byte
/// (a 404 before any body, a checksum mismatch) leaves no <c>.NAME.qmgr-XXXXXXXX.tmp</c> beside the target, one after
/// good bytes keeps them for the next Resume, and each job error is logged once, at Information, with an HTTP part only
/// when a server answered and without credentials.
/// </summary>
public sealed class FailedTransferSpecs() : EmbeddedNodeSpecs("frank")
{
    /// <summary>A job downloading <paramref name="url"/> to <paramref name="target"/>, resumed, once it is Transferred or in Error.</summary>
    private async Task<(IJob Job, Job Ended)> RunAsync(string name, string url, string target)
    {
        var job = await NewJobAsync(name);
        await job.AddFilesAsync([(url, target)]);
        await job.ResumeAsync();
        return (job, await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error));
    }

    private static string[] TempFilesIn(string directory) => Directory.GetFiles(directory, "*.qmgr-*.tmp");

    [Fact]
    public async Task A_404_leaves_no_temp_file_beside_the_target_and_a_later_resume_creates_it_again()
    {
        // arrange
        var outDir = Dir.Sub("not-found");
        var target = Path.Combine(outDir, "late.bin");
        var content = LoopbackFileServer.Content(40_000, 71);

        // act: a 404, then the file appears and the owner resumes
        var (job, failed) = await RunAsync("late", Server.UrlOf("/late.bin").ToString(), target);
        var left = TempFilesIn(outDir);
        Server.Add("/late.bin", content);
        await job.ResumeAsync();
        var transferred = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);

        // assert
        Assert.Equal(JobState.Error, failed.State);
        Assert.Equal(404, failed.Error!.HttpStatus);
        Assert.Empty(left);
        Assert.Equal(JobState.Transferred, transferred.State);
        Assert.Equal(content, File.ReadAllBytes(transferred.Files[0].TempName));
    }

    [Fact]
    public async Task A_checksum_mismatch_leaves_no_temp_file_beside_the_target()
    {
        // arrange: the server declares the digest of another body (RFC 9530 Repr-Digest)
        var outDir = Dir.Sub("mismatch");
        var content = LoopbackFileServer.Content(40_000, 72);
        var digest = Convert.ToBase64String(SHA256.HashData(LoopbackFileServer.Content(40_000, 73)));
        var url = Server.Add("/digest.bin", content, new LoopbackFileOptions
        {
            ExtraHeaders = new Dictionary<string, string> { ["Repr-Digest"] = $"sha-256=:{digest}:" },
        });

        // act
        var (_, failed) = await RunAsync("digest", url.ToString(), Path.Combine(outDir, "digest.bin"));

        // assert
        Assert.Equal(JobState.Error, failed.State);
        Assert.Equal(BitsErrors.ContentVerificationFailed, failed.Error!.HResult);
        Assert.Empty(Directory.GetFiles(outDir));
    }

    [Fact]
    public async Task A_fatal_error_after_good_bytes_keeps_the_temp_file_for_the_next_resume()
    {
        // arrange: some bytes journaled, then the file is gone from the server
        var outDir = Dir.Sub("partial");
        var content = LoopbackFileServer.Content(1_000_000, 74);
        var url = Server.Add("/partial.bin", content, new LoopbackFileOptions { TrickleBytesPerSecond = 200_000 });
        var job = await NewJobAsync("partial");
        await job.AddFilesAsync([(url.ToString(), Path.Combine(outDir, "partial.bin"))]);
        await job.ResumeAsync();
        await WaitAsync(job, j => j.BytesTransferred > 0);
        await job.SuspendAsync();
        Server.Add("/partial.bin", [], new LoopbackFileOptions { StatusOverride = 410 });

        // act
        await job.ResumeAsync();
        var failed = await WaitAsync(job, j => j.State is JobState.Error or JobState.Transferred);

        // assert
        Assert.Equal(JobState.Error, failed.State);
        Assert.True(failed.Files[0].BytesTransferred > 0);
        var temp = Assert.Single(TempFilesIn(outDir));
        Assert.Equal(failed.Files[0].TempName, temp);
        Assert.True(new FileInfo(temp).Length >= failed.Files[0].BytesTransferred);
    }

    [Fact]
    public async Task A_job_error_is_logged_at_Information_not_Warning_with_an_HTTP_part_only_when_a_server_answered()
    {
        // arrange: every log event of the node; a 404 from a URL carrying credentials, and a local directory that is gone
        var logs = new ConcurrentQueue<LogEvent>();
        var collector = Node.System.ActorOf(Props.Create(() => new LogCollector(logs)));
        Node.System.EventStream.Subscribe(collector, typeof(LogEvent));
        var secretUrl = new UriBuilder(Server.UrlOf("/secret.bin")) { UserName = "user", Password = "s3cret", Query = "sig=t0ken" }.Uri.ToString();
        var gone = Dir.Sub("gone");
        var present = Server.Add("/present.bin", LoopbackFileServer.Content(1_000, 75)).ToString();

        // act
        var (_, notFound) = await RunAsync("secret", secretUrl, Dir.File("secret.bin"));
        var local = await NewJobAsync("local");
        await local.AddFilesAsync([(present, Path.Combine(gone, "local.bin"))]);
        Directory.Delete(gone);
        await local.ResumeAsync();
        await WaitAsync(local, j => j.State is JobState.Error or JobState.Transferred);
        var errors = await LinesAsync(logs, l => l.Contains(" error: context ", StringComparison.Ordinal), count: 2);
        var jobWarnings = logs.Where(e => e.LogLevel() >= Akka.Event.LogLevel.WarningLevel && Line(e).StartsWith("Job [", StringComparison.Ordinal)).Select(Line).ToList();
        Node.System.EventStream.Unsubscribe(collector);

        // assert
        Assert.Equal(JobState.Error, notFound.State);
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Equal(Akka.Event.LogLevel.InfoLevel, e.LogLevel()));
        Assert.Empty(jobWarnings);
        Assert.Contains(errors, e => Line(e).Contains($"[{notFound.Id}] error: context RemoteFile, code 0x80190194, HTTP 404: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => Line(e).Contains(" error: context LocalFile, code 0x", StringComparison.Ordinal) && !Line(e).Contains("HTTP", StringComparison.Ordinal));
        Assert.DoesNotContain(logs, e => Line(e).Contains("HTTP null", StringComparison.Ordinal));
        Assert.DoesNotContain(logs, e => Line(e).Contains("s3cret", StringComparison.Ordinal) || Line(e).Contains("t0ken", StringComparison.Ordinal));
    }

    private static string Line(LogEvent e) => e.Message?.ToString() ?? "";

    /// <summary>Waits, up to <see cref="EmbeddedNodeSpecs.Deadline"/>, for <paramref name="count"/> log events matching
    /// <paramref name="match"/>, then returns every one that matches.</summary>
    private static async Task<IReadOnlyList<LogEvent>> LinesAsync(ConcurrentQueue<LogEvent> logs, Func<string, bool> match, int count)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        while (logs.Count(e => match(Line(e))) < count) await Task.Delay(50, deadline.Token);
        return logs.Where(e => match(Line(e))).ToList();
    }

    private sealed class LogCollector : ReceiveActor
    {
        public LogCollector(ConcurrentQueue<LogEvent> logs) => Receive<LogEvent>(logs.Enqueue);
    }
}
