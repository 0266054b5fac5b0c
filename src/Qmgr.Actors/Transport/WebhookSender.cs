using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Qmgr.Transport;

/// <summary>
/// POSTs one webhook delivery (plain .NET, no Akka): the JSON body as sent, <c>X-Qmgr-Signature: sha256=HEX</c> — the
/// HMAC-SHA256 of the body's UTF-8 bytes keyed with the group's secret (the scheme GitHub's webhooks use) —,
/// <c>X-Qmgr-Delivery</c> (the delivery id, the same on every retry, so a receiver can drop duplicates) and
/// <c>X-Qmgr-Event</c> (the kind). Only a 2xx counts as delivered.
/// </summary>
public sealed class WebhookSender(HttpClient http)
{
    /// <summary>Name of the <see cref="HttpClient"/> (IHttpClientFactory) deliveries use: no redirects.</summary>
    public const string HttpClientName = "qmgr-webhook";

    /// <summary>The signature header's value for <paramref name="body"/> and <paramref name="secret"/>: <c>sha256=</c> + lowercase hex.</summary>
    public static string Signature(string body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    /// <summary>Sends the delivery; returns null when a 2xx answered, else the one-line reason (status, or the
    /// connection error). Never throws for HTTP or network failures; gives up after <paramref name="timeout"/>.</summary>
    public async Task<string?> SendAsync(Guid deliveryId, string kind, string url, string body, string secret, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add("X-Qmgr-Signature", Signature(body, secret));
        request.Headers.Add("X-Qmgr-Delivery", deliveryId.ToString("D"));
        request.Headers.Add("X-Qmgr-Event", kind);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            return response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no answer within {timeout.TotalSeconds:0} s";
        }
        catch (HttpRequestException ex)
        {
            return ex.Message;
        }
    }
}
