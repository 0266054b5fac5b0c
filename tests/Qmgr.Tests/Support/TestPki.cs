using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Qmgr.Tests.Support;

/// <summary>
/// A throw-away certificate authority for TLS specs (System.Security.Cryptography only): a self-signed CA, server
/// certificates for 127.0.0.1 with a CRL distribution point, client certificates, and the CA's CRL
/// (<see cref="CertificateRevocationListBuilder"/>). <see cref="TrustForCurrentUser"/> puts the CA into the
/// CurrentUser Root store (on Linux .NET's own user trust store) until the returned handle is disposed.
/// </summary>
public sealed class TestPki : IDisposable
{
    private readonly RSA _caKey = RSA.Create(2048);
    private readonly CertificateRevocationListBuilder _crl = new();
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;
    private long _serial = 0x1000;

    public TestPki(string name)
    {
        var request = new CertificateRequest($"CN={name} {Guid.NewGuid():N}", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Authority = request.CreateSelfSigned(_now.AddDays(-1), _now.AddDays(30));
    }

    /// <summary>The CA certificate (with its key).</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>
    /// A server certificate for 127.0.0.1 issued by <see cref="Authority"/>, pointing at <paramref name="crlUrl"/> for
    /// revocation, with its private key.
    /// </summary>
    public X509Certificate2 IssueServer(Uri crlUrl) =>
        Issue("CN=127.0.0.1", "1.3.6.1.5.5.7.3.1", crlUrl, san: true);

    /// <summary>A client-authentication certificate with subject <c>CN=<paramref name="commonName"/></c> and its private key.</summary>
    public X509Certificate2 IssueClient(string commonName) => Issue($"CN={commonName}", "1.3.6.1.5.5.7.3.2", null, san: false);

    /// <summary>Puts <paramref name="certificate"/> on the CRL from now on.</summary>
    public void Revoke(X509Certificate2 certificate) => _crl.AddEntry(certificate, _now.AddMinutes(-5));

    /// <summary>The CA's current CRL (DER), valid for a week.</summary>
    public byte[] Crl() => _crl.Build(Authority, 1, _now.AddDays(7), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1, _now.AddMinutes(-5));

    /// <summary>Trusts <see cref="Authority"/> for the process user (CurrentUser Root store) until disposed.</summary>
    public IDisposable TrustForCurrentUser() => new StoreEntry(StoreName.Root, X509CertificateLoader.LoadCertificate(Authority.RawData));

    /// <summary>Adds <paramref name="certificate"/> with its key to the CurrentUser My store until disposed.</summary>
    public static IDisposable InstallForCurrentUser(X509Certificate2 certificate) => new StoreEntry(StoreName.My, certificate);

    private X509Certificate2 Issue(string subject, string usage, Uri? crlUrl, bool san)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        if (san)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Authority, true, false));
        if (crlUrl is not null)
            request.CertificateExtensions.Add(CertificateRevocationListBuilder.BuildCrlDistributionPointExtension([crlUrl.AbsoluteUri]));
        var serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial));
        Array.Reverse(serial);
        using var issued = request.Create(Authority, _now.AddDays(-1), _now.AddDays(10), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null, X509KeyStorageFlags.Exportable | X509KeyStorageFlags.PersistKeySet);
    }

    public void Dispose()
    {
        Authority.Dispose();
        _caKey.Dispose();
    }

    private sealed class StoreEntry : IDisposable
    {
        private readonly StoreName _name;
        private readonly X509Certificate2 _certificate;

        public StoreEntry(StoreName name, X509Certificate2 certificate)
        {
            _name = name;
            _certificate = certificate;
            using var store = new X509Store(name, StoreLocation.CurrentUser);
            store.Open(OpenFlags.ReadWrite);
            store.Add(certificate);
        }

        public void Dispose()
        {
            using var store = new X509Store(_name, StoreLocation.CurrentUser);
            store.Open(OpenFlags.ReadWrite);
            store.Remove(_certificate);
        }
    }
}
