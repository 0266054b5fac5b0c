using System.Text.Json;
using Qmgr.Groups;
using Qmgr.Hosting;
using Qmgr.Serialization;

namespace Qmgr.Persistence;

/// <summary>A journaled group event with its persistence id (<c>group-{id:N}</c>) and sequence number (from 1).</summary>
public sealed record StoredEvent(string PersistenceId, long SequenceNr, IGroupEvent Event);

/// <summary>A group's newest snapshot: its persistence id, the sequence number it covers and the state.</summary>
public sealed record StoredSnapshot(string PersistenceId, long SequenceNr, GroupState State);

/// <summary>
/// Reads groups straight from a store without an actor system and without the data-directory lock (Decision 13:
/// read-only verbs such as <c>qmgr list</c>). Each group is its newest snapshot folded with the later events by
/// <see cref="GroupState.Apply"/>, exactly as recovery does. Implementations: <see cref="SqliteStore"/> and
/// <see cref="PostgresStore"/>; pick one with <see cref="StoreReader.For"/>. Store errors surface as
/// <see cref="System.Data.Common.DbException"/>, undecodable payloads as <see cref="JsonException"/> or
/// <see cref="System.Runtime.Serialization.SerializationException"/>.
/// </summary>
public interface IStoreReader
{
    /// <summary>Every group that exists (cancelled ones included: <see cref="GroupState.Cancelled"/> says so), in
    /// creation order. Empty when the store or its tables do not exist yet.</summary>
    IReadOnlyList<GroupState> ReadGroups();

    /// <summary>Every journaled group event, by persistence id then sequence number (for audits and tests). Empty when
    /// nothing is stored yet.</summary>
    IReadOnlyList<StoredEvent> ReadEvents();

    /// <summary>
    /// Ids of the groups that may have work: a job not yet Acknowledged or Cancelled (journaled <c>job-created</c>
    /// events outnumber <c>job-completed</c> and <c>job-cancelled</c> ones — the only two ways a job becomes final), or a
    /// webhook delivery due and not delivered. Counted by manifest in SQL, without reading a payload or waking a group:
    /// a node starts only these (10,000 finished groups cost one indexed scan, not 10,000 recoveries). Empty when
    /// nothing is stored yet. Errors as the store's reads.
    /// </summary>
    IReadOnlyList<Guid> UnfinishedGroupIds();
}

/// <summary>Chooses the <see cref="IStoreReader"/> of a store, and the pure parts both readers share.</summary>
public static class StoreReader
{
    private static readonly JsonSerializerOptions Json = QmgrJsonSerializer.CreateOptions();

    /// <summary>
    /// The reader of <paramref name="options"/>' store: <see cref="SqliteStore"/> on the database of
    /// <see cref="QmgrOptions.EffectiveConnectionString"/> (<c>DATA_DIR/qmgr.db</c> by default), or
    /// <see cref="PostgresStore"/> on its connection string. Opens nothing until a read; throws
    /// <see cref="InvalidOperationException"/> for PostgreSQL without a connection string.
    /// </summary>
    public static IStoreReader For(QmgrOptions options) => options.Store switch
    {
        QmgrStore.Postgres => new PostgresStore(options.EffectiveConnectionString),
        _ => SqliteStore.FromConnectionString(options.EffectiveConnectionString),
    };

    /// <summary>
    /// Folds groups as recovery does: each group starts from its snapshot (if any) and applies its events after the
    /// snapshot's sequence number, in order. Returns the groups that exist, in creation order. Pure.
    /// </summary>
    /// <param name="snapshots">the newest snapshot per persistence id.</param>
    /// <param name="events">events ordered by persistence id then sequence number; those covered by a snapshot are skipped.</param>
    public static IReadOnlyList<GroupState> Fold(IEnumerable<StoredSnapshot> snapshots, IEnumerable<StoredEvent> events)
    {
        var snapshotOf = snapshots.ToDictionary(s => s.PersistenceId);
        var groups = new Dictionary<string, GroupState>();
        foreach (var (pid, seq, e) in events)
        {
            var snapshot = snapshotOf.GetValueOrDefault(pid);
            if (snapshot is not null && seq <= snapshot.SequenceNr) continue;
            if (!groups.TryGetValue(pid, out var state))
                state = snapshot?.State ?? GroupState.Empty(GroupIdOf(pid));
            groups[pid] = state.Apply(e);
        }
        foreach (var s in snapshotOf.Values) groups.TryAdd(s.PersistenceId, s.State);
        return groups.Values.Where(g => g.Exists).OrderBy(g => g.CreationTime).ToList();
    }

    /// <summary>The group id of a persistence id <c>group-{id:N}</c>; throws <see cref="FormatException"/> for another id.</summary>
    public static Guid GroupIdOf(string persistenceId) =>
        Guid.ParseExact(persistenceId.AsSpan(GroupActor.PersistencePrefix.Length + 1), "N");

    /// <summary>A journal or snapshot payload written by <see cref="QmgrJsonSerializer"/>: JSON of the type its manifest names.</summary>
    /// <summary>The SQL both stores run for <see cref="IStoreReader.UnfinishedGroupIds"/> (standard SQL over the plugin's
    /// <c>journal</c> table; manifests are <see cref="QmgrManifests"/>' frozen names).</summary>
    internal const string UnfinishedGroupsSql = """
        SELECT persistence_id FROM journal
        WHERE persistence_id LIKE 'group-%' AND manifest IN ('job-created', 'job-completed', 'job-cancelled', 'webhook-delivery-due', 'webhook-delivered')
        GROUP BY persistence_id
        HAVING sum(CASE WHEN manifest = 'job-created' THEN 1 WHEN manifest IN ('job-completed', 'job-cancelled') THEN -1 ELSE 0 END) > 0
            OR sum(CASE WHEN manifest = 'webhook-delivery-due' THEN 1 WHEN manifest = 'webhook-delivered' THEN -1 ELSE 0 END) > 0
        """;

    /// <summary>Group ids of persistence ids <c>group-{id:N}</c>, in order; other ids are skipped.</summary>
    internal static IReadOnlyList<Guid> GroupIdsOf(IEnumerable<string> persistenceIds) => persistenceIds
        .Select(p => p.StartsWith(GroupActor.PersistencePrefix + "-", StringComparison.Ordinal)
                     && Guid.TryParseExact(p.AsSpan(GroupActor.PersistencePrefix.Length + 1), "N", out var g) ? g : (Guid?)null)
        .OfType<Guid>()
        .ToList();

    public static T Decode<T>(byte[] payload, string manifest) where T : class =>
        (T)JsonSerializer.Deserialize(payload, QmgrManifests.TypeOf(manifest), Json)!;
}
