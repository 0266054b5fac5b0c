using System.Security.Cryptography.X509Certificates;
using Qmgr.Api;
using Qmgr.Client;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Service;

/// <summary>The API over TLS when <c>qmgr.api.certificate-path</c> names a certificate.</summary>
public sealed class ServiceTlsSpecs : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task With_a_configured_certificate_the_api_answers_over_https_with_that_certificate()
    {
        using var certificate = LoopbackFileServer.SelfSignedCertificate("127.0.0.1", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pfx = _dir.File("api.pfx");
        File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pfx, "pfx-password"));
        await using var service = await ServiceNode.StartAsync(_dir.File("data"),
            $"qmgr.api.certificate-path = \"{pfx}\"\nqmgr.api.certificate-password = pfx-password\n", "https://127.0.0.1:0");
        string? seen = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => { seen = cert?.Thumbprint; return cert?.Thumbprint == certificate.Thumbprint; },
        };

        using var qm = await HttpQueueManager.ConnectAsync(service.BaseAddress, ServiceNode.AliceToken, handler);
        var group = await qm.CreateGroupAsync("over tls");

        Assert.Equal("https", service.BaseAddress.Scheme);
        Assert.Equal(certificate.Thumbprint, seen);
        Assert.Equal("over tls", (await group.GetStateAsync()).DisplayName);
        Assert.Equal("alice", qm.Caller);
    }
}
