using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Qmgr.Tests.Support;

/// <summary>The challenge an <see cref="AuthLoopbackServer"/> sends and the answer it verifies.</summary>
public enum Challenge
{
    /// <summary>RFC 7617: <c>Basic realm="qmgr"</c>; the answer must be base64(user:password).</summary>
    Basic,
    /// <summary>RFC 7616 with <c>algorithm=MD5, qop="auth"</c>; the response hash is recomputed from the password.</summary>
    DigestMd5,
    /// <summary>RFC 7616 with <c>algorithm=SHA-256, qop="auth"</c>.</summary>
    DigestSha256,
    /// <summary>MS-NLMP over HTTP (RFC 4559 style): type 1 → a type 2 challenge → a type 3 whose NTLMv2 proof is
    /// recomputed from the password (NTOWFv2 = HMAC-MD5(MD4(password), UPPER(user) + domain)).</summary>
    Ntlm,
    /// <summary>RFC 4559 <c>Negotiate</c>: the first token is recorded (SPNEGO carrying an NTLM type 1 without a KDC), then refused.</summary>
    Negotiate,
}

/// <summary>One request as the server judged it.</summary>
/// <param name="Path">the request path.</param>
/// <param name="RawTarget">the request-target as sent (absolute-form through a proxy).</param>
/// <param name="Credentials">the Authorization (or Proxy-Authorization) header, or null.</param>
/// <param name="Status">the status sent back.</param>
/// <param name="Verified">true when the answer proved the configured user and password.</param>
/// <param name="NtlmType">for NTLM / Negotiate tokens: the NTLM message type found in the token (1, 3), else 0.</param>
/// <param name="User">the user name the answer carried (Digest username, NTLM type 3 user), or null.</param>
/// <param name="Domain">the NTLM type 3 domain, or null.</param>
public sealed record AuthAttempt(string Path, string RawTarget, string? Credentials, int Status, bool Verified, int NtlmType, string? User, string? Domain);

