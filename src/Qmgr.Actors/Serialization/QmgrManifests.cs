using System.Collections.Frozen;
using System.Runtime.Serialization;
using Qmgr.Groups;
using Qmgr.Transfers;

namespace Qmgr.Serialization;

/// <summary>
/// The stable manifest of every serialized Qmgr type. Journaled manifests are frozen once shipped: a renamed type
/// keeps its manifest here, and a changed shape gets a new manifest plus an up-caster.
/// </summary>
public static class QmgrManifests
{
    private static readonly FrozenDictionary<string, Type> Types = new Dictionary<string, Type>
    {
        // journaled events (frozen)
        ["group-created"] = typeof(GroupEvents.GroupCreated),
        ["group-property-changed"] = typeof(GroupEvents.GroupPropertyChanged),
        ["group-cancelled"] = typeof(GroupEvents.GroupCancelled),
        ["group-ownership-taken"] = typeof(GroupEvents.GroupOwnershipTaken),
        ["file-remote-name-changed"] = typeof(GroupEvents.FileRemoteNameChanged),
        ["group-credentials-set"] = typeof(GroupEvents.GroupCredentialsSet),
        ["group-webhook-set"] = typeof(GroupEvents.GroupWebhookSet),
        ["webhook-delivery-due"] = typeof(GroupEvents.WebhookDeliveryDue),
        ["webhook-delivered"] = typeof(GroupEvents.WebhookDelivered),
        ["job-created"] = typeof(GroupEvents.JobCreated),
        ["job-property-changed"] = typeof(GroupEvents.JobPropertyChanged),
        ["files-added"] = typeof(GroupEvents.FilesAdded),
        ["job-credentials-set"] = typeof(GroupEvents.JobCredentialsSet),
        ["job-credentials-removed"] = typeof(GroupEvents.JobCredentialsRemoved),
        ["job-custom-headers-set"] = typeof(GroupEvents.JobCustomHeadersSet),
        ["job-proxy-changed"] = typeof(GroupEvents.JobProxyChanged),
        ["job-notify-cmdline-set"] = typeof(GroupEvents.JobNotifyCmdLineSet),
        ["job-state-changed"] = typeof(GroupEvents.JobStateChanged),
        ["file-metadata-received"] = typeof(GroupEvents.FileMetadataReceived),
        ["file-progress-checkpointed"] = typeof(GroupEvents.FileProgressCheckpointed),
        ["file-restarted"] = typeof(GroupEvents.FileRestarted),
        ["file-transferred"] = typeof(GroupEvents.FileTransferred),
        ["job-error-recorded"] = typeof(GroupEvents.JobErrorRecorded),
        ["retry-scheduled"] = typeof(GroupEvents.RetryScheduled),
        ["job-completed"] = typeof(GroupEvents.JobCompleted),
        ["job-cancelled"] = typeof(GroupEvents.JobCancelled),
        ["job-client-certificate-set"] = typeof(GroupEvents.JobClientCertificateSet),
        ["file-with-ranges-added"] = typeof(GroupEvents.FileWithRangesAdded),
        ["upload-session-created"] = typeof(GroupEvents.UploadSessionCreated),
        ["reply-file-name-set"] = typeof(GroupEvents.ReplyFileNameSet),
        ["reply-progress-recorded"] = typeof(GroupEvents.ReplyProgressRecorded),
        ["file-response-headers-received"] = typeof(GroupEvents.FileResponseHeadersReceived),
        ["file-ranges-requested"] = typeof(GroupEvents.FileRangesRequested),
        ["download-position-updated"] = typeof(GroupEvents.DownloadPositionUpdated),
        ["file-ranges-filled"] = typeof(GroupEvents.FileRangesFilled),
        // snapshot (frozen)
        ["group-state"] = typeof(GroupState),
        // wire messages between nodes
        ["create-group"] = typeof(GroupCommands.CreateGroup),
        ["create-job"] = typeof(GroupCommands.CreateJob),
        ["cancel-group"] = typeof(GroupCommands.CancelGroup),
        ["take-ownership"] = typeof(GroupCommands.TakeOwnership),
        ["set-remote-name"] = typeof(GroupCommands.SetRemoteName),
        ["replace-remote-prefix"] = typeof(GroupCommands.ReplaceRemotePrefix),
        ["set-group-credentials"] = typeof(GroupCommands.SetGroupCredentials),
        ["set-group-webhook"] = typeof(GroupCommands.SetGroupWebhook),
        ["add-files"] = typeof(GroupCommands.AddFiles),
        ["add-file-with-ranges"] = typeof(GroupCommands.AddFileWithRanges),
        ["request-file-ranges"] = typeof(GroupCommands.RequestFileRanges),
        ["update-download-position"] = typeof(GroupCommands.UpdateDownloadPosition),
        ["set-group-property"] = typeof(GroupCommands.SetGroupProperty),
        ["set-job-property"] = typeof(GroupCommands.SetJobProperty),
        ["set-job-credentials"] = typeof(GroupCommands.SetJobCredentials),
        ["remove-job-credentials"] = typeof(GroupCommands.RemoveJobCredentials),
        ["set-job-custom-headers"] = typeof(GroupCommands.SetJobCustomHeaders),
        ["set-job-client-certificate"] = typeof(GroupCommands.SetJobClientCertificate),
        ["set-job-proxy"] = typeof(GroupCommands.SetJobProxy),
        ["set-notify-cmdline"] = typeof(GroupCommands.SetNotifyCmdLine),
        ["resume-job"] = typeof(GroupCommands.ResumeJob),
        ["suspend-job"] = typeof(GroupCommands.SuspendJob),
        ["cancel-job"] = typeof(GroupCommands.CancelJob),
        ["complete-job"] = typeof(GroupCommands.CompleteJob),
        ["set-reply-file-name"] = typeof(GroupCommands.SetReplyFileName),
        ["get-group"] = typeof(GroupQueries.GetGroup),
        ["command-result"] = typeof(CommandResult),
        ["start-transfer"] = typeof(TransferProtocol.StartTransfer),
        ["cancel-transfer"] = typeof(TransferProtocol.CancelTransfer),
        ["transfer-connecting"] = typeof(TransferProtocol.TransferConnecting),
        ["transfer-accepted"] = typeof(TransferProtocol.TransferAccepted),
        ["transfer-responded"] = typeof(TransferProtocol.TransferResponded),
        ["transfer-checkpointed"] = typeof(TransferProtocol.TransferCheckpointed),
        ["transfer-restarted"] = typeof(TransferProtocol.TransferRestarted),
        ["transfer-filled"] = typeof(TransferProtocol.TransferFilled),
        ["transfer-retrying"] = typeof(TransferProtocol.TransferRetrying),
        ["transfer-finished"] = typeof(TransferProtocol.TransferFinished),
        ["transfer-preempted"] = typeof(TransferProtocol.TransferPreempted),
        ["transfer-response-headers"] = typeof(TransferProtocol.TransferResponseHeaders),
        ["bandwidth-report-demand"] = typeof(BandwidthProtocol.ReportDemand),
        ["bandwidth-node-share"] = typeof(BandwidthProtocol.NodeShareAssigned),
        ["transfer-upload-session-created"] = typeof(TransferProtocol.TransferUploadSessionCreated),
        ["transfer-reply-progressed"] = typeof(TransferProtocol.TransferReplyProgressed),
        ["cancel-upload-session"] = typeof(TransferProtocol.CancelUploadSession),
        // notifications published cluster-wide by a group (Api.NotificationRelay.Topic)
        ["notification-state-changed"] = typeof(Api.QmgrNotification.StateChanged),
        ["notification-progress"] = typeof(Api.QmgrNotification.Progress),
        ["notification-modified"] = typeof(Api.QmgrNotification.Modified),
        ["notification-file-transferred"] = typeof(Api.QmgrNotification.FileTransferred),
        ["notification-file-ranges-transferred"] = typeof(Api.QmgrNotification.FileRangesTransferred),
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<Type, string> Manifests = Types.ToFrozenDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>Every manifest with its type (for round-trip specs).</summary>
    public static IReadOnlyDictionary<string, Type> All => Types;

    /// <summary>The manifest of <paramref name="type"/>; throws <see cref="SerializationException"/> for an unregistered type.</summary>
    public static string ManifestOf(Type type) =>
        Manifests.TryGetValue(type, out var m) ? m : throw new SerializationException($"{type.FullName} has no Qmgr manifest");

    /// <summary>The type of <paramref name="manifest"/>; throws <see cref="SerializationException"/> for an unknown one.</summary>
    public static Type TypeOf(string manifest) =>
        Types.TryGetValue(manifest, out var t) ? t : throw new SerializationException($"unknown Qmgr manifest '{manifest}'");
}
