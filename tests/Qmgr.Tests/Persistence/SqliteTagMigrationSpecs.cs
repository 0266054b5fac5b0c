using Akka.Configuration;
using Akka.Persistence.Journal;
using Microsoft.Data.Sqlite;
using Qmgr.Hosting;
using Qmgr.Jobs;
using Qmgr.Persistence;
using Qmgr.Tests.Support;
using Xunit;
using static Qmgr.Groups.GroupCommands;

namespace Qmgr.Tests.Persistence;

/// <summary>A SQLite store written before the group registry (GroupCreated without its tag) gets its tag rows once at the next start.</summary>
public sealed class SqliteTagMigrationSpecs : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();

    /// <summary>Stands in for the tagger, as before the registry: events go to the journal untagged.</summary>
    public sealed class NoTags : IWriteEventAdapter
    {
        public string Manifest(object evt) => string.Empty;
        public object ToJournal(object evt) => evt;
    }

    private static readonly Config Untagged = ConfigurationFactory.ParseString(
        $"akka.persistence.journal.sql.event-adapters.qmgr-group-tagger = \"{typeof(NoTags).FullName}, {typeof(NoTags).Assembly.GetName().Name}\"");

    private string DataDir => _dir.File("data");

    private string DatabasePath => Path.Combine(DataDir, "qmgr.db");

    public void Dispose() => _dir.Dispose();

    private long GroupTagRows()
    {
        using var c = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM tags WHERE tag = 'qmgr-group'";
        return (long)cmd.ExecuteScalar()!;
    }

    [Fact]
    public async Task Groups_created_without_the_tag_are_listed_after_the_next_start_and_tagged_once()
    {
        // arrange: an old store, two groups journaled without their tag
        using var deadline = new CancellationTokenSource(Deadline);
        var created = new[] { Guid.NewGuid(), Guid.NewGuid() };
        await using (var old = HostedQmgr.StartWith(new QmgrOptions { DataDirectory = DataDir, Overrides = Untagged }))
        {
            foreach (var id in created)
                await old.QueueManager.SendAsync(new CreateGroup(id, "alice", "old", JobPriority.Normal, 0), deadline.Token);
        }
        Assert.Equal(0, GroupTagRows());

        // act: a node of this version starts on it
        IReadOnlyList<Guid> listed;
        await using (var node = HostedQmgr.StartWith(new QmgrOptions { DataDirectory = DataDir }))
            listed = await node.QueueManager.GetGroupIdsAsync(deadline.Token);

        // assert: listed, one tag row each, and the migration does nothing more (marked done; rows exist even when unmarked)
        Assert.Equal(created, listed);
        Assert.Equal(2, GroupTagRows());
        var store = new SqliteStore(DatabasePath);
        Assert.Equal(0, store.TagGroups());
        using (var c = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            c.Open();
            using var unmark = c.CreateCommand();
            unmark.CommandText = "DELETE FROM qmgr_migrations";
            unmark.ExecuteNonQuery();
        }
        Assert.Equal(0, store.TagGroups());
        Assert.Equal(2, GroupTagRows());
    }

    [Fact]
    public void A_store_that_does_not_exist_yet_is_left_alone()
    {
        // act
        var added = new SqliteStore(DatabasePath).TagGroups();

        // assert: no file made (the plugin creates the tables at the first start)
        Assert.Equal(0, added);
        Assert.False(File.Exists(DatabasePath));
    }
}
