using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// HTTPS against a loopback server with self-signed, expired and wrong-host certificates: refused by default (fatal,
/// as BITS treats certificate failures), accepted when the job's BG_SSL_IGNORE_* security flags name every problem.
/// BG_SSL_ENABLE_CRL_CHECK against a test CA's CRL, https to http redirects under ALLOW_HTTPS_TO_HTTP, and TLS client
/// certificates from the CurrentUser store against a server that requires one.
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

    private async Task<Job> DownloadAsync(LoopbackFileServer server, int securityFlags, string name, Func<IJob, Task>? setUp = null, Uri? url = null)
    {
        var content = LoopbackFileServer.Content(20_000, name.Length);
        url ??= server.Add("/" + name, content);
        var job = await (await _qm.CreateGroupAsync(name)).CreateJobAsync(name);
        await job.SetPropertyAsync(JobProperty.SecurityFlags, securityFlags.ToString());
        if (setUp is not null) await setUp(job);
        await job.AddFilesAsync([(url.ToString(), _dir.File(name))]);
        await job.ResumeAsync();
        return await job.WaitAsync(j => j.State is JobState.Transferred or JobState.Error, new CancellationTokenSource(Deadline).Token);
    }

    [Fact]
    public async Task Crl_check_refuses_a_revoked_certificate_and_accepts_a_good_one_while_without_it_revocation_is_not_checked()
    {
        // arrange: a test CA trusted for this user, its CRL on a loopback HTTP server, a good and a revoked server certificate
        await using var crlServer = await LoopbackFileServer.StartAsync();
        var crlPath = $"/{Guid.NewGuid():N}.crl"; // a fresh URL: .NET caches CRLs per URL
        using var pki = new TestPki("Qmgr CRL test CA");
        using var good = pki.IssueServer(crlServer.UrlOf(crlPath));
        using var revoked = pki.IssueServer(crlServer.UrlOf(crlPath));
        using var unreachable = pki.IssueServer(new Uri($"http://127.0.0.1:{FreePort()}/{Guid.NewGuid():N}.crl"));
        pki.Revoke(revoked);
        crlServer.Add(crlPath, pki.Crl());
        using var trust = pki.TrustForCurrentUser();
        var chain = new X509Certificate2Collection(X509CertificateLoader.LoadCertificate(pki.Authority.RawData));
        await using var goodServer = await LoopbackFileServer.StartAsync(good, ClientCertificateMode.NoCertificate, chain);
        await using var revokedServer = await LoopbackFileServer.StartAsync(revoked, ClientCertificateMode.NoCertificate, chain);
        await using var unreachableServer = await LoopbackFileServer.StartAsync(unreachable, ClientCertificateMode.NoCertificate, chain);

        // act
        var goodChecked = await DownloadAsync(goodServer, 0x1, "crl-good.bin");
        var revokedChecked = await DownloadAsync(revokedServer, 0x1, "crl-revoked.bin");
        var revokedUnchecked = await DownloadAsync(revokedServer, 0, "no-crl-revoked.bin");
        var unknownChecked = await DownloadAsync(unreachableServer, 0x1, "crl-unknown.bin");

        // assert
        Assert.Equal(JobState.Transferred, goodChecked.State);
        Assert.NotEmpty(crlServer.RequestsFor(crlPath)); // revocation was really looked up
        Assert.Equal((JobState.Error, BitsErrors.CertRevoked), (revokedChecked.State, revokedChecked.Error!.HResult));
        Assert.Equal(JobState.Transferred, revokedUnchecked.State);
        Assert.Equal((JobState.Error, BitsErrors.CertRevocationFailed), (unknownChecked.State, unknownChecked.Error!.HResult));
    }

    [Fact]
    public async Task An_https_to_http_redirect_fails_the_job_unless_allow_https_to_http_is_set()
    {
        // arrange: an HTTPS server (self-signed: BG_SSL_IGNORE_UNKNOWN_CA) redirecting to a plain HTTP server
        var now = DateTimeOffset.UtcNow;
        await using var https = await LoopbackFileServer.StartAsync(LoopbackFileServer.SelfSignedCertificate("127.0.0.1", now.AddDays(-1), now.AddDays(30)));
        await using var http = await LoopbackFileServer.StartAsync();
        var content = LoopbackFileServer.Content(15_000, 77);
        var plain = http.Add("/plain.bin", content);
        var hop = https.Add("/down.bin", [], new LoopbackFileOptions { RedirectTo = plain.AbsoluteUri });

        // act
        var refused = await DownloadAsync(https, 0x8, "refused.bin", url: hop);
        var requestsAfterRefusal = http.RequestsFor("/plain.bin").Count;
        var followed = await DownloadAsync(https, 0x8 | 0x800, "followed.bin", url: hop);
        var reported = await DownloadAsync(https, 0x8 | 0x800 | 0x100, "reported.bin", url: hop);

        // assert
        Assert.Equal((JobState.Error, BitsErrors.RedirectFailed), (refused.State, refused.Error!.HResult));
        Assert.Equal(0, requestsAfterRefusal);
        Assert.Equal(JobState.Transferred, followed.State);
        Assert.Equal(content, File.ReadAllBytes(followed.Files[0].TempName));
        Assert.Equal(hop.AbsoluteUri, followed.Files[0].RemoteName);
        Assert.Equal(JobState.Transferred, reported.State);
        Assert.Equal(plain.AbsoluteUri, reported.Files[0].RemoteName); // ALLOW_REPORT records the http URL
    }

    [Fact]
    public async Task A_client_certificate_from_the_current_user_store_is_presented_and_a_job_without_one_fails()
    {
        // arrange: a server that requires a client certificate; the job's certificate in CurrentUser\My
        var now = DateTimeOffset.UtcNow;
        await using var server = await LoopbackFileServer.StartAsync(LoopbackFileServer.SelfSignedCertificate("127.0.0.1", now.AddDays(-1), now.AddDays(30)),
            ClientCertificateMode.RequireCertificate);
        using var pki = new TestPki("Qmgr client CA");
        var subject = $"qmgr-client-{Guid.NewGuid():N}";
        using var client = pki.IssueClient(subject);
        using var installed = TestPki.InstallForCurrentUser(client);

        // act
        var byId = await DownloadAsync(server, 0x8, "by-id.bin",
            j => j.SetClientCertificateByIdAsync(CertStoreLocation.CurrentUser, "MY", client.GetCertHash()));
        var byName = await DownloadAsync(server, 0x8, "by-name.bin",
            j => j.SetClientCertificateByNameAsync(CertStoreLocation.CurrentUser, "MY", subject));
        var without = await DownloadAsync(server, 0x8, "without.bin");

        // assert
        Assert.Equal(JobState.Transferred, byId.State);
        Assert.Equal(JobState.Transferred, byName.State);
        Assert.Contains(server.RequestsFor("/by-id.bin"), r => r.ClientCertificateThumbprint == client.Thumbprint);
        Assert.Contains(server.RequestsFor("/by-name.bin"), r => r.ClientCertificateThumbprint == client.Thumbprint);
        Assert.Equal((JobState.Error, BitsErrors.ClientAuthCertNeeded), (without.State, without.Error!.HResult));
        Assert.Empty(server.RequestsFor("/without.bin"));
    }

    [Fact]
    public async Task Client_certificate_selection_is_checked_when_set_readable_removable_and_dropped_by_take_ownership()
    {
        // arrange
        using var pki = new TestPki("Qmgr client CA");
        using var client = pki.IssueClient($"qmgr-client-{Guid.NewGuid():N}");
        using var installed = TestPki.InstallForCurrentUser(client);
        var bob = _qm.ForCaller("bob");
        var group = await bob.CreateGroupAsync("certs");
        var job = await group.CreateJobAsync("certs");

        // act
        var unknown = await Assert.ThrowsAsync<QmgrException>(() => job.SetClientCertificateByIdAsync(CertStoreLocation.CurrentUser, "MY", new byte[20]));
        var shortHash = await Assert.ThrowsAsync<QmgrException>(() => job.SetClientCertificateByIdAsync(CertStoreLocation.CurrentUser, "MY", new byte[19]));
        var services = await Assert.ThrowsAsync<QmgrException>(() => job.SetClientCertificateByIdAsync(CertStoreLocation.Services, "MY", client.GetCertHash()));
        var longName = await Assert.ThrowsAsync<QmgrException>(() => job.SetClientCertificateByNameAsync(CertStoreLocation.CurrentUser, new string('s', 256), "x"));
        await job.SetClientCertificateByIdAsync(CertStoreLocation.CurrentUser, "MY", client.GetCertHash());
        var selected = await job.GetClientCertificateAsync();
        var removed = await job.RemoveClientCertificateAsync();
        var removedAgain = await job.RemoveClientCertificateAsync();
        await job.SetClientCertificateByIdAsync(CertStoreLocation.CurrentUser, "MY", client.GetCertHash());
        await (await _qm.ForCaller("root", isAdministrator: true).GetGroupAsync(group.Id)).TakeOwnershipAsync();
        var afterTakeOwnership = (await (await _qm.ForCaller("root").GetGroupAsync(group.Id)).GetStateAsync()).FindJob(job.Id)!;

        // assert
        Assert.Equal(BitsErrors.CryptNotFound, unknown.HResult);
        Assert.Equal(HResults.E_INVALIDARG, shortHash.HResult);
        Assert.Equal(HResults.E_NOTIMPL, services.HResult);
        Assert.Equal(HResults.BG_E_STRING_TOO_LONG, longName.HResult);
        Assert.Equal(new ClientCertificate(CertStoreLocation.CurrentUser, "MY", client.Thumbprint, null), selected);
        Assert.True(removed);
        Assert.False(removedAgain);
        Assert.Null(afterTakeOwnership.ClientCertificate);
        Assert.Contains(new Journal(_node.DataDirectory).Events(), e => e is Qmgr.Groups.GroupEvents.JobClientCertificateSet { Certificate: null });
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
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
