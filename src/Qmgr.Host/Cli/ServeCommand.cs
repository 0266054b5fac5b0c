using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Qmgr.Api;
using Qmgr.Host.Service;
using Qmgr.Jobs;
using Serilog.Events;

namespace Qmgr.Host.Cli;

/// <summary>
/// <c>qmgr serve</c>: takes the data-directory lock, recovers every group from the journal, carries on every
/// unfinished job and answers the REST API (<see cref="ServiceHost"/>) on <c>--urls</c> (default <c>qmgr.api.urls</c>,
/// http://127.0.0.1:5580); it leaves its address in DATA_DIR/service.json (removed when it stops) so the CLI's verbs
/// reach it, and the administrator's token in DATA_DIR/api-token. With <c>--exit-when-idle</c> it exits once no job is queued, connecting, transferring or in a
/// transient error: 0 when none is in Error, else 1 with one line per job in Error.
/// </summary>
public static class ServeCommand
{
    public static Command Create(Option<string?> dataDirOption)
    {
        var exitWhenIdle = new Option<bool>("--exit-when-idle") { Description = "exit once recovery is over and no job is active" };
        var urls = new Option<string?>("--urls") { Description = "where the REST API listens, ';'-separated (default qmgr.api.urls: http://127.0.0.1:5580; port 0 picks a free one)" };
        var store = new Option<string?>("--store") { Description = "sqlite (DATA_DIR/qmgr.db, one node; the default) or postgres (shared by a cluster; default when a connection string is given)" };
        var connectionString = new Option<string?>("--connection-string") { Description = $"PostgreSQL connection string (default: ${NodeArguments.ConnectionStringVariable}, else qmgr.store.connection-string)" };
        var clusterHost = new Option<string?>("--cluster-host") { Description = "address this node's cluster remoting binds to and advertises (default 127.0.0.1)" };
        var clusterPort = new Option<int?>("--cluster-port") { Description = "this node's cluster remoting port (default: any free port)" };
        var seedNodes = new Option<string?>("--seed-nodes") { Description = "comma-separated seed nodes to join, akka.tcp://qmgr@host:port (default qmgr.cluster.seed-nodes)" };
        var foundCluster = new Option<bool>("--found-cluster") { Description = "on a shared store without seed nodes: this node founds a new cluster" };
        var command = new Command("serve", "Run the queue manager service on the data directory (REST API, CLI verbs reach it)")
        {
            dataDirOption, exitWhenIdle, urls, store, connectionString, clusterHost, clusterPort, seedNodes, foundCluster,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(dataDirOption), parse.GetValue(exitWhenIdle), parse.GetValue(urls),
            new NodeArguments(parse.GetValue(store), parse.GetValue(connectionString), parse.GetValue(clusterHost), parse.GetValue(clusterPort),
                parse.GetValue(seedNodes), parse.GetValue(foundCluster)), ct));
        return command;
    }

    private static async Task<int> RunAsync(string? dataDirOption, bool exitWhenIdle, string? urls, NodeArguments node, CancellationToken invocation)
    {
        // SIGTERM (systemctl stop, docker stop) and SIGINT stop the service gracefully: unfinished jobs stay in the
        // journal and the next `serve` carries them on (Decision 10).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(invocation);
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        var cancellationToken = stop.Token;
        var dataDir = DataDirectory.Resolve(dataDirOption);
        WebApplication? app = null;
        try
        {
            return await QmgrHost.RunLockedAsync(dataDir, LogEventLevel.Information, async host =>
            {
                try
                {
                    var address = app!.BoundAddresses().FirstOrDefault() ?? "";
                    new ServiceEndpoint(address.Replace("://[::]", "://127.0.0.1").Replace("://0.0.0.0", "://127.0.0.1"), Environment.ProcessId).Write(dataDir);
                    Serilog.Log.Information("Listening on {Addresses}; the administrator token is in {TokenFile}", string.Join(", ", app!.BoundAddresses()), ServiceEndpoint.TokenPath(dataDir));
                    // the process acts for every owner here: it wakes every group (recovery) and watches all jobs
                    var qm = host.Services.GetRequiredService<IQueueManager>().ForCaller(Environment.UserName, isAdministrator: true);
                    var options = host.Services.GetRequiredService<Qmgr.Hosting.QmgrOptions>();
                    IReadOnlyList<IGroup> groups = [];
                    if (options.Store == Qmgr.Hosting.QmgrStore.Sqlite || exitWhenIdle)
                    {
                        // wakes and recovers the groups with unfinished jobs (or webhook deliveries due); finished ones stay
                        // in the journal until asked for
                        var store = host.Services.GetRequiredService<Qmgr.Persistence.IStoreReader>();
                        var unfinished = await Task.Run(store.UnfinishedGroupIds, cancellationToken);
                        var woken = await Task.WhenAll(unfinished.Select(async id =>
                        {
                            try { return await qm.GetGroupAsync(id, cancellationToken); }
                            catch (QmgrException) { return null; } // cancelled meanwhile
                        }));
                        groups = woken.OfType<IGroup>().ToList();
                        Serilog.Log.Information("Recovered {Count} groups with unfinished jobs from {DataDirectory}", groups.Count, dataDir.Path);
                    }
                    else Serilog.Log.Information("On the shared store: unfinished groups restart by themselves wherever the cluster places them");
                    if (!exitWhenIdle)
                    {
                        // the actor system also ends when the cluster downs this node (a pause or a partition longer than the
                        // failover time): its groups run elsewhere now, and the process exits so a supervisor restarts it
                        var system = host.Services.GetRequiredService<Akka.Actor.ActorSystem>();
                        await Task.WhenAny(Task.Delay(Timeout.Infinite, cancellationToken), system.WhenTerminated).ContinueWith(_ => { }, CancellationToken.None);
                        if (!cancellationToken.IsCancellationRequested && system.WhenTerminated.IsCompleted)
                            return Program.Fail(ExitCodes.Failed, "this node was removed from the cluster (downed after it could not be reached); its groups run on the other nodes. Start it again to rejoin");
                        Serilog.Log.Information("Stopping: unfinished jobs stay in {DataDirectory} for the next serve", dataDir.Path);
                        return ExitCodes.Done;
                    }
                    while (true)
                    {
                        var jobs = (await Task.WhenAll(groups.Select(g => g.GetStateAsync(cancellationToken)))).SelectMany(g => g.Jobs).ToList();
                        // a Transferred AutoComplete job is not idle yet: its files are renamed into place right after
                        if (!jobs.Any(j => j.State.IsActive() || j is { State: JobState.Transferred, Options.AutoComplete: true }))
                        {
                            var failed = jobs.Where(j => j.State == JobState.Error).ToList();
                            foreach (var job in failed) Console.Error.WriteLine($"qmgr: job {job.Id:D}: {Format.Failure(job)}");
                            return failed.Count == 0 ? ExitCodes.Done : ExitCodes.Failed;
                        }
                        await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // a plain serve stopping is its normal end; --exit-when-idle stopped early was interrupted
                    return exitWhenIdle
                        ? Program.Fail(ExitCodes.Interrupted, "stopped before the jobs were idle: they stay in the journal for the next serve")
                        : ExitCodes.Done;
                }
                finally
                {
                    ServiceEndpoint.Remove(dataDir);
                }
            }, async (dir, ct) => app = await ServiceHost.StartAsync(dir, urls, QmgrHost.EnvironmentOverrides(), ct, node));
        }
        catch (NodeConfigurationException ex)
        {
            return Program.Fail(ExitCodes.Usage, ex.Message);
        }
        catch (Npgsql.NpgsqlException ex)
        {
            return Program.Fail(ExitCodes.DataDirectory, $"cannot use the postgres store: {ex.Message}");
        }
        catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException || ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            return Program.Fail(ExitCodes.DataDirectory, $"cannot listen on {urls ?? "qmgr.api.urls"}: {ex.Message}");
        }
    }
}
