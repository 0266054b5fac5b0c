using Npgsql;
using Qmgr.Groups;

namespace Qmgr.Persistence;

/// <summary>
/// The shared store's read-only SQL (PostgreSQL, Akka.Persistence.Sql's default tables <c>journal</c>, <c>snapshot</c>,
/// <c>tags</c>): an <see cref="IStoreReader"/> that finds groups by their <see cref="GroupTagger.Tag"/> rows, then
/// reads each group's newest snapshot and the events after it (both by index). Runs in one repeatable-read read-only
/// transaction, so snapshots and events agree. Errors: <see cref="NpgsqlException"/> (unreachable server, bad credentials).
/// </summary>
public sealed class PostgresStore(string connectionString) : IStoreReader
{
    public IReadOnlyList<GroupState> ReadGroups() => Read((c, tx) =>
    {
        var pids = GroupPersistenceIds(c, tx);
        if (pids.Count == 0) return [];
        var snapshots = ReadSnapshots(c, tx, pids);
        var after = snapshots.ToDictionary(s => s.PersistenceId, s => s.SequenceNr);
        return StoreReader.Fold(snapshots, ReadEvents(c, tx, pids, pids.Select(p => after.GetValueOrDefault(p)).ToArray()));
    });

    public IReadOnlyList<StoredEvent> ReadEvents() => Read((c, tx) =>
    {
        var pids = GroupPersistenceIds(c, tx);
        return pids.Count == 0 ? [] : ReadEvents(c, tx, pids, new long[pids.Count]);
    });

    public IReadOnlyList<Guid> UnfinishedGroupIds() => Read((c, tx) =>
    {
        using var cmd = new NpgsqlCommand(StoreReader.UnfinishedGroupsSql, c, tx);
        using var r = cmd.ExecuteReader();
        var pids = new List<string>();
        while (r.Read()) pids.Add(r.GetString(0));
        return StoreReader.GroupIdsOf(pids);
    });

    private IReadOnlyList<T> Read<T>(Func<NpgsqlConnection, NpgsqlTransaction, IReadOnlyList<T>> body)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var tx = connection.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
        using (var ro = new NpgsqlCommand("SET TRANSACTION READ ONLY", connection, tx)) ro.ExecuteNonQuery();
        if (!TablesExist(connection, tx)) return [];
        var result = body(connection, tx);
        tx.Commit();
        return result;
    }

    private static bool TablesExist(NpgsqlConnection c, NpgsqlTransaction tx)
    {
        using var cmd = new NpgsqlCommand("SELECT to_regclass('journal') IS NOT NULL AND to_regclass('snapshot') IS NOT NULL AND to_regclass('tags') IS NOT NULL", c, tx);
        return (bool)cmd.ExecuteScalar()!;
    }

    private static List<string> GroupPersistenceIds(NpgsqlConnection c, NpgsqlTransaction tx)
    {
        using var cmd = new NpgsqlCommand("SELECT DISTINCT persistence_id FROM tags WHERE tag = $1", c, tx);
        cmd.Parameters.AddWithValue(GroupTagger.Tag);
        using var r = cmd.ExecuteReader();
        var pids = new List<string>();
        while (r.Read()) pids.Add(r.GetString(0));
        return pids;
    }

    private static List<StoredSnapshot> ReadSnapshots(NpgsqlConnection c, NpgsqlTransaction tx, List<string> pids)
    {
        using var cmd = new NpgsqlCommand("""
            SELECT DISTINCT ON (persistence_id) persistence_id, sequence_number, manifest, snapshot
            FROM snapshot WHERE persistence_id = ANY($1)
            ORDER BY persistence_id, sequence_number DESC
            """, c, tx);
        cmd.Parameters.AddWithValue(pids.ToArray());
        using var r = cmd.ExecuteReader();
        var result = new List<StoredSnapshot>();
        while (r.Read())
            result.Add(new StoredSnapshot(r.GetString(0), r.GetInt64(1), StoreReader.Decode<GroupState>((byte[])r[3], r.GetString(2))));
        return result;
    }

    /// <summary>Events of <paramref name="pids"/>[i] after sequence number <paramref name="after"/>[i], by persistence id then sequence number.</summary>
    private static List<StoredEvent> ReadEvents(NpgsqlConnection c, NpgsqlTransaction tx, List<string> pids, long[] after)
    {
        using var cmd = new NpgsqlCommand("""
            SELECT j.persistence_id, j.sequence_number, j.manifest, j.message
            FROM unnest($1::text[], $2::bigint[]) AS g(pid, after)
            JOIN journal j ON j.persistence_id = g.pid AND j.sequence_number > g.after
            WHERE NOT j.deleted
            ORDER BY j.persistence_id, j.sequence_number
            """, c, tx);
        cmd.Parameters.AddWithValue(pids.ToArray());
        cmd.Parameters.AddWithValue(after);
        using var r = cmd.ExecuteReader();
        var result = new List<StoredEvent>();
        while (r.Read())
            result.Add(new StoredEvent(r.GetString(0), r.GetInt64(1), StoreReader.Decode<IGroupEvent>((byte[])r[3], r.GetString(2))));
        return result;
    }
}
