using System.Security.Claims;
using Qmgr.Api;

namespace Qmgr.Host.Service;

/// <summary>The caller of a request as the one façade sees it.</summary>
public static class CallerContext
{
    /// <summary>Header with which an administrator token acts for another owner (BITS: an administrator acting for a user).</summary>
    public const string ActAsHeader = "X-Qmgr-Caller";

    /// <summary>
    /// The <see cref="IQueueManager"/> of the authenticated token's owner (an administrator sees every group). With
    /// <see cref="ActAsHeader"/> the request acts as the owner it names without administrator rights: naming the token's
    /// own owner is allowed to every token (an administrator's CLI acts as a plain user that way, so BITS's per-owner
    /// limits apply to it); naming another owner needs an administrator token, else E_ACCESSDENIED.
    /// </summary>
    public static IQueueManager QueueManager(this HttpContext context)
    {
        var user = context.User;
        var owner = user.FindFirstValue(BearerTokenHandler.OwnerClaim) ?? throw new QmgrException(HResults.E_ACCESSDENIED, "not authenticated");
        var administrator = user.IsInRole(BearerTokenHandler.AdministratorRole);
        var qm = context.RequestServices.GetRequiredService<IQueueManager>();
        if (context.Request.Headers[ActAsHeader] is { Count: > 0 } actAs && actAs.ToString() is { Length: > 0 } other)
        {
            if (other != owner && !administrator) throw new QmgrException(HResults.E_ACCESSDENIED, $"only an administrator token may act for another owner ({ActAsHeader})");
            return qm.ForCaller(other, isAdministrator: false);
        }
        return qm.ForCaller(owner, administrator);
    }

    /// <summary>Parses an id from the route; E_INVALIDARG naming the text when it is not a GUID.</summary>
    public static Guid ParseId(string text, string what) =>
        Guid.TryParse(text, out var id) ? id : throw new QmgrException(HResults.E_INVALIDARG, $"not a {what} id (a GUID): {text}");
}
