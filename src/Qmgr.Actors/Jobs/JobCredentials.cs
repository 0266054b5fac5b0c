using Microsoft.AspNetCore.DataProtection;

namespace Qmgr.Jobs;

/// <summary>Whom credentials are for, with BITS's <c>BG_AUTH_TARGET</c> values.</summary>
public enum AuthTarget
{
    Server = 1,
    Proxy = 2,
}

/// <summary>The authentication scheme, with BITS's <c>BG_AUTH_SCHEME</c> values. Basic, Digest, NTLM and Negotiate answer
/// challenges of their scheme through SocketsHttpHandler; Passport (a retired Microsoft service) is stored and never sent.</summary>
public enum AuthScheme
{
    Basic = 1,
    Digest = 2,
    Ntlm = 3,
    Negotiate = 4,
    Passport = 5,
}

/// <summary>
/// One (target, scheme) credential of a job, kept only as Data Protection ciphertext: the journal, snapshots, logs
/// and messages between nodes never hold the user name or password in clear (BITS: credentials are never readable).
/// </summary>
public sealed record ProtectedCredentials(AuthTarget Target, AuthScheme Scheme, string Protected);

/// <summary>A user name and password in clear, only ever inside one process (the API call, the transfer).</summary>
public sealed record PlainCredentials(string UserName, string Password);

/// <summary>
/// Encrypts and decrypts job secrets (credentials, custom headers) with ASP.NET Core Data Protection; the key ring
/// lives in the data directory (<c>keys/</c>), shared by every node of a cluster through the shared storage.
/// Throws <see cref="System.Security.Cryptography.CryptographicException"/> for ciphertext from another key ring.
/// </summary>
public sealed class SecretProtector(IDataProtectionProvider provider)
{
    private readonly IDataProtector _credentials = provider.CreateProtector("Qmgr.Jobs.Credentials.v1");
    private readonly IDataProtector _headers = provider.CreateProtector("Qmgr.Jobs.CustomHeaders.v1");
    private readonly IDataProtector _webhooks = provider.CreateProtector("Qmgr.Groups.WebhookSecret.v1");

    /// <summary>Ciphertext of a user name and password.</summary>
    public string Protect(PlainCredentials credentials) =>
        _credentials.Protect(System.Text.Json.JsonSerializer.Serialize(credentials));

    /// <summary>The clear credentials of <paramref name="ciphertext"/>.</summary>
    public PlainCredentials UnprotectCredentials(string ciphertext) =>
        System.Text.Json.JsonSerializer.Deserialize<PlainCredentials>(_credentials.Unprotect(ciphertext))!;

    /// <summary>Ciphertext of custom header lines (CRLF-separated, as BITS <c>SetCustomHeaders</c> takes them).</summary>
    public string ProtectHeaders(string headers) => _headers.Protect(headers);

    /// <summary>The clear header lines of <paramref name="ciphertext"/>.</summary>
    public string UnprotectHeaders(string ciphertext) => _headers.Unprotect(ciphertext);

    /// <summary>Ciphertext of a group's webhook HMAC secret.</summary>
    public string ProtectWebhookSecret(string secret) => _webhooks.Protect(secret);

    /// <summary>The clear webhook secret of <paramref name="ciphertext"/>.</summary>
    public string UnprotectWebhookSecret(string ciphertext) => _webhooks.Unprotect(ciphertext);
}
