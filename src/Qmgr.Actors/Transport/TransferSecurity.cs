using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Qmgr.Transport;

/// <summary>Where a client certificate is looked up, with BITS's <c>BG_CERT_STORE_LOCATION</c> values (bits2_5.h).</summary>
public enum CertStoreLocation
{
    CurrentUser = 0,
    LocalMachine = 1,
    CurrentService = 2,
    Services = 3,
    Users = 4,
    CurrentUserGroupPolicy = 5,
    LocalMachineGroupPolicy = 6,
    LocalMachineEnterprise = 7,
}

/// <summary>
/// A job's client certificate selection (BITS <c>IBackgroundCopyJobHttpOptions::SetClientCertificateByID</c> /
/// <c>ByName</c>): the store and either the certificate's SHA-1 thumbprint (40 hex digits, upper case) or a subject
/// name (matched as a substring of the subject, as <c>CertFindCertificateInStore(CERT_FIND_SUBJECT_STR)</c> does). Only
/// the selection is journaled; the certificate and its private key stay in the store of the transferring process.
/// </summary>
public sealed record ClientCertificate(CertStoreLocation Location, string StoreName, string? Thumbprint, string? SubjectName);

/// <summary>
/// Clear credentials for one transfer, per BITS scheme name ("Basic", "Digest", "NTLM", "Negotiate"): built in the
/// transferring process from the job's ciphertext, handed to the HTTP handler, never serialized, journaled or logged
/// (<see cref="ToString"/> names the schemes only).
/// </summary>
public sealed class TransferCredentials(IReadOnlyDictionary<string, NetworkCredential> server, IReadOnlyDictionary<string, NetworkCredential> proxy)
{
    /// <summary>Credentials that answer a server's <c>WWW-Authenticate</c> challenge of the same scheme.</summary>
    public IReadOnlyDictionary<string, NetworkCredential> Server { get; } = server;

    /// <summary>Credentials that answer a proxy's <c>Proxy-Authenticate</c> challenge of the same scheme.</summary>
    public IReadOnlyDictionary<string, NetworkCredential> Proxy { get; } = proxy;

    /// <inheritdoc />
    public override string ToString() => $"server [{string.Join(", ", Server.Keys)}], proxy [{string.Join(", ", Proxy.Keys)}]";
}

/// <summary>
/// A TLS handshake refused for a reason BITS names with its own WinHTTP code (a revoked certificate, a revocation
/// check that could not be done, a server asking for a client certificate the job does not have). Thrown from the
/// handler's certificate callbacks; <see cref="HttpFileDownloader"/> finds it inside the <see cref="HttpRequestException"/>
/// and reports <see cref="Exception.HResult"/> as a fatal error.
/// </summary>
public sealed class TlsRefusedException : Exception
{
    /// <summary>Creates the refusal with its HRESULT and a one-line reason.</summary>
    public TlsRefusedException(int hresult, string message) : base(message) => HResult = hresult;

    /// <summary>Where the refusal is reported: <see cref="ErrorContext.GeneralTransport"/>, or
    /// <see cref="ErrorContext.ServerCertificateCallback"/> for the job's validation callback.</summary>
    public ErrorContext Context { get; init; } = ErrorContext.GeneralTransport;

    /// <summary>True when the job may retry after its minimum retry delay (a validation callback's refusal); quick
    /// retries inside the transfer are never made for a refusal.</summary>
    public bool IsTransient { get; init; }
}

/// <summary>
/// The TLS side of a transfer: server certificate checks under the BG_SSL_* security flags, client certificates from
/// the process's certificate stores, and credentials keyed by scheme.
/// </summary>
public static class TransferSecurity
{
    /// <summary>
    /// The client certificate callback of a handler for jobs without a client certificate: offers none, and when the
    /// server asks for one (OpenSSL and SChannel call back a second time with the server's certificate) refuses the
    /// handshake with ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED (0x80072F0C). BITS fails such a job the same way, even
    /// when the server would accept a connection without a certificate.
    /// </summary>
    public static X509Certificate NoClientCertificate(object sender, string targetHost, X509CertificateCollection localCertificates,
        X509Certificate? remoteCertificate, string[] acceptableIssuers) =>
        remoteCertificate is null
            ? null!
            : throw new TlsRefusedException(BitsErrors.ClientAuthCertNeeded,
                $"{targetHost} asked for a client certificate and the job has none (SetClientCertificateByID / ByName)");

    /// <summary>
    /// Decides a server certificate: accepted when <paramref name="errors"/> is empty or holds only the problems
    /// <paramref name="ignore"/> names; a revoked certificate throws <see cref="TlsRefusedException"/> with
    /// ERROR_WINHTTP_SECURE_CERT_REVOKED (0x80072F8A), a revocation status that could not be found (CRL unreachable,
    /// offline) with ERROR_WINHTTP_SECURE_CERT_REV_FAILED (0x80072F19); other problems return false (0x80072F8F).
    /// Revocation is only in the chain when BG_SSL_ENABLE_CRL_CHECK turned it on.
    /// </summary>
    public static bool ServerCertificateAccepted(SslPolicyErrors errors, X509Chain? chain, TlsIgnore ignore, string? host = null)
    {
        var statuses = chain?.ChainStatus.Select(s => s.Status).ToArray() ?? [];
        if (statuses.Any(s => s == X509ChainStatusFlags.Revoked))
            throw new TlsRefusedException(BitsErrors.CertRevoked, $"the certificate of {host ?? "the server"} is revoked");
        if (statuses.Any(s => s is X509ChainStatusFlags.RevocationStatusUnknown or X509ChainStatusFlags.OfflineRevocation))
            throw new TlsRefusedException(BitsErrors.CertRevocationFailed, $"the revocation status of {host ?? "the server"}'s certificate could not be checked");
        return errors == SslPolicyErrors.None || ProxyRoutingDownloader.CertificateAccepted(errors, chain, ignore);
    }

