using System.Security.Cryptography;
using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// Fatal transfer failures on a real node (SQLite journal, loopback server): a failure that leaves the file no byte
/// (a 404 before any body, a checksum mismatch) leaves no <c>.NAME.qmgr-XXXXXXXX.tmp</c> beside the target, one after
/// good bytes keeps them for the next Resume.
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
}
