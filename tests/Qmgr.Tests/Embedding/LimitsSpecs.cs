using Akka.Configuration;
using Qmgr.Api;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>BITS's per-owner job limit (MaxJobsPerUser) across groups, with administrators exempt.</summary>
public sealed class LimitsSpecs : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task An_owner_at_the_job_limit_gets_BG_E_TOO_MANY_JOBS_PER_USER_until_a_job_ends()
    {
        // arrange: two unfinished jobs per owner
        await using var node = HostedQmgr.Start(_dir.File("data"), ConfigurationFactory.ParseString("qmgr.limits.max-jobs-per-owner = 2"));
        var frank = QueueManager.Create(node.System, "frank");
        var first = await (await frank.CreateGroupAsync("one")).CreateJobAsync("a");
        var other = await frank.CreateGroupAsync("two");
        await other.CreateJobAsync("b");

        // act
        var refused = await Assert.ThrowsAsync<QmgrException>(() => other.CreateJobAsync("c"));
        var byAdmin = await (await frank.ForCaller("root", isAdministrator: true).GetGroupAsync(other.Id)).CreateJobAsync("by admin");
        await first.CancelAsync();
        var stillFull = await Assert.ThrowsAsync<QmgrException>(() => other.CreateJobAsync("c")); // the administrator's job counts for the group's owner
        await byAdmin.CancelAsync();
        var afterCancel = await other.CreateJobAsync("d");
        var grace = await QueueManager.Create(node.System, "grace").CreateGroupAsync("g");
        var othersUnaffected = await grace.CreateJobAsync("e");

        // assert
        Assert.Equal(HResults.BG_E_TOO_MANY_JOBS_PER_USER, refused.HResult);
        Assert.Equal(HResults.BG_E_TOO_MANY_JOBS_PER_USER, stillFull.HResult);
        Assert.NotEqual(Guid.Empty, afterCancel.Id);
        Assert.NotEqual(Guid.Empty, othersUnaffected.Id);
    }
}
