using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// Server and proxy credentials of every BITS scheme answered through SocketsHttpHandler against loopback servers that
/// verify the answers (RFC 7617 Basic, RFC 7616 Digest, MS-NLMP NTLMv2, RFC 4559 Negotiate): each credential answers
/// only a challenge of its own scheme and target, and a wrong password puts the job in Error with BG_E_HTTP_ERROR_401 /
/// _407 instead of retrying.
/// </summary>
public sealed class AuthSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private const int HttpError401 = unchecked((int)0x80190191);
    private const int HttpError407 = unchecked((int)0x80190197);
    private readonly TempDirectory _dir = new();
    private HostedQmgr _node = null!;
    private IQueueManager _qm = null!;

    public Task InitializeAsync()
    {
        _node = HostedQmgr.Start(_dir.File("data"));
        _qm = QueueManager.Create(_node.System, "auth");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    /// <summary>Runs a job for <paramref name="url"/> with <paramref name="setUp"/> applied until Transferred or Error.</summary>
    private async Task<Job> RunAsync(string name, Uri url, Func<IJob, Task> setUp)
    {
        var job = await (await _qm.CreateGroupAsync(name)).CreateJobAsync(name);
        await setUp(job);
        await job.AddFilesAsync([(url.ToString(), _dir.File(name))]);
        await job.ResumeAsync();
        return await job.WaitAsync(j => j.State is JobState.Transferred or JobState.Error or JobState.TransientError,
            new CancellationTokenSource(Deadline).Token);
    }

    [Theory]
    [InlineData(Challenge.DigestMd5)]
    [InlineData(Challenge.DigestSha256)]
    public async Task Digest_credentials_answer_the_digest_challenge_and_basic_ones_are_never_sent_to_it(Challenge digest)
    {
        // arrange
        await using var server = await AuthLoopbackServer.StartAsync(digest, "alice", "d1gest-pw");
        var content = LoopbackFileServer.Content(30_000, 301);
        server.Add("/digest.bin", content);
        var url = server.UrlOf("/digest.bin");

        // act
        var digestJob = await RunAsync("digest.bin", url, j => j.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Digest, "alice", "d1gest-pw"));
        var basicJob = await RunAsync("basic-to-digest.bin", url, j => j.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Basic, "alice", "d1gest-pw"));
        var wrongJob = await RunAsync("wrong-digest.bin", url, j => j.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Digest, "alice", "not-it"));

        // assert
        Assert.Equal(JobState.Transferred, digestJob.State);
        Assert.Equal(content, File.ReadAllBytes(digestJob.Files[0].TempName));
        Assert.Contains(server.Attempts, a => a.Verified && a.Credentials!.StartsWith("Digest ") && a.User == "alice");
        Assert.DoesNotContain(server.Attempts, a => a.Credentials?.StartsWith("Basic", StringComparison.OrdinalIgnoreCase) == true);
        Assert.Equal((JobState.Error, HttpError401), (basicJob.State, basicJob.Error!.HResult));
        Assert.Equal((JobState.Error, HttpError401, 401), (wrongJob.State, wrongJob.Error!.HResult, wrongJob.Error.HttpStatus));
        Assert.Contains(server.Attempts, a => !a.Verified && a.Credentials?.StartsWith("Digest ") == true); // the wrong answer was tried once, then Error
    }

    [Fact]
    public async Task Ntlm_credentials_answer_with_a_type_1_then_a_type_3_the_server_verifies_against_the_password()
    {
        // arrange: user QMGR\alice
        await using var server = await AuthLoopbackServer.StartAsync(Challenge.Ntlm, "alice", "ntlm-Pa55", domain: "QMGR");
        var content = LoopbackFileServer.Content(25_000, 302);
        server.Add("/ntlm.bin", content);
        var url = server.UrlOf("/ntlm.bin");

        // act
        var ok = await RunAsync("ntlm.bin", url, j => j.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Ntlm, @"QMGR\alice", "ntlm-Pa55"));
        var wrong = await RunAsync("ntlm-wrong.bin", url, j => j.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Ntlm, @"QMGR\alice", "wrong"));

        // assert
        Assert.Equal(JobState.Transferred, ok.State);
        Assert.Equal(content, File.ReadAllBytes(ok.Files[0].TempName));
        var tokens = server.Attempts.Where(a => a.NtlmType != 0).ToList();
        Assert.Contains(tokens, a => a.NtlmType == 1);
        Assert.Contains(tokens, a => a is { NtlmType: 3, Verified: true, User: "alice", Domain: "QMGR" });
        Assert.Contains(tokens, a => a is { NtlmType: 3, Verified: false, User: "alice" });
        Assert.Equal((JobState.Error, HttpError401), (wrong.State, wrong.Error!.HResult));
    }

    [Fact]
    public async Task Negotiate_credentials_start_an_spnego_handshake_carrying_an_ntlm_type_1_when_no_kerberos_is_at_hand()
    {
        // arrange: a server offering only Negotiate, which records the first token and refuses to go on
        await using var server = await AuthLoopbackServer.StartAsync(Challenge.Negotiate, "alice", "nego-pw", domain: "QMGR");
        server.Add("/nego.bin", LoopbackFileServer.Content(1000, 303));

        // act
        var job = await RunAsync("nego.bin", server.UrlOf("/nego.bin"),
            j => j.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Negotiate, @"QMGR\alice", "nego-pw"));

        // assert
        Assert.Contains(server.Attempts, a => a.Credentials?.StartsWith("Negotiate ") == true && a.NtlmType == 1);
        Assert.Equal((JobState.Error, HttpError401), (job.State, job.Error!.HResult));
    }

    [Theory]
    [InlineData(Challenge.Basic, AuthScheme.Basic)]
    [InlineData(Challenge.DigestSha256, AuthScheme.Digest)]
    public async Task Proxy_credentials_answer_the_proxy_challenge_and_a_wrong_password_fails_with_407(Challenge challenge, AuthScheme scheme)
    {
        // arrange: the proxy demands credentials and answers absolute-form requests for a host that does not resolve
        await using var proxy = await AuthLoopbackServer.StartAsync(challenge, "bob", "pr0xy-pw", asProxy: true);
        var content = LoopbackFileServer.Content(20_000, 304);
        proxy.Add("/proxied.bin", content);
        var url = new Uri("http://files.qmgr-test.invalid/proxied.bin");
        var settings = new ProxySettings(ProxyUsage.Override, $"127.0.0.1:{proxy.BaseAddress.Port}", null);

        // act
        var ok = await RunAsync("proxied.bin", url, async j =>
        {
            await j.SetProxySettingsAsync(settings);
            await j.SetCredentialsAsync(AuthTarget.Proxy, scheme, "bob", "pr0xy-pw");
            await j.SetCredentialsAsync(AuthTarget.Server, scheme, "server-user", "server-only"); // never offered to the proxy
        });
        var wrong = await RunAsync("proxied-wrong.bin", url, async j =>
        {
            await j.SetProxySettingsAsync(settings);
            await j.SetCredentialsAsync(AuthTarget.Proxy, scheme, "bob", "wrong");
        });

        // assert
        Assert.Equal(JobState.Transferred, ok.State);
        Assert.Equal(content, File.ReadAllBytes(ok.Files[0].TempName));
        Assert.Contains(proxy.Attempts, a => a.Verified && a.RawTarget.StartsWith("http://files.qmgr-test.invalid/"));
        Assert.DoesNotContain(proxy.Attempts, a => a.User == "server-user");
        Assert.Equal((JobState.Error, HttpError407, 407), (wrong.State, wrong.Error!.HResult, wrong.Error.HttpStatus));
    }
}
