using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Qmgr.Groups;

namespace Qmgr.Hosting;

/// <summary>The node's health checks for ASP.NET Core health endpoints: liveness and readiness, by tag.</summary>
public static class QmgrHealthChecks
{
    /// <summary>Tag of the liveness checks (the actor system runs).</summary>
    public const string LiveTag = "live";

    /// <summary>Tag of the readiness checks (this node is an Up cluster member and the journal answers).</summary>
    public const string ReadyTag = "ready";

    /// <summary>Adds Akka.Hosting's actor-system liveness and cluster readiness checks, and a journal check.</summary>
    public static AkkaConfigurationBuilder WithQmgrHealthChecks(this AkkaConfigurationBuilder builder) => builder
        .WithActorSystemLivenessCheck(tags: [LiveTag])
        .WithAkkaClusterReadinessCheck(tags: [ReadyTag])
        .WithHealthCheck("qmgr-journal", JournalCheckAsync, tags: [ReadyTag]);

    // The journal is reachable when a group can be recovered from it: the all-zero group is never created, so the
    // probe reads the journal and writes nothing.
    private static async Task<HealthCheckResult> JournalCheckAsync(ActorSystem system, ActorRegistry registry, CancellationToken ct)
    {
        try
        {
            var state = await registry.Get<GroupRegion>().Ask<GroupState>(new GroupQueries.GetGroup(Guid.Empty), TimeSpan.FromSeconds(5), ct);
            return HealthCheckResult.Healthy($"journal reachable (probe group exists: {state.Exists})");
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy($"journal not reachable: {ex.Message}");
        }
    }
}
