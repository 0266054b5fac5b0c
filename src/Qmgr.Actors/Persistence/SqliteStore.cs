using Microsoft.Data.Sqlite;
using Qmgr.Groups;
using Qmgr.Serialization;

namespace Qmgr.Persistence;

/// <summary>
/// The embedded store's own SQL (<c>DATA_DIR/qmgr.db</c>, Akka.Persistence.Sql's default tables <c>journal</c>,
/// <c>snapshot</c>, <c>tags</c>): a read-only <see cref="IStoreReader"/> (opens the file read-only, waits up to 5 s for
/// a writer) and the start-up migration <see cref="TagGroups"/>. Errors: <see cref="SqliteException"/>.
/// </summary>
public sealed class SqliteStore(string databasePath) : IStoreReader
{
    /// <summary>Name of the migration of <see cref="TagGroups"/> in <c>qmgr_migrations</c>.</summary>
    public const string TagGroupsMigration = "tag-group-created";

    /// <summary>The store of a SQLite connection string's <c>Data Source</c>.</summary>
    public static SqliteStore FromConnectionString(string connectionString) =>
        new(new SqliteConnectionStringBuilder(connectionString).DataSource);

    /// <summary>Path of the database file.</summary>
    public string DatabasePath => databasePath;

    public IReadOnlyList<GroupState> ReadGroups()
    {
        if (!File.Exists(databasePath)) return [];
        using var connection = Open(SqliteOpenMode.ReadOnly);
        if (!TableExists(connection, "journal")) return [];
        var snapshots = TableExists(connection, "snapshot") ? ReadSnapshots(connection) : [];
        var after = snapshots.ToDictionary(s => s.PersistenceId, s => s.SequenceNr);
        return StoreReader.Fold(snapshots, ReadEvents(connection, after));
    }

    public IReadOnlyList<StoredEvent> ReadEvents()
    {
        if (!File.Exists(databasePath)) return [];
        using var connection = Open(SqliteOpenMode.ReadOnly);
        if (!TableExists(connection, "journal")) return [];
        return ReadEvents(connection, after: null).ToList();
    }

    public IReadOnlyList<Guid> UnfinishedGroupIds()
    {
        if (!File.Exists(databasePath)) return [];
        using var connection = Open(SqliteOpenMode.ReadOnly);
        if (!TableExists(connection, "journal")) return [];
        using var cmd = connection.CreateCommand();
        cmd.CommandText = StoreReader.UnfinishedGroupsSql;
        using var r = cmd.ExecuteReader();
        var pids = new List<string>();
        while (r.Read()) pids.Add(r.GetString(0));
        return StoreReader.GroupIdsOf(pids);
    }

    /// <summary>
    /// Readies the store before the node's journal opens it: creates the file if missing, switches it to write-ahead
    /// logging (<c>PRAGMA journal_mode=WAL</c>, kept by the file: a commit appends to <c>qmgr.db-wal</c> with one fsync
    /// instead of writing, syncing and deleting a rollback journal; synchronous stays FULL, so a journaled event survives
    /// a power loss) and runs <see cref="TagGroups"/>. Returns the tag rows added. Errors: <see cref="SqliteException"/>.
    /// </summary>
    public int Prepare()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(databasePath))!);
        using (var connection = Open(SqliteOpenMode.ReadWriteCreate))
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode=WAL";
            wal.ExecuteScalar();
        }
        return TagGroups();
    }

    /// <summary>
    /// One-time migration of a store written before the group registry: adds the <see cref="GroupTagger.Tag"/> row
    /// (tags table: the journal row's ordering, the tag, persistence id, sequence number) of every journaled
    /// <see cref="GroupEvents.GroupCreated"/> that has none, then records <see cref="TagGroupsMigration"/> in
    /// <c>qmgr_migrations</c> so later starts skip it; all in one transaction. Idempotent. Does nothing when the file,
    /// the <c>journal</c> or the <c>tags</c> table does not exist yet (a new store: the adapter tags every group).
    /// Run before the node's journal starts. Returns the number of tag rows added.
    /// </summary>
    public int TagGroups()
    {
        if (!File.Exists(databasePath)) return 0;
        using var connection = Open(SqliteOpenMode.ReadWrite);
        if (!TableExists(connection, "journal") || !TableExists(connection, "tags")) return 0;
        using var tx = connection.BeginTransaction();
        Execute(connection, "CREATE TABLE IF NOT EXISTS qmgr_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
        using (var done = connection.CreateCommand())
        {
            done.CommandText = "SELECT count(*) FROM qmgr_migrations WHERE name = $name";
            done.Parameters.AddWithValue("$name", TagGroupsMigration);
            if (Convert.ToInt64(done.ExecuteScalar()) > 0) return 0;
        }
        int added;
        using (var insert = connection.CreateCommand())
        {
            insert.CommandText = """
                INSERT INTO tags (ordering_id, tag, persistence_id, sequence_nr)
                SELECT j.ordering, $tag, j.persistence_id, j.sequence_number FROM journal j
                WHERE j.persistence_id LIKE 'group-%' AND j.manifest = $manifest
                  AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.persistence_id = j.persistence_id AND t.tag = $tag)
                """;
            insert.Parameters.AddWithValue("$tag", GroupTagger.Tag);
            insert.Parameters.AddWithValue("$manifest", QmgrManifests.ManifestOf(typeof(GroupEvents.GroupCreated)));
            added = insert.ExecuteNonQuery();
        }
        using (var mark = connection.CreateCommand())
        {
            mark.CommandText = "INSERT INTO qmgr_migrations (name, applied_at) VALUES ($name, $at)";
            mark.Parameters.AddWithValue("$name", TagGroupsMigration);
            mark.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O"));
            mark.ExecuteNonQuery();
        }
        tx.Commit();
        return added;
    }

    private SqliteConnection Open(SqliteOpenMode mode)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = mode, Pooling = false }.ToString());
        connection.Open();
        Execute(connection, "PRAGMA busy_timeout = 5000");
        return connection;
    }

    private static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static bool TableExists(SqliteConnection c, string table)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $name";
        cmd.Parameters.AddWithValue("$name", table);
        return Convert.ToInt64(cmd.ExecuteScalar()) > 0;
    }

    private static List<StoredSnapshot> ReadSnapshots(SqliteConnection c)
    {
        var newest = new Dictionary<string, StoredSnapshot>();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT persistence_id, sequence_number, manifest, snapshot FROM snapshot WHERE persistence_id LIKE 'group-%' ORDER BY persistence_id, sequence_number";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var pid = r.GetString(0);
            newest[pid] = new StoredSnapshot(pid, r.GetInt64(1), StoreReader.Decode<GroupState>((byte[])r[3], r.GetString(2))); // later rows win
        }
        return newest.Values.ToList();
    }

    private static IEnumerable<StoredEvent> ReadEvents(SqliteConnection c, Dictionary<string, long>? after)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT persistence_id, sequence_number, manifest, message FROM journal WHERE persistence_id LIKE 'group-%' AND deleted = 0 ORDER BY persistence_id, sequence_number";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var pid = r.GetString(0);
            var seq = r.GetInt64(1);
            if (after is not null && after.TryGetValue(pid, out var covered) && seq <= covered) continue;
            yield return new StoredEvent(pid, seq, StoreReader.Decode<IGroupEvent>((byte[])r[3], r.GetString(2)));
        }
    }
}
