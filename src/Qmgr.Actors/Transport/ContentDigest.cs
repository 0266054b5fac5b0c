using System.Text.RegularExpressions;

namespace Qmgr.Transport;

/// <summary>
/// Reads the SHA-256 member of RFC 9530 integrity fields: <c>Repr-Digest</c> (the whole representation, valid on 200
/// and 206) and <c>Content-Digest</c> (this message's content: the whole file only on a 200 without content coding).
/// Values are RFC 8941 byte sequences, <c>sha-256=:BASE64:</c>; other algorithms are ignored.
/// </summary>
public static partial class ContentDigest
{
    [GeneratedRegex(@"(?:^|,)\s*sha-256\s*=\s*:([A-Za-z0-9+/=]+):", RegexOptions.IgnoreCase)]
    private static partial Regex Sha256Member();

    /// <summary>The 32-byte SHA-256 the response declares for the whole file, or null when it declares none (or garbage).</summary>
    /// <param name="response">the response whose headers are read.</param>
    /// <param name="wholeContent">true when the body is the whole file (a 200), so <c>Content-Digest</c> applies too.</param>
    public static byte[]? Sha256Of(HttpResponseMessage response, bool wholeContent)
    {
        foreach (var name in wholeContent ? new[] { "Repr-Digest", "Content-Digest" } : ["Repr-Digest"])
        {
            if (!response.Headers.TryGetValues(name, out var values) && !response.Content.Headers.TryGetValues(name, out values))
            {
                continue;
            }

            foreach (var value in values)
            {
                var match = Sha256Member().Match(value);
                if (!match.Success)
                {
                    continue;
                }

                var bytes = new byte[32];
                if (Convert.TryFromBase64String(match.Groups[1].Value, bytes, out var written) && written == 32)
                {
                    return bytes;
                }
            }
        }

        return null;
    }
}
