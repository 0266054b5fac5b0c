using System.Text;
using Qmgr.Jobs;

namespace Qmgr.Transfers;

/// <summary>
/// Turns a job's encrypted secrets into request headers, in the transferring process only: Basic server credentials
/// become <c>Authorization: Basic …</c> (RFC 7617); custom header lines (<c>Name: value</c>, CRLF-separated, as BITS
/// <c>SetCustomHeaders</c> takes them) are sent as given. Proxy credentials and the Digest, NTLM, Negotiate and
/// Passport schemes are not sent yet (Qmgr has no proxy settings; a server that needs them answers 401).
/// HttpClient drops <c>Authorization</c> on redirects, so credentials never follow a redirect to another origin.
/// </summary>
public static class RequestHeaders
{
    /// <summary>The headers; empty when there are no secrets. Throws <see cref="InvalidOperationException"/> when secrets exist but <paramref name="secrets"/> is null.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> From(IReadOnlyList<ProtectedCredentials> credentials, string? protectedHeaders, SecretProtector? secrets)
    {
        if (credentials.Count == 0 && protectedHeaders is null) return [];
        if (secrets is null) throw new InvalidOperationException("this node has no key ring to decrypt job secrets");
        var headers = new List<KeyValuePair<string, string>>();
        if (protectedHeaders is not null)
        {
            foreach (var line in secrets.UnprotectHeaders(protectedHeaders).Split(["\r\n", "\n"], StringSplitOptions.RemoveEmptyEntries))
            {
                var colon = line.IndexOf(':');
                if (colon > 0) headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
            }
        }
        if (credentials.FirstOrDefault(c => c is { Target: AuthTarget.Server, Scheme: AuthScheme.Basic }) is { } basic)
        {
            var plain = secrets.UnprotectCredentials(basic.Protected);
            headers.Add(new("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{plain.UserName}:{plain.Password}"))));
        }
        return headers;
    }
}
