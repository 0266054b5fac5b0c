using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Cluster;

/// <summary>
/// Base of the multi-process cluster specs: per test a fresh PostgreSQL database, a temp directory and a loopback
/// file server, all dropped afterwards. The specs run one at a time (<see cref="ClusterCollection"/>).
/// </summary>
public abstract class ClusterSpecs : IAsyncLifetime
{
    /// <summary>How long three nodes may take to form a cluster.</summary>
    protected static readonly TimeSpan Formation = TimeSpan.FromSeconds(90);

    protected PostgresDatabase Db { get; } = new();
    protected TempDirectory Dir { get; } = new();
    protected LoopbackFileServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Db.InitializeAsync();
        Server = await LoopbackFileServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Dir.Dispose();
        await Db.DisposeAsync();
    }
}

/// <summary>Multi-process cluster specs run one at a time (each starts three nodes on a 2-core machine).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "qmgr cluster processes";
}
