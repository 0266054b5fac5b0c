using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Actors;

/// <summary>BITS per-owner visibility is the group actor's own rule (Decision 11), not only the façade's.</summary>
public sealed class OwnerVisibilitySpecs : EmbeddedNodeSpecs
{
    public OwnerVisibilitySpecs() : base("alice") { }

    [Fact]
    public async Task A_group_answers_another_owners_query_as_an_unknown_group_whoever_sends_it()
    {
        var group = await Qm.CreateGroupAsync("alice's");
        await group.CreateJobAsync("j");
        var region = Node.QueueManager; // straight to the shard region, past every façade

        var asBob = await region.GetGroupAsync(group.Id, caller: "bob");
        var asAlice = await region.GetGroupAsync(group.Id, caller: "alice");
        var asAdministrator = await region.GetGroupAsync(group.Id, caller: "root", administrator: true);

        Assert.False(asBob.Exists);
        Assert.Empty(asBob.Jobs);
        Assert.Equal("", asBob.Owner);
        Assert.True(asAlice.Exists);
        Assert.Single(asAlice.Jobs);
        Assert.Equal("alice", asAdministrator.Owner);
        Assert.Equal(HResults.BG_E_NOT_FOUND, await RefusedAsync(() => Qm.ForCaller("bob").GetGroupAsync(group.Id)));
    }
}
