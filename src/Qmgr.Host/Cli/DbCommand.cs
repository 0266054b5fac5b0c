using System.CommandLine;
using Qmgr.Hosting;
using Qmgr.Persistence;

namespace Qmgr.Host.Cli;

/// <summary>
/// <c>qmgr db init</c>: creates the shared PostgreSQL store's schema (Akka.Persistence.Sql's journal, snapshot and tag
/// tables and Qmgr's own) if it is missing, under an advisory lock. Idempotent. Every node on a postgres store does
/// the same before it starts, so running it is optional; it lets a database administrator create the schema with a
/// role the nodes do not get. Exit 0 (created or already there), 2 (no or bad connection string), 3 (unreachable
/// server, refused login, no right to create).
/// </summary>
public static class DbCommand
{
    public static Command Create()
    {
        var connectionString = new Option<string?>("--connection-string") { Description = $"PostgreSQL connection string (default: ${NodeArguments.ConnectionStringVariable}, else qmgr.store.connection-string)" };
        var init = new Command("init", "Create the shared PostgreSQL store's tables if they are missing (safe to run again, and from several nodes at once)") { connectionString };
        init.SetAction(async (parse, ct) =>
        {
            QmgrOptions options;
            try
            {
                options = new NodeArguments(Store: "postgres", ConnectionString: parse.GetValue(connectionString), FoundCluster: true)
                    .Resolve(DataDirectory.Resolve(null), QmgrHost.EnvironmentOverrides());
            }
            catch (NodeConfigurationException ex)
            {
                return Program.Fail(ExitCodes.Usage, ex.Message);
            }
            try
            {
                var created = await PostgresSchema.EnsureAsync(options.EffectiveConnectionString, ct);
                var database = new Npgsql.NpgsqlConnectionStringBuilder(options.EffectiveConnectionString).Database;
                Console.WriteLine(created ? $"created the qmgr schema in database {database}" : $"the qmgr schema is up to date in database {database}");
                return ExitCodes.Done;
            }
            catch (Npgsql.NpgsqlException ex)
            {
                return Program.Fail(ExitCodes.DataDirectory, $"cannot create the schema: {ex.Message}");
            }
        });
        return new Command("db", "Manage the shared PostgreSQL store") { init };
    }
}
