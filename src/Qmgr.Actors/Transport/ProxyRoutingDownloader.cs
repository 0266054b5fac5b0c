using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace Qmgr.Transport;

/// <summary>
/// An <see cref="IFileDownloader"/> that sends each transfer through the HTTP client of its route — its
/// <see cref="ProxyRoute"/>, whether redirects are followed, the certificate problems it ignores and whether revocation
/// is checked: the default client (the host's, from IHttpClientFactory) for the default route, and one client per
/// other route, created on first use with <paramref name="createHandler"/> and kept for the process's life.
/// </summary>
/// <remarks>
/// A transfer with credentials, a client certificate or a server certificate validation callback gets a handler of its own, disposed when the transfer ends:
/// NTLM and Negotiate authenticate a connection, and a pooled connection must never carry one job's identity into
/// another job's requests. Server credentials answer only challenges from the file's origin
/// (scheme://host:port), each only for its own scheme; proxy credentials only the proxy's. Uploads
/// (<see cref="DownloadRequest.Upload"/>) run <see cref="BitsUploader"/> over the same client their route would use.
/// </remarks>
public sealed class ProxyRoutingDownloader(HttpClient defaultClient, Func<SocketsHttpHandler> createHandler) : IFileDownloader, IUploadSessionCanceller
{
    private readonly HttpFileDownloader _default = new(defaultClient);
    private readonly ConcurrentDictionary<string, HttpFileDownloader> _routes = new();


    /// <inheritdoc />
    /// <remarks>A request with <see cref="DownloadRequest.Upload"/> is an upload: it runs <see cref="BitsUploader"/> over the
    /// same route's client (its observer must be an <see cref="IUploadObserver"/>).</remarks>
    public Task<DownloadOutcome> DownloadAsync(DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, CancellationToken cancellationToken) =>
        WithDownloaderAsync(request, d => request.Upload is null
                ? d.DownloadAsync(request, observer, throttle, cancellationToken)
                : new BitsUploader(d.Client, d).UploadAsync(request, (IUploadObserver)observer, throttle, cancellationToken),
            error => new DownloadOutcome.Failed(error, request.Offset));

    /// <summary>Sends <c>Cancel-Session</c> for the upload session of <paramref name="request"/> over its route (<see cref="BitsUploader.CancelSessionAsync"/>).</summary>
    public Task<bool> CancelUploadSessionAsync(DownloadRequest request, CancellationToken cancellationToken) =>
        WithDownloaderAsync(request, d => new BitsUploader(d.Client, d).CancelSessionAsync(request, cancellationToken), _ => false);

    /// <summary>Runs <paramref name="run"/> on the route's shared downloader, or on a dedicated one (credentials, client
    /// certificate) disposed afterwards; <paramref name="refused"/> answers when the client certificate cannot be found.</summary>
    private Task<T> WithDownloaderAsync<T>(DownloadRequest request, Func<HttpFileDownloader, Task<T>> run, Func<TransferError, T> refused) =>
        request.Credentials is null && request.ClientCertificate is null && !request.ValidateServerCertificate
            ? run(DownloaderFor(request))
            : DedicatedAsync(request, run, refused);

    private HttpFileDownloader DownloaderFor(DownloadRequest request)
    {
        var route = request.Proxy;
        if (route.Key == ProxyRoute.Default.Key && request.FollowRedirects && request.TlsIgnore == TlsIgnore.None && !request.CheckRevocation) return _default;
        return _routes.GetOrAdd($"{route.Key}|redirects={request.FollowRedirects}|tls={(int)request.TlsIgnore}|crl={request.CheckRevocation}",
            _ => new HttpFileDownloader(new HttpClient(Configure(createHandler(), request, null)) { Timeout = Timeout.InfiniteTimeSpan }));
    }

