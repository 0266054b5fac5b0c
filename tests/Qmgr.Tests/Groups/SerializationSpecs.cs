using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Serialization;
using Qmgr.Transport;
using Xunit;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Groups;

/// <summary>Events and snapshots round-trip through the JSON serializer with their frozen manifests.</summary>
public sealed class SerializationSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid G = Guid.NewGuid();
    private static readonly Guid J = Guid.NewGuid();

    public SerializationSpecs() : base(ConfigurationFactory.ParseString("""
        akka.actor.serializers.qmgr = "Qmgr.Serialization.QmgrJsonSerializer, Qmgr.Actors"
        akka.actor.serialization-bindings { "Qmgr.IQmgrMessage, Qmgr.Actors" = qmgr }
        """)) { }

    private static readonly IQmgrMessage[] All =
    [
        new GroupCreated(G, "alice", "g", JobPriority.Low, 1024, T0),
        new GroupPropertyChanged(GroupProperty.MaxBytesPerSecond, "4096", T0),
        new JobCreated(J, "j", JobPriority.Foreground, new JobOptions(AutoComplete: true, Overwrite: true), TimeSpan.FromSeconds(600), TimeSpan.FromDays(14), TimeSpan.FromDays(90), T0),
        new FilesAdded(J, [new NewFile("http://h/a", "/t/a", "/t/.a.qmgr-0011aabb.tmp")], T0),
        new JobStateChanged(J, JobState.Transferring, JobState.TransientError, "transient error", T0),
        new FileMetadataReceived(J, 0, null, new Validators("W/\"x\"", T0), T0),
        new FileProgressCheckpointed(J, 0, 4 * 1024 * 1024, T0),
        new FileRestarted(J, 0, FileRestartReason.RangeIgnored, "200 to bytes=5-", T0),
        new FileTransferred(J, 0, 123, T0),
        new JobErrorRecorded(J, new JobError(ErrorContext.RemoteFile, unchecked((int)0x80190194), 404, "not found", 0), T0),
        new RetryScheduled(J, T0.AddMinutes(10), T0),
        new JobCompleted(J, [0, 2], T0),
        new JobCancelled(J, T0),
        new JobCreated(J, "u", JobPriority.Normal, JobOptions.Default, TimeSpan.FromSeconds(600), TimeSpan.FromDays(14), TimeSpan.FromDays(90), T0, JobType.UploadReply),
        new UploadSessionCreated(J, 0, "{7a612806-37e6-4903-986b-139f35cdbca8}", 100_000, T0.AddMinutes(-1), T0),
        new ReplyFileNameSet(J, "/t/a.reply", "/t/.a.reply.qmgr-0011aabb.tmp", T0),
        new ReplyProgressRecorded(J, "http://h/replies/1", null, 0, T0),
    ];

    public static TheoryData<IQmgrMessage> Messages() => new(All);

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_event_round_trips_with_its_manifest(IQmgrMessage message)
    {
        // arrange
        var serializer = (QmgrJsonSerializer)Sys.Serialization.FindSerializerFor(message);

        // act
        var manifest = serializer.Manifest(message);
        var back = serializer.FromBinary(serializer.ToBinary(message), manifest);

        // assert
        Assert.DoesNotContain("Qmgr.", manifest); // no CLR names in the journal
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(message, message.GetType()), System.Text.Json.JsonSerializer.Serialize(back, back.GetType()));
        Assert.Equal(message.GetType(), back.GetType());
    }

    [Fact]
    public void A_group_snapshot_round_trips_with_its_jobs_and_files()
    {
        // arrange
        var state = All.Cast<IGroupEvent>().Take(5).Aggregate(GroupState.Empty(G), (s, e) => s.Apply(e));
        var serializer = (QmgrJsonSerializer)Sys.Serialization.FindSerializerFor(state);

        // act
        var back = (GroupState)serializer.FromBinary(serializer.ToBinary(state), serializer.Manifest(state));

        // assert
        Assert.Equal(state with { Jobs = [] }, back with { Jobs = [] });
        Assert.Equal(state.Jobs.Single() with { Files = [] }, back.Jobs.Single() with { Files = [] });
        Assert.Equal(state.Jobs.Single().Files, back.Jobs.Single().Files);
    }

    [Fact]
    public void A_job_created_event_journaled_before_job_types_replays_as_a_download()
    {
        // arrange: the JSON a journal holds from before BG_JOB_TYPE was added (no "type")
        var serializer = new QmgrJsonSerializer((ExtendedActorSystem)Sys);
        var old = """{"jobId":"22222222-2222-2222-2222-222222222222","displayName":"j","priority":"Normal","options":{"autoComplete":false,"overwrite":false,"strictRangeSupport":false},"minimumRetryDelay":"00:10:00","noProgressTimeout":"14.00:00:00","maximumDownloadTime":"90.00:00:00","at":"2026-11-29T12:00:00+00:00"}"""u8.ToArray();

        // act
        var created = (JobCreated)serializer.FromBinary(old, "job-created");
        var job = GroupState.Empty(G).Apply(new GroupCreated(G, "alice", "g", JobPriority.Normal, 0, T0)).Apply(created).Jobs.Single();

        // assert
        Assert.Equal(JobType.Download, created.Type);
        Assert.Equal(JobType.Download, job.Type);
        Assert.Null(job.Reply);
    }

    [Fact]
    public void An_unknown_manifest_is_refused()
    {
        var serializer = new QmgrJsonSerializer((ExtendedActorSystem)Sys);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "no-such-event"));
    }
}
