using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// HTTPS against a loopback server with self-signed, expired and wrong-host certificates: refused by default (fatal,
/// as BITS treats certificate failures), accepted when the job's BG_SSL_IGNORE_* security flags name every problem.
/// </summary>
public sealed class TlsSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();
    private HostedQmgr _node = null!;
    private IQueueManager _qm = null!;

    public Task InitializeAsync()
    {
        _node = HostedQmgr.Start(_dir.File("data"));
        _qm = QueueManager.Create(_node.System, "tls");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    private async Task<Job> DownloadAsync(LoopbackFileServer server, int securityFlags, string name)
    {
        var content = LoopbackFileServer.Content(20_000, name.Length);
        var url = server.Add("/" + name, content);
        var job = await (await _qm.CreateGroupAsync(name)).CreateJobAsync(name);
        await job.SetPropertyAsync(JobProperty.SecurityFlags, securityFlags.ToString());
        await job.AddFilesAsync([(url.ToString(), _dir.File(name))]);
        await job.ResumeAsync();
        return await job.WaitAsync(j => j.State is JobState.Transferred or JobState.Error, new CancellationTokenSource(Deadline).Token);
    }

    [Fact]
    public async Task A_self_signed_certificate_is_refused_unless_unknown_CA_is_ignored()
    {
        // arrange
        var now = DateTimeOffset.UtcNow;
        await using var server = await LoopbackFileServer.StartAsync(LoopbackFileServer.SelfSignedCertificate("127.0.0.1", now.AddDays(-1), now.AddDays(30)));
        Assert.Equal("https", server.BaseAddress.Scheme);

        // act
        var strict = await DownloadAsync(server, 0, "strict.bin");
        var lenient = await DownloadAsync(server, 0x8, "lenient.bin");

        // assert
        Assert.Equal(JobState.Error, strict.State);
        Assert.Equal(unchecked((int)0x80072F8F), strict.Error!.HResult);
        Assert.Equal(JobState.Transferred, lenient.State);
    }

    [Fact]
    public async Task Each_certificate_problem_needs_its_own_ignore_flag()
    {
        // arrange: an expired certificate, and one issued to another host
        var now = DateTimeOffset.UtcNow;
        await using var expired = await LoopbackFileServer.StartAsync(LoopbackFileServer.SelfSignedCertificate("127.0.0.1", now.AddDays(-30), now.AddDays(-1)));
        await using var otherHost = await LoopbackFileServer.StartAsync(LoopbackFileServer.SelfSignedCertificate("files.example.org", now.AddDays(-1), now.AddDays(30)));

        // act
        var expiredCaOnly = await DownloadAsync(expired, 0x8, "expired-ca.bin");
        var expiredBoth = await DownloadAsync(expired, 0x8 | 0x4, "expired-both.bin");
        var nameCaOnly = await DownloadAsync(otherHost, 0x8, "name-ca.bin");
        var nameBoth = await DownloadAsync(otherHost, 0x8 | 0x2, "name-both.bin");
        var undefined = await Assert.ThrowsAsync<QmgrException>(async () =>
            await (await (await _qm.CreateGroupAsync("undefined")).CreateJobAsync("undefined")).SetPropertyAsync(JobProperty.SecurityFlags, "4096")); // 0x1000

        // assert
        Assert.Equal(JobState.Error, expiredCaOnly.State);
        Assert.Equal(JobState.Transferred, expiredBoth.State);
        Assert.Equal(JobState.Error, nameCaOnly.State);
        Assert.Equal(JobState.Transferred, nameBoth.State);
        Assert.Equal(HResults.E_NOTIMPL, undefined.HResult);
    }
}
