using Npgsql;
using Xunit;

namespace Qmgr.Tests.Support;

/// <summary>
/// A fresh PostgreSQL database for one test class (xunit class fixture): created on the server named by
/// <c>QMGR_TEST_POSTGRES</c> (default: the role and server <c>tests/postgres.sh</c> sets up), dropped afterwards.
/// Fails with a clear message when the server is not reachable — run <c>bash tests/postgres.sh</c> first.
/// </summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    /// <summary>Connection string of the server's maintenance database, with a role that may create databases.</summary>
    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable("QMGR_TEST_POSTGRES") is { Length: > 0 } s
            ? s
            : "Host=127.0.0.1;Port=5432;Username=qmgr;Password=qmgr;Database=postgres";

    /// <summary>Name of this fixture's database (<c>qmgr_test_</c> + 32 hex digits).</summary>
    public string Name { get; } = $"qmgr_test_{Guid.NewGuid():N}";

    /// <summary>Connection string of this fixture's database.</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = Name, Pooling = true }.ToString();

    public async Task InitializeAsync()
    {
        try
        {
            await using var c = new NpgsqlConnection(ServerConnectionString);
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{Name}\"", c);
            await cmd.ExecuteNonQueryAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw new InvalidOperationException($"PostgreSQL for the tests is not reachable ({ex.Message}): run `bash tests/postgres.sh` (or set QMGR_TEST_POSTGRES)", ex);
        }
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var c = new NpgsqlConnection(ServerConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", c);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Runs <paramref name="sql"/> on this database and returns the first column of the first row (null if none).</summary>
    public async Task<object?> ScalarAsync(string sql)
    {
        await using var c = new NpgsqlConnection(ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        var result = await cmd.ExecuteScalarAsync();
        return result is DBNull ? null : result;
    }
}