    private async Task<T> DedicatedAsync<T>(DownloadRequest request, Func<HttpFileDownloader, Task<T>> run, Func<TransferError, T> refused)
    {
        X509Certificate2? certificate = null;
        if (request.ClientCertificate is { } selection)
        {
            try
            {
                certificate = TransferSecurity.FindClientCertificate(selection);
            }
            catch (TlsRefusedException ex)
            {
                return refused(new TransferError(ErrorContext.GeneralTransport, ex.HResult, null, ex.Message, IsTransient: false, RetryAfter: null));
            }
        }

        using (certificate)
        using (var handler = Configure(createHandler(), request, certificate))
        using (var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan })
        {
            return await run(new HttpFileDownloader(client)).ConfigureAwait(false);
        }
    }

    /// <summary>Applies the request's route, redirect, TLS and credential settings to a fresh handler.</summary>
    private static SocketsHttpHandler Configure(SocketsHttpHandler handler, DownloadRequest request, X509Certificate2? certificate)
    {
        var route = request.Proxy;
        var ignore = request.TlsIgnore;
        handler.AllowAutoRedirect = request.FollowRedirects;
        if (request.CheckRevocation) handler.SslOptions.CertificateRevocationCheckMode = X509RevocationMode.Online;
        if (request.ValidateServerCertificate)
        {
            // BITS: the callback is asked only once the checks under the security flags passed, before any request is sent
            var validator = request.ServerCertificateValidator;
            handler.SslOptions.RemoteCertificateValidationCallback = (sender, serverCertificate, chain, errors) =>
                TransferSecurity.ServerCertificateAccepted(errors, chain, ignore, (sender as SslStream)?.TargetHostName)
                && TransferSecurity.ServerCertificateValidated(validator, serverCertificate, chain, (sender as SslStream)?.TargetHostName);
        }
        else if (ignore != TlsIgnore.None || request.CheckRevocation)
            handler.SslOptions.RemoteCertificateValidationCallback = (sender, _, chain, errors) =>
                TransferSecurity.ServerCertificateAccepted(errors, chain, ignore, (sender as SslStream)?.TargetHostName);
        handler.SslOptions.LocalCertificateSelectionCallback = certificate is null
            ? TransferSecurity.NoClientCertificate
            : (_, _, _, _, _) => certificate;
        var proxyCredentials = TransferSecurity.ProxyCredentials(request.Credentials);
        if (route.Key == ProxyRoute.Default.Key)
        {
            // the process default proxy, as the default client has
            if (proxyCredentials is not null) handler.DefaultProxyCredentials = proxyCredentials;
        }
        else if (route.DirectConnection)
            handler.UseProxy = false;
        else
        {
            handler.UseProxy = true;
            handler.Proxy = new WebProxy(route.Proxy!, BypassOnLocal(route), route.Bypass.Where(b => b != "<local>").Select(BypassPattern).ToArray())
            {
                Credentials = proxyCredentials,
            };
        }
        if (TransferSecurity.ServerCredentials(request.Credentials, request.Url) is { } serverCredentials)
        {
            handler.Credentials = serverCredentials;
            // after a Basic challenge was answered, later requests of this transfer send Basic at once (as WinHTTP does)
            handler.PreAuthenticate = true;
        }
        return handler;
    }

    /// <summary>
    /// Accepts a server certificate whose only problems are the ones <paramref name="ignore"/> names: a name mismatch,
    /// a time-invalid chain, an untrusted or partial chain, a wrong usage. Revocation, bad signatures and anything else
    /// still fail (BITS: CRL failures are fatal).
    /// </summary>
    public static bool CertificateAccepted(System.Net.Security.SslPolicyErrors errors, System.Security.Cryptography.X509Certificates.X509Chain? chain, TlsIgnore ignore)
    {
        if (errors.HasFlag(System.Net.Security.SslPolicyErrors.RemoteCertificateNotAvailable)) return false;
        if (errors.HasFlag(System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) && !ignore.HasFlag(TlsIgnore.NameMismatch)) return false;
        if (!errors.HasFlag(System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors)) return true;
        if (chain is null) return false;
        foreach (var status in chain.ChainStatus.Select(s => s.Status))
        {
            var allowed = status switch
            {
                System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.NoError => true,
                System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.NotTimeValid or
                    System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.NotTimeNested => ignore.HasFlag(TlsIgnore.DateInvalid),
                System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.UntrustedRoot or
                    System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.PartialChain => ignore.HasFlag(TlsIgnore.UnknownCa),
                System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.NotValidForUsage => ignore.HasFlag(TlsIgnore.WrongUsage),
                _ => false,
            };
            if (!allowed) return false;
        }
        return true;
    }

    private static bool BypassOnLocal(ProxyRoute route) => route.Bypass.Contains("<local>");

    // WebProxy's bypass list takes regular expressions; BITS's takes host names and *.suffix wildcards.
    private static string BypassPattern(string host) => "^" + Regex.Escape(host).Replace(@"\*", ".*") + "$";
}