/// <summary>
/// A Kestrel server on 127.0.0.1 that demands one authentication scheme from an origin (401, <c>WWW-Authenticate</c>)
/// or, as a forward proxy, from a proxy client (407, <c>Proxy-Authenticate</c>; it then answers absolute-form requests
/// itself, as a caching proxy would), and verifies the answers against a known user and password.
/// </summary>
public sealed class AuthLoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Challenge _challenge;
    private readonly string _user;
    private readonly string _password;
    private readonly string _domain;
    private readonly bool _proxy;
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<AuthAttempt> _attempts = new();
    private readonly ConcurrentDictionary<string, byte[]> _nonces = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _ntlmChallenges = new(StringComparer.Ordinal);

    private AuthLoopbackServer(WebApplication app, Challenge challenge, string user, string password, string domain, bool proxy)
    {
        _app = app;
        _challenge = challenge;
        _user = user;
        _password = password;
        _domain = domain;
        _proxy = proxy;
    }

    /// <summary>Base address, e.g. <c>http://127.0.0.1:41234/</c> (as a proxy: the proxy's address).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Every request in arrival order.</summary>
    public IReadOnlyList<AuthAttempt> Attempts => _attempts.ToArray();

    /// <summary>Starts the server; <paramref name="domain"/> is the NTLM domain the type 3 must name.</summary>
    public static async Task<AuthLoopbackServer> StartAsync(Challenge challenge, string user, string password, string domain = "", bool asProxy = false)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new AuthLoopbackServer(app, challenge, user, password, domain, asProxy);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    /// <summary>Serves <paramref name="content"/> at <paramref name="path"/> to authenticated requests.</summary>
    public void Add(string path, byte[] content) => _files[path] = content;

    /// <summary>The URL of <paramref name="path"/> on this server.</summary>
    public Uri UrlOf(string path) => new(BaseAddress, path.TrimStart('/'));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private string AskHeader => _proxy ? "Proxy-Authenticate" : "WWW-Authenticate";

    private async Task HandleAsync(HttpContext context)
    {
        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "";
        var path = context.Request.Path.Value ?? "/";
        var answer = context.Request.Headers[_proxy ? "Proxy-Authorization" : "Authorization"].ToString();
        var credentials = answer.Length == 0 ? null : answer;
        var (verified, ntlmType, user, domain, next) = credentials is null ? (false, 0, null, null, null) : Judge(context, credentials);
        var status = verified ? 200 : _proxy ? 407 : 401;
        _attempts.Enqueue(new AuthAttempt(path, rawTarget, credentials, status, verified, ntlmType, user, domain));
        if (!verified)
        {
            context.Response.StatusCode = status;
            context.Response.Headers[AskHeader] = next ?? FreshChallenge();
            context.Response.ContentLength = 0;
            return;
        }

        if (!_files.TryGetValue(path, out var content))
        {
            context.Response.StatusCode = 404;
            return;
        }

        context.Response.ContentLength = content.Length;
        context.Response.Headers.ETag = "\"auth-" + content.Length + "\"";
        await context.Response.Body.WriteAsync(content);
    }

    private string FreshChallenge()
    {
        switch (_challenge)
        {
            case Challenge.Basic:
                return "Basic realm=\"qmgr\"";
            case Challenge.DigestMd5 or Challenge.DigestSha256:
                var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
                _nonces[nonce] = [];
                var algorithm = _challenge == Challenge.DigestMd5 ? "MD5" : "SHA-256";
                return $"Digest realm=\"qmgr\", qop=\"auth\", algorithm={algorithm}, nonce=\"{nonce}\", opaque=\"0pq\"";
            case Challenge.Ntlm:
                return "NTLM";
            default:
                return "Negotiate";
        }
    }

    private (bool Verified, int NtlmType, string? User, string? Domain, string? Next) Judge(HttpContext context, string credentials)
    {
        var space = credentials.IndexOf(' ');
        var scheme = space < 0 ? credentials : credentials[..space];
        var data = space < 0 ? "" : credentials[(space + 1)..].Trim();
        switch (_challenge)
        {
            case Challenge.Basic when scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase):
                var expected = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_user}:{_password}"));
                var givenUser = TryBase64(data) is { } plain ? Encoding.UTF8.GetString(plain).Split(':')[0] : null;
                return (data == expected, 0, givenUser, null, null);
            case Challenge.DigestMd5 or Challenge.DigestSha256 when scheme.Equals("Digest", StringComparison.OrdinalIgnoreCase):
                return JudgeDigest(context.Request.Method, data);
            case Challenge.Ntlm when scheme.Equals("NTLM", StringComparison.OrdinalIgnoreCase):
                return JudgeNtlm(context.Connection.Id, TryBase64(data) ?? []);
            case Challenge.Negotiate when scheme.Equals("Negotiate", StringComparison.OrdinalIgnoreCase):
                var token = TryBase64(data) ?? [];
                var at = token.AsSpan().IndexOf("NTLMSSP\0"u8);
                var type = at >= 0 && token.Length >= at + 12 ? BinaryPrimitives.ReadInt32LittleEndian(token.AsSpan(at + 8)) : 0;
                return (false, type, null, null, null);
            default:
                return (false, 0, null, null, null);
        }
    }

    private (bool, int, string?, string?, string?) JudgeDigest(string method, string data)
    {
        var p = DigestParameters(data);
        string Get(string key) => p.TryGetValue(key, out var v) ? v : "";
        var user = Get("username");
        var sha256 = _challenge == Challenge.DigestSha256;
        Func<string, string> h = sha256
            ? s => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)))
            : s => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(s)));
        var nonce = Get("nonce");
        var knownNonce = _nonces.ContainsKey(nonce);
        var algorithmOk = string.Equals(Get("algorithm"), sha256 ? "SHA-256" : "MD5", StringComparison.OrdinalIgnoreCase);
        var ha1 = h($"{user}:{Get("realm")}:{_password}");
        var ha2 = h($"{method}:{Get("uri")}");
        var expected = h($"{ha1}:{nonce}:{Get("nc")}:{Get("cnonce")}:{Get("qop")}:{ha2}");
        var verified = knownNonce && algorithmOk && user == _user && Get("realm") == "qmgr" && Get("qop") == "auth"
            && Get("opaque") == "0pq" && string.Equals(Get("response"), expected, StringComparison.OrdinalIgnoreCase);
        return (verified, 0, user, null, null);
    }

    private static Dictionary<string, string> DigestParameters(string data)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < data.Length)
        {
            while (i < data.Length && (data[i] == ',' || data[i] == ' ')) i++;
            var eq = data.IndexOf('=', i);
            if (eq < 0) break;
            var key = data[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < data.Length && data[i] == '"')
            {
                var end = data.IndexOf('"', i + 1);
                value = data[(i + 1)..end];
                i = end + 1;
            }
            else
            {
                var end = data.IndexOf(',', i);
                if (end < 0) end = data.Length;
                value = data[i..end].Trim();
                i = end;
            }

            result[key] = value;
        }

        return result;
    }

    private (bool, int, string?, string?, string?) JudgeNtlm(string connection, byte[] token)
    {
        if (token.Length < 12 || !token.AsSpan(0, 8).SequenceEqual("NTLMSSP\0"u8)) return (false, 0, null, null, null);
        var type = BinaryPrimitives.ReadInt32LittleEndian(token.AsSpan(8));
        if (type == 1)
        {
            var challenge = RandomNumberGenerator.GetBytes(8);
            _ntlmChallenges[connection] = challenge;
            return (false, 1, null, null, "NTLM " + Convert.ToBase64String(ChallengeMessage(challenge)));
        }

        if (type != 3 || !_ntlmChallenges.TryRemove(connection, out var serverChallenge)) return (false, type, null, null, null);
        var nt = Field(token, 20);
        var domain = Encoding.Unicode.GetString(Field(token, 28));
        var user = Encoding.Unicode.GetString(Field(token, 36));
        if (nt.Length <= 16) return (false, 3, user, domain, null);
        // MS-NLMP 3.3.2: NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge + temp), NtChallengeResponse = NTProofStr + temp
        var ntowf = HMACMD5.HashData(Md4.Hash(Encoding.Unicode.GetBytes(_password)), Encoding.Unicode.GetBytes(_user.ToUpperInvariant() + _domain));
        var proof = HMACMD5.HashData(ntowf, serverChallenge.Concat(nt[16..]).ToArray());
        var verified = proof.AsSpan().SequenceEqual(nt.AsSpan(0, 16)) && user == _user && domain == _domain;
        return (verified, 3, user, domain, null);
    }

    private static byte[] Field(byte[] message, int at)
    {
        var length = BinaryPrimitives.ReadUInt16LittleEndian(message.AsSpan(at));
        var offset = BinaryPrimitives.ReadInt32LittleEndian(message.AsSpan(at + 4));
        return offset + length <= message.Length ? message.AsSpan(offset, length).ToArray() : [];
    }

    /// <summary>An MS-NLMP CHALLENGE_MESSAGE with the flags .NET's NTLMv2 client requires and NetBIOS names.</summary>
    private static byte[] ChallengeMessage(byte[] serverChallenge)
    {
        var targetName = Encoding.Unicode.GetBytes("QMGR");
        var info = new List<byte>();
        void Av(ushort id, byte[] value)
        {
            info.AddRange(BitConverter.GetBytes(id));
            info.AddRange(BitConverter.GetBytes((ushort)value.Length));
            info.AddRange(value);
        }

        Av(2, Encoding.Unicode.GetBytes("QMGR"));       // MsvAvNbDomainName
        Av(1, Encoding.Unicode.GetBytes("LOOPBACK"));   // MsvAvNbComputerName
        Av(7, BitConverter.GetBytes(DateTime.UtcNow.ToFileTimeUtc())); // MsvAvTimestamp
        Av(0, []);                                      // MsvAvEOL
        const uint flags = 0x00000001 | 0x00000004 | 0x00000010 | 0x00000200 | 0x00008000 | 0x00010000 | 0x00080000
            | 0x00800000 | 0x02000000 | 0x20000000 | 0x40000000;
        var message = new byte[56 + targetName.Length + info.Count];
        "NTLMSSP\0"u8.CopyTo(message);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(8), 2);
        WriteField(message, 12, targetName.Length, 56);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(20), flags);
        serverChallenge.CopyTo(message, 24);
        WriteField(message, 40, info.Count, 56 + targetName.Length);
        message[48] = 6;
        message[49] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(50), 7600);
        message[55] = 15;
        targetName.CopyTo(message, 56);
        info.ToArray().CopyTo(message, 56 + targetName.Length);
        return message;
    }

    private static void WriteField(byte[] message, int at, int length, int offset)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(at), (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(at + 2), (ushort)length);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(at + 4), offset);
    }

    private static byte[]? TryBase64(string data)
    {
        try
        {
            return Convert.FromBase64String(data);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>RFC 1320 MD4 (not in .NET's public API), only for recomputing the NTLM hash of the known password.</summary>
    private static class Md4
    {
        public static byte[] Hash(byte[] input)
        {
            var length = input.Length;
            var padded = new byte[((length + 8) / 64 + 1) * 64];
            input.CopyTo(padded, 0);
            padded[length] = 0x80;
            BinaryPrimitives.WriteUInt64LittleEndian(padded.AsSpan(padded.Length - 8), (ulong)length * 8);
            uint a = 0x67452301, b = 0xefcdab89, c = 0x98badcfe, d = 0x10325476;
            var x = new uint[16];
            for (var block = 0; block < padded.Length; block += 64)
            {
                for (var i = 0; i < 16; i++) x[i] = BinaryPrimitives.ReadUInt32LittleEndian(padded.AsSpan(block + i * 4));
                uint aa = a, bb = b, cc = c, dd = d;
                static uint Rotl(uint v, int s) => (v << s) | (v >> (32 - s));
                int[] s1 = [3, 7, 11, 19], s2 = [3, 5, 9, 13], s3 = [3, 9, 11, 15];
                for (var i = 0; i < 16; i++)
                {
                    var t = a + ((b & c) | (~b & d)) + x[i];
                    (a, b, c, d) = (d, Rotl(t, s1[i % 4]), b, c);
                }

                for (var i = 0; i < 16; i++)
                {
                    var k = (i % 4) * 4 + i / 4;
                    var t = a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5a827999;
                    (a, b, c, d) = (d, Rotl(t, s2[i % 4]), b, c);
                }

                int[] order = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];
                for (var i = 0; i < 16; i++)
                {
                    var t = a + (b ^ c ^ d) + x[order[i]] + 0x6ed9eba1;
                    (a, b, c, d) = (d, Rotl(t, s3[i % 4]), b, c);
                }

                a += aa;
                b += bb;
                c += cc;
                d += dd;
            }

            var digest = new byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(digest.AsSpan(0), a);
            BinaryPrimitives.WriteUInt32LittleEndian(digest.AsSpan(4), b);
            BinaryPrimitives.WriteUInt32LittleEndian(digest.AsSpan(8), c);
            BinaryPrimitives.WriteUInt32LittleEndian(digest.AsSpan(12), d);
            return digest;
        }
    }
}
