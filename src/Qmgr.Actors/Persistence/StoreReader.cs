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
    public static T Decode<T>(byte[] payload, string manifest) where T : class =>
        (T)JsonSerializer.Deserialize(payload, QmgrManifests.TypeOf(manifest), Json)!;
}
