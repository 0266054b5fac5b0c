using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Qmgr.Host.Service;

/// <summary>
/// The service's tokens: DATA_DIR/api-token (the local administrator, acting as the OS user who runs the service) and
/// <c>qmgr.api.tokens</c>. Lookups hash the presented token (SHA-256) and compare it with every known hash in constant
/// time (<see cref="CryptographicOperations.FixedTimeEquals"/>), so neither a match nor its position leaks by timing.
/// </summary>
public sealed class TokenStore
{
    private readonly (byte[] Hash, ApiToken Token)[] _tokens;

    public TokenStore(IEnumerable<ApiToken> tokens) => _tokens = tokens.Select(t => (Hash(t.Token), t)).ToArray();

    /// <summary>The token's owner and role, or null when it is not a known token.</summary>
    public ApiToken? Find(string presented)
    {
        var hash = Hash(presented);
        ApiToken? found = null;
        foreach (var (known, token) in _tokens)
            if (CryptographicOperations.FixedTimeEquals(hash, known)) found = token; // no early exit
        return found;
    }

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}

/// <summary>
/// <c>Authorization: Bearer TOKEN</c> (RFC 6750) against <see cref="TokenStore"/>: the principal carries the owner
/// (<see cref="OwnerClaim"/>) and <see cref="AdministratorRole"/>. No token or an unknown one is a 401 problem answer.
/// </summary>
public sealed class BearerTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, TokenStore tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "Bearer";

    /// <summary>The claim naming the BITS owner the token acts for.</summary>
    public const string OwnerClaim = "qmgr-owner";

    /// <summary>The role of administrator tokens.</summary>
    public const string AdministratorRole = "administrator";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header)) return Task.FromResult(AuthenticateResult.NoResult());
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(Fail("the Authorization header is not a bearer token"));
        if (tokens.Find(header["Bearer ".Length..].Trim()) is not { } token)
            return Task.FromResult(Fail("unknown bearer token"));
        List<Claim> claims = [new(OwnerClaim, token.Owner), new(ClaimTypes.Name, token.Owner)];
        if (token.Administrator) claims.Add(new Claim(ClaimTypes.Role, AdministratorRole));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    private const string FailureItem = "qmgr-authentication-failure";

    private AuthenticateResult Fail(string reason)
    {
        Context.Items[FailureItem] = reason;
        return AuthenticateResult.Fail(reason);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        var failure = Context.Items[FailureItem] as string;
        await Problems.WriteAsync(Context, StatusCodes.Status401Unauthorized, HResults.E_ACCESSDENIED,
            failure ?? "a bearer token is required (Authorization: Bearer TOKEN; the administrator's is in DATA_DIR/api-token)");
    }
}
