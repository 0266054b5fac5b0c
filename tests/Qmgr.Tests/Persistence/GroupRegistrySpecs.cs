using System.Diagnostics;
using System.Text.Json;
using Akka.Configuration;
using Qmgr.Groups;
using Qmgr.Hosting;
using Qmgr.Jobs;
using Qmgr.Persistence;
using Qmgr.Serialization;
using Qmgr.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static Qmgr.Groups.GroupCommands;

namespace Qmgr.Tests.Persistence;

/// <summary>Specs run against one store: a temporary data directory and the options of the node under test.</summary>
public abstract class StoreSpecs : IDisposable
{
    protected TempDirectory Dir { get; } = new();

    /// <summary>The options of the node under test (its store and connection string).</summary>
    protected abstract QmgrOptions Options { get; }

    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// The group registry on one store: groups are listed by their <see cref="GroupTagger.Tag"/> (not a journal scan), and
/// the store's <see cref="IStoreReader"/> folds the same states the live node holds.
/// </summary>
public abstract class GroupRegistrySpecs(ITestOutputHelper output) : StoreSpecs
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions Json = QmgrJsonSerializer.CreateOptions();

    [Fact]
    public async Task Created_groups_are_listed_exactly_and_the_store_reader_folds_the_same_states()
    {
        // arrange: three groups of two owners, one with a job, one cancelled
        using var deadline = new CancellationTokenSource(Deadline);
        var ct = deadline.Token;
        var created = new[] { Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid() };
        await using var node = HostedQmgr.StartWith(Options);
        var qm = node.QueueManager;
        await qm.SendAsync(new CreateGroup(created[0], "alice", "first", JobPriority.Normal, 0), ct);
        await qm.SendAsync(new CreateGroup(created[1], "bob", "second", JobPriority.Low, 4096), ct);
        await qm.SendAsync(new CreateGroup(created[2], "alice", "third", JobPriority.High, 0), ct);
        await qm.SendAsync(new CreateJob(created[0], "alice", Guid.NewGuid(), "a job", null, JobOptions.Default), ct);
        await qm.SendAsync(new CancelGroup(created[2], "alice"), ct);

        // act
        var clock = Stopwatch.StartNew();
        var listed = await qm.GetGroupIdsAsync(ct);
        output.WriteLine($"GetGroupIdsAsync right after the writes: {clock.ElapsedMilliseconds} ms");
        clock.Restart();
        var again = await qm.GetGroupIdsAsync(ct);
        output.WriteLine($"GetGroupIdsAsync again: {clock.ElapsedMilliseconds} ms");
        for (var i = 0; i < 5; i++)
        {
            await qm.SendAsync(new SetGroupProperty(created[0], "alice", GroupProperty.Description, $"write {i}"), ct);
            clock.Restart();
            await qm.GetGroupIdsAsync(ct);
            output.WriteLine($"GetGroupIdsAsync after write {i}: {clock.ElapsedMilliseconds} ms");
        }
        var enumerated = (await Api.QueueManager.Create(node.System, "admin", isAdministrator: true).EnumGroupsAsync(ct)).Select(g => g.Id);
        var live = await Task.WhenAll(created.Select(id => qm.GetGroupAsync(id, ct)));
        var read = StoreReader.For(Options).ReadGroups();

        // assert: every created group, in creation order, and nothing else; the cancelled one is left out of the API's enumeration
        Assert.Equal(created, listed);
        Assert.Equal(created, again);
        Assert.Equal(created[..2], enumerated);
        Assert.Equal(created, read.Select(g => g.Id));
        Assert.True(read.Single(g => g.Id == created[2]).Cancelled);
        Assert.Equal(live.Select(g => JsonSerializer.Serialize(g, Json)), read.Select(g => JsonSerializer.Serialize(g, Json)));
    }

