using System.Collections.Concurrent;
using System.Net;
using System.Text.RegularExpressions;

namespace Qmgr.Transport;

/// <summary>
/// An <see cref="IFileDownloader"/> that sends each transfer through the HTTP client of its route — its
/// <see cref="ProxyRoute"/> and whether redirects are followed: the default client (the host's, from
/// IHttpClientFactory) for the default route, and one client per other route, created on first use with
/// <paramref name="createHandler"/> and kept for the process's life.
/// </summary>
public sealed class ProxyRoutingDownloader(HttpClient defaultClient, Func<SocketsHttpHandler> createHandler) : IFileDownloader, IUploadSessionCanceller
{
    private readonly HttpFileDownloader _default = new(defaultClient);
    private readonly ConcurrentDictionary<string, HttpFileDownloader> _routes = new();

    private readonly ConcurrentDictionary<HttpFileDownloader, BitsUploader> _uploaders = new();

    /// <inheritdoc />
    /// <remarks>A request with <see cref="DownloadRequest.Upload"/> is an upload: it runs <see cref="BitsUploader"/> over the
    /// same route's client (its observer must be an <see cref="IUploadObserver"/>).</remarks>
    public Task<DownloadOutcome> DownloadAsync(DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, CancellationToken cancellationToken) =>
        request.Upload is null
            ? DownloaderFor(request.Proxy, request.FollowRedirects, request.TlsIgnore).DownloadAsync(request, observer, throttle, cancellationToken)
            : UploaderFor(request).UploadAsync(request, (IUploadObserver)observer, throttle, cancellationToken);

    /// <summary>Sends <c>Cancel-Session</c> for the upload session of <paramref name="request"/> over its route (<see cref="BitsUploader.CancelSessionAsync"/>).</summary>
    public Task<bool> CancelUploadSessionAsync(DownloadRequest request, CancellationToken cancellationToken) =>
        UploaderFor(request).CancelSessionAsync(request, cancellationToken);

    private BitsUploader UploaderFor(DownloadRequest request)
    {
        var downloader = DownloaderFor(request.Proxy, request.FollowRedirects, request.TlsIgnore);
        return _uploaders.GetOrAdd(downloader, d => new BitsUploader(d.Client, d));
    }

    private HttpFileDownloader DownloaderFor(ProxyRoute route, bool followRedirects, TlsIgnore tlsIgnore)
    {
        if (route.Key == ProxyRoute.Default.Key && followRedirects && tlsIgnore == TlsIgnore.None) return _default;
        return _routes.GetOrAdd($"{route.Key}|redirects={followRedirects}|tls={(int)tlsIgnore}", _ =>
        {
            var handler = createHandler();
            handler.AllowAutoRedirect = followRedirects;
            if (tlsIgnore != TlsIgnore.None)
                handler.SslOptions.RemoteCertificateValidationCallback = (_, _, chain, errors) => CertificateAccepted(errors, chain, tlsIgnore);
            if (route.Key == ProxyRoute.Default.Key)
            {
                // the process default proxy, as the default client has
            }
            else if (route.DirectConnection)
                handler.UseProxy = false;
            else
            {
                handler.UseProxy = true;
                handler.Proxy = new WebProxy(route.Proxy!, BypassOnLocal(route), route.Bypass.Where(b => b != "<local>").Select(BypassPattern).ToArray());
            }
            return new HttpFileDownloader(new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan });
        });
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