    /// <summary>
    /// Asks the job's validation callback (BITS IBackgroundCopyServerCertificateValidationCallback) about a server
    /// certificate that passed the checks under the security flags: returns true when it answers 0 (S_OK); otherwise
    /// throws <see cref="TlsRefusedException"/> with its HRESULT (or the HRESULT of what it threw), context
    /// <see cref="ErrorContext.ServerCertificateCallback"/>, transient. Without a callback the refusal is
    /// BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED (0x80200074), as BITS reports a callback it can no longer call.
    /// </summary>
    public static bool ServerCertificateValidated(Func<X509Certificate2, X509Chain?, int>? validator, X509Certificate? certificate, X509Chain? chain, string? host)
    {
        const int interfaceRequired = unchecked((int)0x80200074);
        int hresult;
        string why;
        if (certificate is null)
        {
            return false;
        }

        if (validator is null)
        {
            (hresult, why) = (interfaceRequired, "the job asks for a server certificate validation callback and none is registered on this node");
        }
        else
        {
            try
            {
                var server = certificate as X509Certificate2;
                using var loaded = server is null ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) : null;
                hresult = validator(server ?? loaded!, chain);
                why = $"the validation callback refused the certificate of {host ?? "the server"} (0x{hresult:X8})";
            }
            catch (Exception ex)
            {
                hresult = ex.HResult < 0 ? ex.HResult : unchecked((int)0x80004005);
                why = $"the validation callback failed for {host ?? "the server"}: {ex.GetType().Name}: {ex.Message}";
            }
        }
        return hresult == 0 ? true : throw new TlsRefusedException(hresult, why) { Context = ErrorContext.ServerCertificateCallback, IsTransient = true };
    }

    /// <summary>
    /// The certificate <paramref name="selection"/> names, with its private key, from the process's store
    /// (<see cref="X509Store"/>: on Linux CurrentUser stores live under ~/.dotnet/corefx/cryptography/x509stores;
    /// LocalMachine is read-only there and holds no private keys). Throws <see cref="TlsRefusedException"/> with
    /// E_NOTIMPL for a location .NET has no store for, HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) for a missing store,
    /// CRYPT_E_NOT_FOUND (0x80092004) when no certificate with a private key matches (BITS's codes for
    /// SetClientCertificateByID).
    /// </summary>
    public static X509Certificate2 FindClientCertificate(ClientCertificate selection)
    {
        var location = selection.Location switch
        {
            CertStoreLocation.CurrentUser => StoreLocation.CurrentUser,
            CertStoreLocation.LocalMachine => StoreLocation.LocalMachine,
            _ => throw new TlsRefusedException(BitsErrors.NotImplemented,
                $"certificate store location {selection.Location} has no .NET store (only CurrentUser and LocalMachine)"),
        };
        using var store = new X509Store(selection.StoreName, location);
        try
        {
            store.Open(OpenFlags.ReadOnly | OpenFlags.OpenExistingOnly);
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            throw new TlsRefusedException(BitsErrors.FileNotFound, $"no certificate store {location}\\{selection.StoreName}: {ex.Message}");
        }
        var found = selection.Thumbprint is { } thumbprint
            ? store.Certificates.Find(X509FindType.FindByThumbprint, thumbprint, validOnly: false)
            : store.Certificates.Find(X509FindType.FindBySubjectName, selection.SubjectName ?? "", validOnly: false);
        var match = found.FirstOrDefault(c => c.HasPrivateKey);
        foreach (var other in found.Where(c => !ReferenceEquals(c, match))) other.Dispose();
        return match ?? throw new TlsRefusedException(BitsErrors.CryptNotFound,
            $"no certificate with a private key for {selection.Thumbprint ?? "subject " + selection.SubjectName} in {location}\\{selection.StoreName}");
    }

    /// <summary>
    /// Server credentials for <paramref name="origin"/> only (a <see cref="CredentialCache"/>, so SocketsHttpHandler
    /// also answers a challenge after a redirect within that origin and never elsewhere), each only for its own
    /// scheme; null when there are none.
    /// </summary>
    public static ICredentials? ServerCredentials(TransferCredentials? credentials, Uri origin)
    {
        if (credentials is null || credentials.Server.Count == 0) return null;
        var cache = new CredentialCache();
        var prefix = new Uri(origin.GetLeftPart(UriPartial.Authority) + "/");
        foreach (var (scheme, credential) in credentials.Server) cache.Add(prefix, scheme, credential);
        return cache;
    }

    /// <summary>Proxy credentials, each only for its own scheme, whatever the proxy's address; null when there are none.</summary>
    public static ICredentials? ProxyCredentials(TransferCredentials? credentials) =>
        credentials is null || credentials.Proxy.Count == 0 ? null : new PerScheme(credentials.Proxy);

    /// <summary>Answers <see cref="ICredentials.GetCredential"/> by scheme only (the proxy is the one that asked).</summary>
    private sealed class PerScheme(IReadOnlyDictionary<string, NetworkCredential> byScheme) : ICredentials
    {
        public NetworkCredential? GetCredential(Uri uri, string authType) =>
            byScheme.FirstOrDefault(kv => string.Equals(kv.Key, authType, StringComparison.OrdinalIgnoreCase)).Value;
    }
}