    [Fact]
    public void Only_group_persistence_ids_count_as_groups()
    {
        // arrange: what a tag or a journal may hold besides groups (sharding's remember-entities store, the coordinator)
        var group = Guid.NewGuid();
        string[] ids = ["/sharding/qmgr-groupShard/12", "/system/sharding/qmgr-groupCoordinator/singleton/coordinator", GroupActor.PersistenceIdFor(group), "group-not-a-guid", GroupActor.PersistenceIdFor(group)];

        // act
        var groups = GroupClient.GroupIdsOf(ids);

        // assert
        Assert.Equal([group], groups);
    }
}

/// <summary><see cref="GroupRegistrySpecs"/> on the embedded SQLite store.</summary>
public sealed class SqliteGroupRegistrySpecs(ITestOutputHelper output) : GroupRegistrySpecs(output)
{
    protected override QmgrOptions Options => new() { DataDirectory = Dir.File("data") };
}

/// <summary><see cref="GroupRegistrySpecs"/> on PostgreSQL (a fresh database; the plugin creates its tables until <c>qmgr db init</c> exists).</summary>
public sealed class PostgresGroupRegistrySpecs(PostgresDatabase database, ITestOutputHelper output) : GroupRegistrySpecs(output), IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    /// <summary>Until the schema step: the plugin creates journal, snapshot and tags itself.</summary>
    public static readonly Config AutoInitialize = ConfigurationFactory.ParseString("""
        akka.persistence.journal.sql.auto-initialize = on
        akka.persistence.snapshot-store.sql.auto-initialize = on
        """);

    protected override QmgrOptions Options => new()
    {
        DataDirectory = Dir.File("data"),
        Store = QmgrStore.Postgres,
        ConnectionString = database.ConnectionString,
        Overrides = AutoInitialize,
    };

    public async Task InitializeAsync() => await database.ScalarAsync(PostgresXmlRepository.Schema);

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// <see cref="IStoreReader.UnfinishedGroupIds"/> on one store (what a starting node wakes): groups whose jobs are all
/// final, or that have none, are not in it. A store of its own per class.
/// </summary>
public abstract class UnfinishedGroupSpecs : StoreSpecs
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Only_groups_with_a_job_that_is_not_final_are_unfinished_in_the_store()
    {
        // arrange: a group with a suspended job, one whose job was cancelled, one without jobs, one cancelled with its job
        using var deadline = new CancellationTokenSource(Deadline);
        var ct = deadline.Token;
        var (pending, cancelledJob, empty, cancelledGroup) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await using var node = HostedQmgr.StartWith(Options);
        var qm = node.QueueManager;
        foreach (var g in new[] { pending, cancelledJob, empty, cancelledGroup })
            await qm.SendAsync(new CreateGroup(g, "alice", "g", JobPriority.Normal, 0), ct);
        var jobs = new[] { pending, cancelledJob, cancelledGroup }.ToDictionary(g => g, _ => Guid.NewGuid());
        foreach (var (g, j) in jobs) await qm.SendAsync(new CreateJob(g, "alice", j, "a job", null, JobOptions.Default), ct);
        await qm.SendAsync(new CancelJob(cancelledJob, "alice", jobs[cancelledJob]), ct);
        await qm.SendAsync(new CancelGroup(cancelledGroup, "alice"), ct);

        // act
        var unfinished = StoreReader.For(Options).UnfinishedGroupIds();

        // assert
        Assert.Equal([pending], unfinished); // the store holds only this spec's groups
    }
}

/// <summary><see cref="UnfinishedGroupSpecs"/> on the embedded SQLite store.</summary>
public sealed class SqliteUnfinishedGroupSpecs : UnfinishedGroupSpecs
{
    protected override QmgrOptions Options => new() { DataDirectory = Dir.File("data") };
}

/// <summary><see cref="UnfinishedGroupSpecs"/> on PostgreSQL (a database of its own).</summary>
public sealed class PostgresUnfinishedGroupSpecs(PostgresDatabase database) : UnfinishedGroupSpecs, IClassFixture<PostgresDatabase>
{
    protected override QmgrOptions Options => new()
    {
        DataDirectory = Dir.File("data"),
        Store = QmgrStore.Postgres,
        ConnectionString = database.ConnectionString,
        Overrides = PostgresGroupRegistrySpecs.AutoInitialize,
    };
}
