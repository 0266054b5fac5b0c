using System.Text.Json;
using Microsoft.Data.Sqlite;
using Qmgr.Groups;
using Qmgr.Serialization;

namespace Qmgr.Persistence;

/// <summary>
/// Reads groups straight from the SQLite store without an actor system and without the data-directory lock
/// (Decision 13: read-only verbs such as <c>qmgr list</c>). Folds each group's latest snapshot and later events with
/// <see cref="GroupState.Apply"/>, exactly as recovery does. Table and column names are Akka.Persistence.Sql's
/// default mapping (<c>journal</c>, <c>snapshot</c>).
/// </summary>
public sealed class StoreReader(string databasePath)
{
    private static readonly JsonSerializerOptions Json = QmgrJsonSerializer.CreateOptions();

    /// <summary>A journaled event with its persistence id and sequence number.</summary>
    public sealed record StoredEvent(string PersistenceId, long SequenceNr, IGroupEvent Event);

    /// <summary>Every group in the store, in creation order. Empty when the database or its tables do not exist yet.</summary>
    public IReadOnlyList<GroupState> ReadGroups()
    {
        if (!File.Exists(databasePath)) return [];
        using var connection = Open();
        if (!TableExists(connection, "journal")) return [];
        var snapshots = TableExists(connection, "snapshot") ? ReadSnapshots(connection) : new Dictionary<string, (long, GroupState)>();
        var groups = new Dictionary<string, GroupState>();
        foreach (var (pid, seq, e) in ReadEvents(connection, afterSnapshot: snapshots))
        {
            if (!groups.TryGetValue(pid, out var state))
                state = snapshots.TryGetValue(pid, out var s) ? s.Item2 : GroupState.Empty(Guid.ParseExact(pid[(GroupActor.PersistencePrefix.Length + 1)..], "N"));
            groups[pid] = state.Apply(e);
        }
        foreach (var (pid, (_, s)) in snapshots) groups.TryAdd(pid, s);
        return groups.Values.Where(g => g.Exists).OrderBy(g => g.CreationTime).ToList();
    }

    /// <summary>Every journaled group event in order (for audits and tests). Empty when nothing is stored yet.</summary>
    public IReadOnlyList<StoredEvent> ReadEvents()
    {
        if (!File.Exists(databasePath)) return [];
        using var connection = Open();
        if (!TableExists(connection, "journal")) return [];
        return ReadEvents(connection, afterSnapshot: null).Select(x => new StoredEvent(x.Pid, x.Seq, x.Event)).ToList();
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var busy = connection.CreateCommand();
        busy.CommandText = "PRAGMA busy_timeout = 5000";
        busy.ExecuteNonQuery();
        return connection;
    }

    private static bool TableExists(SqliteConnection c, string table)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $name";
        cmd.Parameters.AddWithValue("$name", table);
        return Convert.ToInt64(cmd.ExecuteScalar()) > 0;
    }

    private static Dictionary<string, (long, GroupState)> ReadSnapshots(SqliteConnection c)
    {
        var result = new Dictionary<string, (long, GroupState)>();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT persistence_id, sequence_number, manifest, snapshot FROM snapshot WHERE persistence_id LIKE 'group-%' ORDER BY persistence_id, sequence_number";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var state = (GroupState)JsonSerializer.Deserialize((byte[])r[3], QmgrManifests.TypeOf(r.GetString(2)), Json)!;
            result[r.GetString(0)] = (r.GetInt64(1), state); // later rows win: the newest snapshot
        }
        return result;
    }

    private static IEnumerable<(string Pid, long Seq, IGroupEvent Event)> ReadEvents(SqliteConnection c, Dictionary<string, (long, GroupState)>? afterSnapshot)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT persistence_id, sequence_number, manifest, message FROM journal WHERE persistence_id LIKE 'group-%' AND deleted = 0 ORDER BY persistence_id, sequence_number";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var pid = r.GetString(0);
            var seq = r.GetInt64(1);
            if (afterSnapshot is not null && afterSnapshot.TryGetValue(pid, out var s) && seq <= s.Item1) continue;
            var e = (IGroupEvent)JsonSerializer.Deserialize((byte[])r[3], QmgrManifests.TypeOf(r.GetString(2)), Json)!;
            yield return (pid, seq, e);
        }
    }
}
