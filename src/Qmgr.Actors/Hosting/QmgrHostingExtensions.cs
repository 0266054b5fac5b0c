using System.Net;
using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Akka.DependencyInjection;
using Akka.Event;
using Akka.Hosting;
using Akka.Persistence.Sql;
using Microsoft.Extensions.DependencyInjection;
using Qmgr.Cluster;
using Qmgr.Groups;
using Qmgr.Serialization;
using Qmgr.Transfers;
using Qmgr.Transport;

namespace Qmgr.Hosting;

/// <summary>Registry key of the group shard region (<see cref="GroupActor"/> entities).</summary>
public sealed class GroupRegion;

/// <summary>Registry key of the transfer shard region (<see cref="TransferActor"/> entities).</summary>
public sealed class TransferRegion;

/// <summary>Registry key of the <see cref="BandwidthCoordinator"/> singleton's proxy.</summary>
public sealed class BandwidthCoordinatorKey;

/// <summary>Akka.Hosting wiring: persistence on SQLite, the JSON serializer, the cluster, both shard regions and the bandwidth coordinator.</summary>
public static class QmgrHostingExtensions
{
    /// <summary>Name of the <see cref="System.Net.Http.HttpClient"/> the transfer pool uses (from IHttpClientFactory).</summary>
    public const string HttpClientName = "qmgr-transfer";

    /// <summary>Type name of the group shard region (also part of its shards' lease names).</summary>
    public const string GroupRegionName = "qmgr-group";

    /// <summary>Type name of the transfer shard region (also part of its shards' lease names).</summary>
    public const string TransferRegionName = "qmgr-transfer";


    /// <summary>
    /// Adds Qmgr to a service collection: the transfer HttpClient (<see cref="AddQmgrHttpClient"/>), an actor
    /// system named <c>qmgr</c>, and <see cref="Api.IQueueManager"/> for the OS user. <paramref name="configure"/> may
    /// add more (loggers).
    /// </summary>
    public static IServiceCollection AddQmgr(this IServiceCollection services, QmgrOptions options, Action<AkkaConfigurationBuilder, IServiceProvider>? configure = null)
    {
        // before anything can touch System.Net.Security's Negotiate support: Npgsql's GSS encryption probe (on by
        // default) reads the switch on its first connection, and .NET reads it only once per process
        UseManagedNtlm();
        services.AddQmgrHttpClient();
        // a shared store gets its schema before the actor system touches it (hosted services start in order)
        if (options.Store == QmgrStore.Postgres) services.AddHostedService(_ => new Persistence.PostgresSchemaInitializer(options.EffectiveConnectionString));
        // job secrets (credentials, custom headers) are encrypted at rest with a key ring in the data directory or the shared store
        services.AddQmgrKeyRing(options);
        services.AddSingleton(options);
        services.AddSingleton(Persistence.StoreReader.For(options));
        services.AddSingleton<Api.IQueueManager>(sp => Api.QueueManager.Create(sp.GetRequiredService<ActorSystem>()));
        services.AddAkka("qmgr", (builder, sp) =>
        {
            builder.AddQmgr(options, sp);
            configure?.Invoke(builder, sp);
        });
        return services;
    }

    /// <summary>
    /// Registers the transfer pool's named HttpClient (<see cref="HttpClientName"/>): SocketsHttpHandler, no automatic
    /// decompression (bytes are stored as sent, so lengths and ranges agree), at most 10 redirects, no overall timeout
    /// (the transport's idle timeout applies instead).
    /// </summary>
    public static IServiceCollection AddQmgrHttpClient(this IServiceCollection services)
    {
        services.AddHttpClient(HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(CreateTransferHandler);
        // webhook deliveries: their own client (no redirects: a signed POST goes only where it was configured to)
        services.AddHttpClient(WebhookSender.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(10) });
        return services;
    }

    /// <summary>
    /// The transfer pool's handler settings, shared by the default client and the per-route ones: no decompression,
    /// at most 10 redirects, and no TLS client certificate — a server that asks for one fails the transfer with
    /// ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED, as in BITS (a job's own certificate gets a handler of its own).
    /// </summary>
    public static SocketsHttpHandler CreateTransferHandler() => new()
    {
        AutomaticDecompression = DecompressionMethods.None,
        AllowAutoRedirect = true,
        MaxAutomaticRedirections = 10,
        ConnectTimeout = TimeSpan.FromSeconds(30),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        SslOptions = { LocalCertificateSelectionCallback = TransferSecurity.NoClientCertificate },
    };

