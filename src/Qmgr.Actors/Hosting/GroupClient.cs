using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Qmgr.Groups;

namespace Qmgr.Hosting;

/// <summary>
/// The low-level client of the group shard region: sends BITS commands and reads group state (the CLI and
/// <see cref="Api.IQueueManager"/> are built on it).
/// Every call takes a timeout/cancellation; commands answer <see cref="CommandResult"/> only after persisting.
/// </summary>
public sealed class GroupClient(ActorSystem system, IActorRef groupRegion)
{
    /// <summary>Default time to wait for a reply.</summary>
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The queue manager of a hosted system (group region from the <see cref="ActorRegistry"/>).</summary>
    public static GroupClient From(ActorSystem system) => new(system, ActorRegistry.For(system).Get<GroupRegion>());

    /// <summary>Sends a group or job command; throws <see cref="Api.QmgrException"/> with <see cref="HResults.ERROR_TIMEOUT"/>
    /// after <see cref="AskTimeout"/> without an answer.</summary>
    public async Task<CommandResult> SendAsync(IGroupCommand command, CancellationToken cancellationToken = default)
    {
        try
        {
            return await groupRegion.Ask<CommandResult>(command, AskTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw new Api.QmgrException(HResults.ERROR_TIMEOUT,
                $"group {command.GroupId:D} did not answer within {AskTimeout.TotalSeconds:F0} s (its node may be failing over): the change may or may not have been made; read the group and try again");
        }
    }

    /// <summary>The group's state (<c>Exists</c> false when unknown, or when <paramref name="caller"/> is neither its owner nor
    /// an <paramref name="administrator"/>; null = the node itself). Starts and recovers the group if it was not running.
    /// Throws <see cref="Api.QmgrException"/> with <see cref="HResults.ERROR_TIMEOUT"/> after <see cref="AskTimeout"/>.
    /// A query is idempotent, so it is asked again every <see cref="QueryAttemptTimeout"/> until <see cref="AskTimeout"/>:
    /// while a dead node is being downed (about 13 s), its region still looks alive and a message to it is lost; the
    /// next attempt after the hand-over reaches the group on its new node.</summary>
    public async Task<GroupState> GetGroupAsync(Guid groupId, CancellationToken cancellationToken = default, string? caller = null, bool administrator = false)
    {
        var query = new GroupQueries.GetGroup(groupId, caller, administrator);
        var deadline = DateTime.UtcNow + AskTimeout;
        while (true)
        {
            var attempt = DateTime.UtcNow + QueryAttemptTimeout < deadline ? QueryAttemptTimeout : deadline - DateTime.UtcNow;
            try
            {
                return await groupRegion.Ask<GroupState>(query, attempt, cancellationToken).ConfigureAwait(false);
            }
            catch (AskTimeoutException) when (DateTime.UtcNow + TimeSpan.FromMilliseconds(100) < deadline)
            {
                // lost on the way to a node that is going away: ask again
            }
            catch (AskTimeoutException)
            {
                throw new Api.QmgrException(HResults.ERROR_TIMEOUT, $"group {groupId:D} did not answer within {AskTimeout.TotalSeconds:F0} s (its node may be failing over); try again");
            }
        }
    }

    /// <summary>How long one attempt of a query waits before it is asked again (<see cref="GetGroupAsync"/>).</summary>
    public static readonly TimeSpan QueryAttemptTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The address of the node running the group now (<c>akka.tcp://qmgr@host:port</c>, this node's own address when it
    /// runs here), from the group region's entity-location query; null when no node runs it (never started since the
    /// cluster came up, passivated, or its shard not yet allocated). Does not start the group. Throws
    /// <see cref="AskTimeoutException"/> after <see cref="AskTimeout"/>.
    /// </summary>
    public async Task<string?> GetNodeAsync(Guid groupId, CancellationToken cancellationToken = default)
    {
        var location = await groupRegion.Ask<EntityLocation>(new GetEntityLocation(groupId.ToString("N"), LocationTimeout), AskTimeout, cancellationToken)
            .ConfigureAwait(false);
        return location.EntityRef.HasValue && location.ShardRegion.HasGlobalScope ? location.ShardRegion.ToString() : null;
    }

    // how long the region waits for the entity's node to confirm the entity is alive
    private static readonly TimeSpan LocationTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Ids of every group ever created, in creation order (cancelled ones too: their state says so): the persistence
    /// ids of the <see cref="Persistence.GroupTagger.Tag"/> events, via the SQL read journal's tag table — not a scan of
    /// the journal's persistence ids. Eventually consistent: the read journal returns once its view of the journal has
    /// caught up with the newest row at the call (about <c>journal-sequence-retrieval.query-delay</c>).
    /// </summary>
    public async Task<IReadOnlyList<Guid>> GetGroupIdsAsync(CancellationToken cancellationToken = default)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var ids = await journal.CurrentEventsByTag(Persistence.GroupTagger.Tag, Offset.NoOffset())
            .Select(e => e.PersistenceId)
            .RunWith(Sink.Seq<string>(), system.Materializer())
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return GroupIdsOf(ids);
    }

    /// <summary>Group ids of <paramref name="persistenceIds"/> (<c>group-{id:N}</c>), first occurrence order; other ids are skipped.</summary>
    public static IReadOnlyList<Guid> GroupIdsOf(IEnumerable<string> persistenceIds) =>
        Persistence.StoreReader.GroupIdsOf(persistenceIds).Distinct().ToList();
}
