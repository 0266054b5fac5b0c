using Akka.Persistence.Journal;
using Qmgr.Groups;

namespace Qmgr.Persistence;

/// <summary>
/// Write event adapter of the group registry: tags each <see cref="GroupEvents.GroupCreated"/> with <see cref="Tag"/>,
/// so Akka.Persistence.Sql writes one row to its <c>tags</c> table per group (tag-write-mode TagTable, the default)
/// and groups are listed by tag (<see cref="Hosting.GroupClient.GetGroupIdsAsync"/>, <see cref="IStoreReader"/>) instead
/// of a scan of the journal's persistence ids. Bound to the SQL journal in hocon/sqlite.conf and hocon/postgres.conf
/// (<c>akka.persistence.journal.sql.event-adapters.qmgr-group-tagger</c>). Other events pass through untouched.
/// </summary>
public sealed class GroupTagger : IWriteEventAdapter
{
    /// <summary>The tag of a group's creation event: one per group, frozen once shipped.</summary>
    public const string Tag = "qmgr-group";

    private static readonly IReadOnlyList<string> Tags = [Tag];

    /// <summary>No manifest of its own: the serializer's manifest stays.</summary>
    public string Manifest(object evt) => string.Empty;

    /// <summary><paramref name="evt"/> wrapped in <see cref="Tagged"/> when it is a <see cref="GroupEvents.GroupCreated"/>; else itself.</summary>
    public object ToJournal(object evt) => evt is GroupEvents.GroupCreated ? new Tagged(evt, Tags) : evt;
}
