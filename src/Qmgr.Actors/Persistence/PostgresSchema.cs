using Npgsql;

namespace Qmgr.Persistence;

/// <summary>
/// The PostgreSQL schema of a shared store: Akka.Persistence.Sql 1.5.73's default tables (<c>journal</c>,
/// <c>snapshot</c>, <c>tags</c> — the same columns, keys and indexes its auto-initialize makes for provider
/// PostgreSQL.15) and Qmgr's own small tables (shard leases, the Data Protection key ring). <c>qmgr db init</c> runs
/// <see cref="EnsureAsync"/>; so does every node on a PostgreSQL store before it starts, under a transaction-level
/// advisory lock, so nodes starting at once on an empty database never race on <c>CREATE TABLE</c>.
/// </summary>
public static class PostgresSchema
{
    /// <summary>Key of the advisory lock that serializes schema creation (an arbitrary constant: "qmgr" in ASCII).</summary>
    public const long AdvisoryLockKey = 0x716d6772;

    /// <summary>Akka.Persistence.Sql's tables, idempotent.</summary>
    public const string Journal = """
        CREATE TABLE IF NOT EXISTS journal (
            ordering bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT "PK_journal" PRIMARY KEY,
            created bigint NOT NULL,
            deleted boolean NOT NULL,
            persistence_id text NOT NULL,
            sequence_number bigint NOT NULL,
            message bytea NOT NULL,
            manifest text,
            identifier integer,
            writer_uuid text,
            CONSTRAINT journal_uq UNIQUE (persistence_id, sequence_number));
        CREATE INDEX IF NOT EXISTS journal_created_idx ON journal (created);
        CREATE INDEX IF NOT EXISTS journal_sequence_number_idx ON journal (sequence_number);
        CREATE TABLE IF NOT EXISTS snapshot (
            persistence_id text NOT NULL,
            sequence_number bigint NOT NULL,
            created bigint NOT NULL,
            snapshot bytea,
            manifest text,
            serializer_id integer,
            CONSTRAINT "PK_snapshot" PRIMARY KEY (persistence_id, sequence_number));
        CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created);
        CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number);
        CREATE TABLE IF NOT EXISTS tags (
            ordering_id bigint NOT NULL,
            tag text NOT NULL,
            sequence_nr bigint NOT NULL,
            persistence_id text NOT NULL,
            CONSTRAINT "PK_tags" PRIMARY KEY (ordering_id, tag));
        CREATE INDEX IF NOT EXISTS tags_persistence_id_sequence_nr_idx ON tags (persistence_id, sequence_nr);
        CREATE INDEX IF NOT EXISTS tags_tag_idx ON tags (tag);
        """;

    /// <summary>Every statement <see cref="EnsureAsync"/> runs, in order.</summary>
    public static IReadOnlyList<string> Statements { get; } = [Journal, Cluster.PostgresLease.Schema, PostgresXmlRepository.Schema];

    /// <summary>
    /// Creates whatever part of the schema is missing, in one transaction holding <see cref="AdvisoryLockKey"/>.
    /// Returns true when the journal tables were not there before (a new store), false when they were. Throws <see cref="NpgsqlException"/> (unreachable server, refused
    /// login) or <see cref="PostgresException"/> (e.g. no CREATE right) with PostgreSQL's own message.
    /// </summary>
    public static async Task<bool> EnsureAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCmd = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({AdvisoryLockKey})", connection, tx))
            await lockCmd.ExecuteNonQueryAsync(cancellationToken);
        bool existed;
        await using (var probe = new NpgsqlCommand("SELECT to_regclass('journal') IS NOT NULL AND to_regclass('tags') IS NOT NULL", connection, tx))
            existed = (bool)(await probe.ExecuteScalarAsync(cancellationToken))!;
        foreach (var statement in Statements)
        {
            await using var cmd = new NpgsqlCommand(statement, connection, tx);
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
        return !existed;
    }
}

/// <summary>
/// Runs <see cref="PostgresSchema.EnsureAsync"/> when the host starts, before the actor system (registered ahead of
/// Akka.Hosting's service by <c>AddQmgr</c> on a postgres store): every node, embedded or <c>qmgr serve</c>, finds its
/// tables. A failure (unreachable server, refused login) fails the host's start with Npgsql's exception.
/// </summary>
public sealed class PostgresSchemaInitializer(string connectionString) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => PostgresSchema.EnsureAsync(connectionString, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
