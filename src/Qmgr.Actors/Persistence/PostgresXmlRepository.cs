using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Npgsql;

namespace Qmgr.Persistence;

/// <summary>
/// The Data Protection key ring in PostgreSQL (table <c>qmgr_data_protection_keys</c>), so that every node of a cluster
/// decrypts the job secrets (credentials, custom headers, webhook secrets) any other node encrypted. One row per
/// element Data Protection stores (a key or a revocation), named by its friendly name (<c>key-{id}</c>). Rows are never
/// updated or deleted: an element stored twice under one name keeps the first. The XML is stored as Data Protection
/// hands it over (unencrypted, as the SQLite store's <c>DATA_DIR/keys</c> files): only the qmgr role may read the table.
/// Npgsql errors (<see cref="NpgsqlException"/>, <see cref="PostgresException"/> 42P01 when <see cref="Schema"/> was
/// not run) propagate to Data Protection, which fails the protect or unprotect call.
/// </summary>
public sealed class PostgresXmlRepository(string connectionString) : IXmlRepository
{
    /// <summary>Name of the key ring table.</summary>
    public const string Table = "qmgr_data_protection_keys";

    /// <summary>DDL of the key ring table; idempotent (safe to run on every start and from several nodes in turn).</summary>
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS qmgr_data_protection_keys (
            friendly_name text PRIMARY KEY,
            xml text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """;

    /// <summary>Advisory lock key (<c>pg_advisory_xact_lock</c>) that serialises the creation of the first key, see <see cref="EnsureKey"/>.</summary>
    public const long FirstKeyLock = 0x716d_6772_6b65_7973; // "qmgrkeys"

    /// <summary>Every stored element, oldest first.</summary>
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var cmd = new NpgsqlCommand($"SELECT xml FROM {Table} ORDER BY created_at, friendly_name", connection);
        using var reader = cmd.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read()) elements.Add(XElement.Parse(reader.GetString(0)));
        return elements;
    }

    /// <summary>Stores <paramref name="element"/> under <paramref name="friendlyName"/>; a name already stored is left as it is.</summary>
    public void StoreElement(XElement element, string friendlyName)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var cmd = new NpgsqlCommand($"INSERT INTO {Table} (friendly_name, xml) VALUES ($1, $2) ON CONFLICT (friendly_name) DO NOTHING", connection);
        cmd.Parameters.AddWithValue(friendlyName);
        cmd.Parameters.AddWithValue(element.ToString(SaveOptions.DisableFormatting));
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// Makes <paramref name="provider"/> load (and, on an empty ring, create and store) its key ring while holding the
    /// <see cref="FirstKeyLock"/> advisory lock, so that nodes starting at once agree on one first key: the second node
    /// waits, then finds the first node's key. Without it each could create a key; both keys would then be in the ring
    /// and Data Protection would still decrypt the other's payloads by reloading the ring on an unknown key id — but
    /// only within 2 minutes of the provider's creation (later the cached ring is reloaded every 24 h). Call before
    /// the provider's first use. Throws <see cref="NpgsqlException"/> when the database is unreachable.
    /// </summary>
    public static void EnsureKey(string connectionString, IDataProtectionProvider provider)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var tx = connection.BeginTransaction();
        using (var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, tx))
        {
            cmd.Parameters.AddWithValue(FirstKeyLock);
            cmd.ExecuteNonQuery();
        }
        // the key is stored by the repository on its own connection (committed at once); the lock only orders the nodes
        provider.CreateProtector("Qmgr.KeyRing.Bootstrap").Protect([]);
        tx.Commit();
    }
}
