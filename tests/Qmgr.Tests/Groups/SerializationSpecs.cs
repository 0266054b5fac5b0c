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
        new JobClientCertificateSet(J, new ClientCertificate(CertStoreLocation.CurrentUser, "MY", "0123456789ABCDEF0123456789ABCDEF01234567", null), T0),
        new FileWithRangesAdded(J, new NewFile("http://h/r", "/t/r", "/t/.r.qmgr-0011aacc.tmp"), [new FileRange(100, 100), new FileRange(900, FileRange.LengthToEof)], T0),
        new JobPropertyChanged(J, JobProperty.MaxDownloadSize, "1000", T0),
        new JobPropertyChanged(J, JobProperty.HttpMethod, "POST", T0),
        new JobPropertyChanged(J, JobProperty.CustomHeadersWriteOnly, "true", T0),
        new FileRestarted(J, 0, FileRestartReason.CustomHttpMethod, "HTTP method POST: 10 bytes are not resumed", T0),
        new FileResponseHeadersReceived(J, 0, "HTTP/1.1 200 OK\r\nETag: \"x\"\r\n", T0),
        new Qmgr.Transfers.TransferProtocol.TransferResponseHeaders(G, "HTTP/1.1 404 Not Found\r\n"),
        new GroupCommands.AddFileWithRanges(G, "alice", J, new GroupCommands.FileSpec("http://h/r", "/t/r"), [new FileRange(0, 10)], Administrator: true),
        new JobCreated(J, "u", JobPriority.Normal, JobOptions.Default, TimeSpan.FromSeconds(600), TimeSpan.FromDays(14), TimeSpan.FromDays(90), T0, JobType.UploadReply),
        new UploadSessionCreated(J, 0, "{7a612806-37e6-4903-986b-139f35cdbca8}", 100_000, T0.AddMinutes(-1), T0),
        new ReplyFileNameSet(J, "/t/a.reply", "/t/.a.reply.qmgr-0011aabb.tmp", T0),
        new ReplyProgressRecorded(J, "http://h/replies/1", null, 0, T0),
        new FileRangesRequested(J, 0, [new FileRange(500, 10), new FileRange(90, FileRange.LengthToEof)], T0),
        new DownloadPositionUpdated(J, 0, 4096, T0),
        new FileRangesFilled(J, 0, [new FileRange(500, 10)], T0),
        new GroupCommands.RequestFileRanges(G, "alice", J, 0, [new FileRange(1, 2)]),
        new GroupCommands.UpdateDownloadPosition(G, "alice", J, 0, 77),
        new Qmgr.Transfers.TransferProtocol.TransferFilled(J, new FileRange(0, 65536)),
        new GroupWebhookSet("https://hooks.example/qmgr", "CfDJ8-ciphertext", T0),
        new GroupWebhookSet(null, null, T0),
        new WebhookDeliveryDue(G, J, "job-transferred", "https://hooks.example/qmgr", "{\"event\":\"job-transferred\"}", T0),
        new WebhookDelivered(G, 3, T0),
        new GroupCommands.SetGroupWebhook(G, "alice", "https://hooks.example/qmgr", "CfDJ8-ciphertext"),
        new Qmgr.Transfers.TransferProtocol.TransferFinished(J, new DownloadOutcome.RequestedRangesFilled(new Validators("\"e\"", null))),
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
    public void Clear_credentials_of_a_transfer_never_leave_the_transferring_process()
    {
        // arrange: a StartTransfer whose request carries clear credentials (as TransferActor sets them locally)
        var credentials = new TransferCredentials(
            new Dictionary<string, System.Net.NetworkCredential> { ["Digest"] = new("alice", "pw-never-serialized-1") },
            new Dictionary<string, System.Net.NetworkCredential> { ["Basic"] = new("proxy", "pw-never-serialized-2") });
        var request = new DownloadRequest(new Uri("https://h/f"), "/t/.f.tmp", 0, Validators.None, null, false, 1, TimeSpan.FromSeconds(1), [],
            TimeSpan.Zero, TimeSpan.FromSeconds(5)) { Credentials = credentials, CheckRevocation = true, AllowHttpsToHttp = true };
        var start = new Qmgr.Transfers.TransferProtocol.StartTransfer(Guid.NewGuid(), G, J, 0, request, JobPriority.Normal, 0, ActorRefs.Nobody);
        var serializer = (QmgrJsonSerializer)Sys.Serialization.FindSerializerFor(start);

        // act
        var bytes = serializer.ToBinary(start);
        var back = (Qmgr.Transfers.TransferProtocol.StartTransfer)serializer.FromBinary(bytes, serializer.Manifest(start));

        // assert
        var json = System.Text.Encoding.UTF8.GetString(bytes);
        Assert.DoesNotContain("pw-never-serialized", json);
        Assert.DoesNotContain("pw-never-serialized", credentials.ToString());
        Assert.Null(back.Request.Credentials);
        Assert.True(back.Request.CheckRevocation && back.Request.AllowHttpsToHttp);
    }

    [Fact]
    public void A_snapshot_keeps_file_ranges_and_job5_properties()
    {
        // arrange
        var state = new IGroupEvent[]
        {
            new GroupCreated(G, "alice", "g", JobPriority.Low, 0, T0),
            new JobCreated(J, "j", JobPriority.Normal, JobOptions.Default, TimeSpan.FromSeconds(600), TimeSpan.FromDays(14), TimeSpan.FromDays(90), T0),
            new JobPropertyChanged(J, JobProperty.HighPerformance, "true", T0),
            new JobPropertyChanged(J, JobProperty.MaxDownloadSize, "1000", T0),
            new FileWithRangesAdded(J, new NewFile("http://h/r", "/t/r", "/t/r"), [new FileRange(5, 10), new FileRange(0, FileRange.LengthToEof)], T0),
            new JobPropertyChanged(J, JobProperty.HttpMethod, "POST", T0),
            new JobPropertyChanged(J, JobProperty.CustomHeadersWriteOnly, "true", T0),
            new JobPropertyChanged(J, JobProperty.ServerCertificateValidation, "true", T0),
            new FileResponseHeadersReceived(J, 0, "HTTP/1.1 206 Partial Content\r\nX-A: b\r\n", T0),
        }.Aggregate(GroupState.Empty(G), (s, e) => s.Apply(e));
        var serializer = (QmgrJsonSerializer)Sys.Serialization.FindSerializerFor(state);

        // act
        var back = (GroupState)serializer.FromBinary(serializer.ToBinary(state), serializer.Manifest(state));

        // assert
        var job = back.Jobs.Single();
        Assert.Equal(new Job5Properties(HighPerformance: true, MaxDownloadSize: 1000), job.Properties5);
        Assert.Equal([new FileRange(5, 10), new FileRange(0, FileRange.LengthToEof)], job.Files.Single().Ranges!);
        Assert.Equal(("POST", true, true), (job.HttpMethod, job.CustomHeadersWriteOnly, job.ServerCertificateValidation));
        Assert.Equal("HTTP/1.1 206 Partial Content\r\nX-A: b\r\n", job.Files.Single().ResponseHeaders);
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
    public void A_snapshot_keeps_the_on_demand_mode_and_the_filled_map_requests_and_position_of_a_file()
    {
        // arrange
        var state = new IGroupEvent[]
        {
            new GroupCreated(G, "alice", "g", JobPriority.Low, 0, T0),
            new JobCreated(J, "j", JobPriority.Normal, JobOptions.Default, TimeSpan.FromSeconds(600), TimeSpan.FromDays(14), TimeSpan.FromDays(90), T0),
            new JobPropertyChanged(J, JobProperty.OnDemandMode, "true", T0),
            new FilesAdded(J, [new NewFile("http://h/a", "/t/a", "/t/.a.tmp")], T0),
            new FileMetadataReceived(J, 0, 1000, Validators.None, T0),
            new FileRangesRequested(J, 0, [new FileRange(500, 10), new FileRange(900, 100)], T0),
            new DownloadPositionUpdated(J, 0, 300, T0),
            new FileRangesFilled(J, 0, [new FileRange(500, 4)], T0),
            new FileRangesFilled(J, 0, [new FileRange(504, 6)], T0),
        }.Aggregate(GroupState.Empty(G), (s, e) => s.Apply(e));
        var serializer = (QmgrJsonSerializer)Sys.Serialization.FindSerializerFor(state);

        // act
        var back = (GroupState)serializer.FromBinary(serializer.ToBinary(state), serializer.Manifest(state));

        // assert
        var job = back.Jobs.Single();
        var file = job.Files.Single();
        Assert.True(job.Properties5.OnDemandMode);
        Assert.Equal([new FileRange(500, 10)], file.RandomAccess.Filled); // merged
        Assert.Equal([new FileRange(900, 100)], file.RandomAccess.Requested); // the present range left the queue
        Assert.Equal((300L, 2, 10L), (file.RandomAccess.Position, file.RandomAccess.Plan, file.BytesTransferred));
    }

    [Fact]
    public void An_unknown_manifest_is_refused()
    {
        var serializer = new QmgrJsonSerializer((ExtendedActorSystem)Sys);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "no-such-event"));
    }

    /// <summary>A job with files, progress, an error record and on-demand ranges: what a notification carries.</summary>
    private static Job NotifiedJob() => new IGroupEvent[]
    {
        new GroupCreated(G, "alice", "g", JobPriority.Normal, 0, T0),
        new JobCreated(J, "j", JobPriority.High, new JobOptions(AutoComplete: true), TimeSpan.FromSeconds(600), TimeSpan.FromDays(14), TimeSpan.FromDays(90), T0),
        new JobPropertyChanged(J, JobProperty.OnDemandMode, "true", T0),
        new FilesAdded(J, [new NewFile("http://h/a", "/t/a", "/t/.a.qmgr-0011aabb.tmp")], T0),
        new FileMetadataReceived(J, 0, 1000, new Validators("\"e\"", T0), T0),
        new FileRangesRequested(J, 0, [new FileRange(0, 10), new FileRange(900, FileRange.LengthToEof)], T0),
        new FileRangesFilled(J, 0, [new FileRange(0, 10)], T0),
        new JobErrorRecorded(J, new JobError(ErrorContext.RemoteFile, unchecked((int)0x80190194), 404, "not found", 0), T0),
    }.Aggregate(GroupState.Empty(G), (s, e) => s.Apply(e)).Jobs.Single();

    public static TheoryData<Qmgr.Api.QmgrNotification> Notifications() => new(
        new Qmgr.Api.QmgrNotification.StateChanged(G, "alice", NotifiedJob(), JobState.Transferring, JobState.Error, "error"),
        new Qmgr.Api.QmgrNotification.Progress(G, "alice", NotifiedJob()),
        new Qmgr.Api.QmgrNotification.Modified(G, "alice", NotifiedJob(), JobProperty.OnDemandMode),
        new Qmgr.Api.QmgrNotification.FileTransferred(G, "alice", NotifiedJob(), 0),
        new Qmgr.Api.QmgrNotification.FileRangesTransferred(G, "alice", NotifiedJob(), 0, [new FileRange(0, 10), new FileRange(900, 100)]));

    [Theory]
    [MemberData(nameof(Notifications))]
    public void Every_notification_crosses_the_wire_with_its_manifest_and_job(Qmgr.Api.QmgrNotification notification)
    {
        // arrange: the serializer the actor system picks, as remoting does for a pub-sub publication
        var serializer = (QmgrJsonSerializer)Sys.Serialization.FindSerializerFor(notification);

        // act
        var manifest = serializer.Manifest(notification);
        var back = (Qmgr.Api.QmgrNotification)serializer.FromBinary(serializer.ToBinary(notification), manifest);

        // assert: same type and fields, the job whole (files, error, on-demand map)
        Assert.StartsWith("notification-", manifest);
        Assert.Equal(notification.GetType(), back.GetType());
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(notification, notification.GetType()), System.Text.Json.JsonSerializer.Serialize(back, back.GetType()));
        Assert.Equal((notification.GroupId, notification.Owner, notification.Job.Id), (back.GroupId, back.Owner, back.Job.Id));
        Assert.Equal(notification.Job.Files.Single().RandomAccess.Filled, back.Job.Files.Single().RandomAccess.Filled);
        Assert.Equal(notification.Job.Error, back.Job.Error);
    }

    [Fact]
    public void Every_kind_of_notification_has_a_manifest()
    {
        var kinds = typeof(Qmgr.Api.QmgrNotification).GetNestedTypes().Where(t => t.IsSubclassOf(typeof(Qmgr.Api.QmgrNotification)));
        Assert.All(kinds, t => Assert.StartsWith("notification-", QmgrManifests.ManifestOf(t)));
        Assert.Equal(kinds.Count(), Notifications().Count);
    }
}
