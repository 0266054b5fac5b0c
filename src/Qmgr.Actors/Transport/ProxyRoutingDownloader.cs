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
public sealed class ProxyRoutingDownloader(HttpClient defaultClient, Func<SocketsHttpHandler> createHandler) : IFileDownloader
{
    private readonly HttpFileDownloader _default = new(defaultClient);
    private readonly ConcurrentDictionary<string, HttpFileDownloader> _routes = new();

    /// <inheritdoc />
    public Task<DownloadOutcome> DownloadAsync(DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, CancellationToken cancellationToken) =>
        DownloaderFor(request.Proxy, request.FollowRedirects).DownloadAsync(request, observer, throttle, cancellationToken);

    private HttpFileDownloader DownloaderFor(ProxyRoute route, bool followRedirects)
    {
        if (route.Key == ProxyRoute.Default.Key && followRedirects) return _default;
        return _routes.GetOrAdd($"{route.Key}|redirects={followRedirects}", _ =>
        {
            var handler = createHandler();
            handler.AllowAutoRedirect = followRedirects;
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

    private static bool BypassOnLocal(ProxyRoute route) => route.Bypass.Contains("<local>");

    // WebProxy's bypass list takes regular expressions; BITS's takes host names and *.suffix wildcards.
    private static string BypassPattern(string host) => "^" + Regex.Escape(host).Replace(@"\*", ".*") + "$";
}
