using System.Net;
using Qmgr.Jobs;
using Qmgr.Transport;

namespace Qmgr.Transfers;

/// <summary>
/// Turns a job's encrypted secrets into what the transport sends, in the transferring process only: custom header
/// lines (<c>Name: value</c>, CRLF-separated, as BITS <c>SetCustomHeaders</c> takes them) become request headers;
/// credentials become <see cref="TransferCredentials"/> that SocketsHttpHandler uses to answer a challenge of their own
/// scheme (Basic RFC 7617, Digest RFC 7616, NTLM and Negotiate RFC 4559), as BITS answers challenges with the pair
/// stored for that (target, scheme) (bits-spec §2.12).
/// </summary>
public static class RequestHeaders
{
    /// <summary>The custom headers; empty when there are none. Throws <see cref="InvalidOperationException"/> when there are some but <paramref name="secrets"/> is null.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> From(string? protectedHeaders, SecretProtector? secrets)
    {
        if (protectedHeaders is null) return [];
        if (secrets is null) throw new InvalidOperationException("this node has no key ring to decrypt job secrets");
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in secrets.UnprotectHeaders(protectedHeaders).Split(["\r\n", "\n"], StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
        }
        return headers;
    }

    /// <summary>
    /// The clear credentials per target and scheme name, or null when the job has none. Passport (a retired Microsoft
    /// service) has no HTTP handler and is left out. A user name <c>DOMAIN\user</c> gives the NTLM/Negotiate domain;
    /// an empty user name for NTLM or Negotiate means the process's own credentials (BITS: implicit credentials; on
    /// Linux a Kerberos ticket for Negotiate, nothing for NTLM). Throws <see cref="InvalidOperationException"/> when
    /// there are credentials but <paramref name="secrets"/> is null.
    /// </summary>
    public static TransferCredentials? CredentialsFrom(IReadOnlyList<ProtectedCredentials> credentials, SecretProtector? secrets)
    {
        var usable = credentials.Where(c => c.Scheme != AuthScheme.Passport).ToList();
        if (usable.Count == 0) return null;
        if (secrets is null) throw new InvalidOperationException("this node has no key ring to decrypt job secrets");
        var server = new Dictionary<string, NetworkCredential>(StringComparer.OrdinalIgnoreCase);
        var proxy = new Dictionary<string, NetworkCredential>(StringComparer.OrdinalIgnoreCase);
        foreach (var c in usable)
        {
            var plain = secrets.UnprotectCredentials(c.Protected);
            (c.Target == AuthTarget.Proxy ? proxy : server)[SchemeName(c.Scheme)] = Network(c.Scheme, plain);
        }
        return new TransferCredentials(server, proxy);
    }

    /// <summary>The HTTP authentication scheme token of a BITS scheme (RFC 9110 §11 registry names).</summary>
    public static string SchemeName(AuthScheme scheme) => scheme switch
    {
        AuthScheme.Basic => "Basic",
        AuthScheme.Digest => "Digest",
        AuthScheme.Ntlm => "NTLM",
        AuthScheme.Negotiate => "Negotiate",
        _ => scheme.ToString(),
    };

    private static NetworkCredential Network(AuthScheme scheme, PlainCredentials plain)
    {
        if (scheme is AuthScheme.Ntlm or AuthScheme.Negotiate)
        {
            if (plain.UserName.Length == 0) return CredentialCache.DefaultNetworkCredentials;
            var slash = plain.UserName.IndexOf('\\');
            if (slash > 0) return new NetworkCredential(plain.UserName[(slash + 1)..], plain.Password, plain.UserName[..slash]);
        }
        return new NetworkCredential(plain.UserName, plain.Password);
    }
}
