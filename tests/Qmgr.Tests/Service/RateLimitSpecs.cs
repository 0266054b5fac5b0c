using System.Net;
using System.Text.Json;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Service;

/// <summary>ASP.NET Core's rate limiter, one token bucket per token (<c>qmgr.api.requests-per-second</c>, <c>request-burst</c>).</summary>
public sealed class RateLimitSpecs : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_token_over_its_burst_gets_429_problems_while_another_token_is_still_served()
    {
        await using var service = await ServiceNode.StartAsync(_dir.File("data"), "qmgr.api.requests-per-second = 1\nqmgr.api.request-burst = 3\n");
        using var alice = service.Http(ServiceNode.AliceToken);
        using var bob = service.Http(ServiceNode.BobToken);

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 6; i++)
        {
            var response = await alice.GetAsync("api/v1/me");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) refused ??= response;
        }
        var other = await bob.GetAsync("api/v1/me");

        Assert.InRange(statuses.Count(s => s == HttpStatusCode.OK), 3, 4); // the burst, plus one more if a second passed meanwhile
        Assert.NotNull(refused);
        using var problem = JsonDocument.Parse(await refused!.Content.ReadAsStringAsync());
        Assert.Equal("0x800700AA", problem.RootElement.GetProperty("code").GetString());
        Assert.Contains("requests per second", problem.RootElement.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }
}
