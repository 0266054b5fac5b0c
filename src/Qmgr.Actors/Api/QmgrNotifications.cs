using Qmgr.Jobs;

namespace Qmgr.Api;

/// <summary>
/// A status or progress event of a job, published by its <see cref="Groups.GroupActor"/> after the change is persisted
/// (BITS notifications: JobTransferred, JobError, JobModification, FileTransferred, FileRangesTransferred).
/// <see cref="Job"/> is the job as persisted at that moment. The group publishes it cluster-wide on the
/// <see cref="NotificationRelay.Topic"/> pub-sub topic, and every node's <see cref="NotificationRelay"/> republishes it
/// on that node's event stream, where <see cref="IQueueManager.Notifications"/>, callbacks, the legacy facade and the
/// service's event feed read it: whichever node runs the group, every node hears its jobs, in the order one group
/// persisted them. Serialized with <see cref="Serialization.QmgrJsonSerializer"/> (manifests <c>notification-*</c>).
/// </summary>
public abstract record QmgrNotification(Guid GroupId, string Owner, Job Job) : IQmgrMessage
{
    /// <summary>The job's state changed (any transition; BITS raises JobModification for most of them).</summary>
    public sealed record StateChanged(Guid GroupId, string Owner, Job Job, JobState From, JobState To, string Cause) : QmgrNotification(GroupId, Owner, Job);

    /// <summary>A checkpoint moved the job's bytes forward (BITS JobModification on progress).</summary>
    public sealed record Progress(Guid GroupId, string Owner, Job Job) : QmgrNotification(GroupId, Owner, Job);

    /// <summary>A property of the job changed (BITS JobModification).</summary>
    public sealed record Modified(Guid GroupId, string Owner, Job Job, JobProperty Property) : QmgrNotification(GroupId, Owner, Job);

    /// <summary>File <paramref name="FileIndex"/> finished (BITS IBackgroundCopyCallback3::FileTransferred).</summary>
    public sealed record FileTransferred(Guid GroupId, string Owner, Job Job, int FileIndex) : QmgrNotification(GroupId, Owner, Job);

    /// <summary>
    /// Requested ranges of on-demand file <paramref name="FileIndex"/> are wholly present in its temp file (BITS
    /// IBackgroundCopyCallback3::FileRangesTransferred): <paramref name="Ranges"/> as requested (a BG_LENGTH_TO_EOF
    /// length resolved to the file's size), published once each when a fill completes them, or at once for ranges
    /// already present when requested.
    /// </summary>
    public sealed record FileRangesTransferred(Guid GroupId, string Owner, Job Job, int FileIndex, System.Collections.Immutable.ImmutableList<Transport.FileRange> Ranges)
        : QmgrNotification(GroupId, Owner, Job);
}