    /// <summary>
    /// Outside Windows, makes .NET's NTLM and Negotiate the managed ones (<c>System.Net.Security.UseManagedNtlm</c>,
    /// .NET 9+: NTLMv2 in managed code, SPNEGO with Kerberos through GSSAPI and NTLM managed) unless the host already
    /// chose with that AppContext switch (runtimeconfig). Without it NTLM needs the gss-ntlmssp GSSAPI plug-in. Read
    /// once by .NET at the first NTLM use, so it is set before any transfer runs.
    /// </summary>
    public static void UseManagedNtlm()
    {
        const string Switch = "System.Net.Security.UseManagedNtlm";
        if (!OperatingSystem.IsWindows() && !AppContext.TryGetSwitch(Switch, out _)) AppContext.SetSwitch(Switch, true);
    }

    /// <summary>Adds Qmgr's HOCON, serializer, cluster membership and shard regions to an Akka.Hosting builder.</summary>
    public static AkkaConfigurationBuilder AddQmgr(this AkkaConfigurationBuilder builder, QmgrOptions options, IServiceProvider services)
    {
        UseManagedNtlm();
        Directory.CreateDirectory(options.DataDirectory);
        // write-ahead logging, and the GroupCreated tag rows of stores written before the group registry, before the journal starts
        if (options.Store == QmgrStore.Sqlite) Persistence.SqliteStore.FromConnectionString(options.EffectiveConnectionString).Prepare();
        var remote = (options.ClusterHost is null ? "" : $"akka.remote.dot-netty.tcp.hostname = \"{options.ClusterHost}\"\n")
                     + (options.ClusterPort is null ? "" : $"akka.remote.dot-netty.tcp.port = {options.ClusterPort}\n");
        var connection = $"\"{options.EffectiveConnectionString.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";
        var persistence = ConfigurationFactory.ParseString($"""
            akka.persistence.journal.sql.connection-string = {connection}
            akka.persistence.snapshot-store.sql.connection-string = {connection}
            akka.persistence.query.journal.sql.connection-string = {connection}
            """);
        var config = (options.Overrides ?? Config.Empty)
            .WithFallback(ConfigurationFactory.ParseString(remote))
            .WithFallback(persistence)
            .WithFallback(options.Store == QmgrStore.Postgres ? QmgrSettings.PostgresConfig() : QmgrSettings.SqliteConfig())
            .WithFallback(QmgrSettings.ClusterConfig())
            .WithFallback(QmgrSettings.DefaultConfig())
            .WithFallback(SqlPersistence.DefaultConfiguration);
        builder.AddHocon(config, HoconAddMode.Prepend);
        builder.WithCustomSerializer("qmgr", [typeof(IQmgrMessage)], system => new QmgrJsonSerializer(system));

        var settings = QmgrSettings.Create(config);
        // no LeaseImplementation: sharding then reads akka.cluster.sharding.use-lease (hocon/postgres.conf sets it)
        // notifications travel cluster-wide through the pub-sub mediator (registry key DistributedPubSub); each node
        // relays them onto its event stream (NotificationRelay). Started before the regions: groups publish through it.
        builder.WithDistributedPubSub(role: "");
        var shardOptions = new ShardOptions { StateStoreMode = StateStoreMode.DData, RememberEntities = false };
        // on a shared store groups are remembered (eventsourced store: the ddata one needs LightningDB, which fails here),
        // so an unfinished group restarts by itself after a node's loss, a rebalance or a full restart; an idle group
        // passivates and is forgotten. A single SQLite node wakes its groups itself at `serve`.
        var groupShardOptions = options.Store == QmgrStore.Postgres
            ? new ShardOptions { StateStoreMode = StateStoreMode.DData, RememberEntities = true, RememberEntitiesStore = RememberEntitiesStore.Eventsourced }
            : shardOptions;
        var transferExtractor = new TransferMessageExtractor();
        builder.WithShardRegion<TransferRegion>(TransferRegionName,
            (system, _, resolver) =>
            {
                var downloader = new ProxyRoutingDownloader(resolver.GetService<IHttpClientFactory>().CreateClient(HttpClientName), CreateTransferHandler);
                var secrets = resolver.GetService<Jobs.SecretProtector>();
                return entityId => TransferActor.Props(downloader, settings.TransferPassivateAfter, secrets,
                    ShardFence.For(system, TransferRegionName, transferExtractor.ShardId(entityId, messageHint: null)), settings.TransferSlotLinger);
            },
            transferExtractor, shardOptions);
        var groupExtractor = new GroupMessageExtractor();
        builder.WithShardRegion<GroupRegion>(GroupRegionName,
            (system, registry, _) =>
            {
                var transfers = registry.Get<TransferRegion>();
                var mediator = registry.Get<DistributedPubSub>();
                return entityId => GroupActor.Props(Guid.ParseExact(entityId, "N"), settings, transfers, mediator,
                    ShardFence.For(system, GroupRegionName, groupExtractor.ShardId(entityId, messageHint: null)));
            },
            groupExtractor, groupShardOptions);
        // the cluster cap is divided among nodes by a singleton; each node reports its demand and applies its share
        builder.WithSingleton<BandwidthCoordinatorKey>("qmgr-bandwidth-coordinator",
            BandwidthCoordinator.Props(settings.MaxBytesPerSecond),
            // the proxy's "no singleton after 30 seconds" warning fires within a second of every start (Akka.NET 1.5.73)
            // while the node joins; the reporter repeats its demand each interval, so a missing singleton costs nothing
            new ClusterSingletonOptions { SingletonIdentificationInterval = TimeSpan.FromMilliseconds(200), LogSingletonIdentificationFailure = false },
            createProxyToo: true);
        builder.WithActors((system, registry, _) =>
        {
            // subscribed from here, not from the relay's PreStart: the subscription is queued at the mediator before
            // start-up ends, so even a single node's first notification finds the relay subscribed
            var relay = system.ActorOf(Props.Create(() => new Api.NotificationRelay()), Api.NotificationRelay.Name);
            registry.Get<DistributedPubSub>().Tell(Api.NotificationRelay.Subscription(relay), relay);
            system.ActorOf(BandwidthShareReporter.Props(registry.Get<BandwidthCoordinatorKey>(), settings.ShareReportInterval), "qmgr-bandwidth-reporter");
            Telemetry.QmgrMetrics.For(system);
        });
        builder.AddStartup((system, _) =>
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            if (options.SeedNodes.Count == 0)
            {
                cluster.Join(cluster.SelfAddress);
                return;
            }
            cluster.JoinSeedNodes(options.SeedNodes.Select(Address.Parse));
            // a seed list that names no live node: Akka keeps trying (only the first seed may found a cluster); say so
            var warnEvery = config.GetTimeSpan("qmgr.cluster.join-warning-interval");
            var log = Logging.GetLogger(system, "qmgr-cluster");
            var warning = system.Scheduler.Advanced.ScheduleRepeatedlyCancelable(warnEvery, warnEvery, () =>
            {
                if (cluster.SelfMember.Status == Akka.Cluster.MemberStatus.Removed || cluster.IsTerminated) return;
                if (cluster.SelfMember.Status is not (Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.WeaklyUp))
                    log.Warning("Not in a cluster yet: no seed node of [{0}] has let this node ({1}) join; still trying", string.Join(", ", options.SeedNodes), cluster.SelfAddress);
            });
            cluster.RegisterOnMemberUp(() =>
            {
                warning.Cancel();
                log.Info("Joined the cluster as {0} ({1} members up)", cluster.SelfAddress, cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up));
            });
            cluster.RegisterOnMemberRemoved(warning.Cancel);
        });
        return builder;
    }
}

/// <summary>Routes <see cref="IWithGroupId"/> messages to group entities (entity id = group id, 32 hex digits).</summary>
public sealed class GroupMessageExtractor() : HashCodeMessageExtractor(100)
{
    public override string? EntityId(object message) => message is IWithGroupId g ? g.GroupId.ToString("N") : null;
}

/// <summary>Routes <see cref="IWithTransferKey"/> messages to transfer entities (one per job).</summary>
public sealed class TransferMessageExtractor() : HashCodeMessageExtractor(100)
{
    public override string? EntityId(object message) => message is IWithTransferKey t ? t.JobId.ToString("N") : null;
}
