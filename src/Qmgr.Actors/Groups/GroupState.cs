using System.Collections.Immutable;
using System.Globalization;
using Qmgr.Jobs;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Groups;

/// <summary>
/// A group and its jobs as an immutable record: the state of one <see cref="GroupActor"/>, rebuilt by folding its
/// events with <see cref="Apply"/>. Also the snapshot type.
/// </summary>
public sealed record GroupState(
    Guid Id,
    bool Exists,
    string Owner,
    string DisplayName,
    string Description,
    JobPriority Priority,
    long MaxBytesPerSecond,
    DateTimeOffset CreationTime,
    ImmutableList<Job> Jobs) : IQmgrMessage
{
    /// <summary>BITS 1.0 GROUPPROP_NOTIFYFLAGS (QM_NOTIFY_* bits); 0 until set.</summary>
    public int QmNotifyFlags { get; init; }

    /// <summary>BITS 1.0 GROUPPROP_NOTIFYCLSID in registry form, or empty.</summary>
    public string NotifyClsid { get; init; } = "";

    /// <summary>GROUPPROP_REMOTEUSERID: the user name of the group's server credentials, or empty.</summary>
    public string RemoteUserId { get; init; } = "";

    /// <summary>The group's server credentials as ciphertext (Basic), inherited by its jobs; null when none.</summary>
    public string? ProtectedCredentials { get; init; }

    /// <summary>The group's webhook (URL and HMAC secret ciphertext), or null when none is set.</summary>
    public GroupWebhook? Webhook { get; init; }

    /// <summary>The outbox: webhook deliveries due and not yet answered with a 2xx, oldest first.</summary>
    public ImmutableList<WebhookDelivery> PendingDeliveries { get; init; } = ImmutableList<WebhookDelivery>.Empty;

    /// <summary>True once <see cref="GroupCancelled"/> is persisted: every command is then BG_E_NOT_FOUND.</summary>
    public bool Cancelled { get; init; }

    /// <summary>The state before <see cref="GroupCreated"/>.</summary>
    public static GroupState Empty(Guid id) => new(id, false, "", "", "", JobPriority.Normal, 0, default, ImmutableList<Job>.Empty);

    /// <summary>The job with this id, or null.</summary>
    public Job? FindJob(Guid jobId) => Jobs.Find(j => j.Id == jobId);

    /// <summary>
    /// Folds one event into the state. Pure: no clock, no I/O. Throws <see cref="ArgumentOutOfRangeException"/> on an
    /// unknown event and <see cref="InvalidOperationException"/> on an event for a job that does not exist.
    /// </summary>
    public GroupState Apply(IGroupEvent e) => e switch
    {
        GroupCreated c => this with
        {
            Exists = true, Owner = c.Owner, DisplayName = c.DisplayName, Priority = c.Priority,
            MaxBytesPerSecond = c.MaxBytesPerSecond, CreationTime = c.At,
        },
        GroupCancelled => this with { Cancelled = true },
        GroupOwnershipTaken o => this with { Owner = o.Owner, ProtectedCredentials = null },
        FileRemoteNameChanged r => UpdateFile(r.JobId, r.FileIndex, f => f with { RemoteName = r.RemoteName }),
        GroupCredentialsSet c => this with { ProtectedCredentials = c.Protected },
        GroupWebhookSet w => this with { Webhook = w is { Url: { } url, ProtectedSecret: { } secret } ? new GroupWebhook(url, secret) : null },
        WebhookDeliveryDue d => this with { PendingDeliveries = PendingDeliveries.Add(new WebhookDelivery(d.DeliveryId, d.JobId, d.Kind, d.Url, d.Body)) },
        WebhookDelivered d => this with { PendingDeliveries = PendingDeliveries.RemoveAll(x => x.DeliveryId == d.DeliveryId) },
        GroupPropertyChanged p => p.Property switch
        {
            GroupProperty.DisplayName => this with { DisplayName = p.Value },
            GroupProperty.Description => this with { Description = p.Value },
            GroupProperty.Priority => this with { Priority = Enum.Parse<JobPriority>(p.Value) },
            GroupProperty.MaxBytesPerSecond => this with { MaxBytesPerSecond = long.Parse(p.Value, CultureInfo.InvariantCulture) },
            GroupProperty.NotifyFlags => this with { QmNotifyFlags = int.Parse(p.Value, CultureInfo.InvariantCulture) },
            GroupProperty.NotifyClsid => this with { NotifyClsid = p.Value },
            GroupProperty.RemoteUserId => this with { RemoteUserId = p.Value },
            _ => throw new ArgumentOutOfRangeException(nameof(e), p.Property, "unknown group property"),
        },
        JobCreated c => this with
        {
            Jobs = Jobs.Add(new Job(c.JobId, c.DisplayName, "", NotifyFlags.JobTransferred | NotifyFlags.JobError, c.MaximumDownloadTime,
                JobState.Suspended, c.Priority, c.Options, ImmutableList<JobFile>.Empty,
                null, 0, c.MinimumRetryDelay, c.NoProgressTimeout, c.At, c.At, null, null, null, ImmutableList<ProtectedCredentials>.Empty, null)
                { Type = c.Type, Reply = c.Type == JobType.UploadReply ? JobReply.None : null }),
        },
        JobPropertyChanged p => Update(p.JobId, j => (p.Property switch
        {
            JobProperty.DisplayName => j with { DisplayName = p.Value },
            JobProperty.Description => j with { Description = p.Value },
            JobProperty.Priority => j with { Priority = Enum.Parse<JobPriority>(p.Value) },
            JobProperty.NotifyFlags => j with { NotifyFlags = (NotifyFlags)int.Parse(p.Value, CultureInfo.InvariantCulture) },
            JobProperty.MinimumRetryDelay => j with { MinimumRetryDelay = TimeSpan.FromSeconds(long.Parse(p.Value, CultureInfo.InvariantCulture)) },
            JobProperty.NoProgressTimeout => j with { NoProgressTimeout = TimeSpan.FromSeconds(long.Parse(p.Value, CultureInfo.InvariantCulture)) },
            JobProperty.MaximumDownloadTime => j with { MaximumDownloadTime = TimeSpan.FromSeconds(long.Parse(p.Value, CultureInfo.InvariantCulture)) },
            JobProperty.SecurityFlags => j with { SecurityFlags = int.Parse(p.Value, CultureInfo.InvariantCulture) },
            JobProperty.HttpMethod => j with { HttpMethod = p.Value == "GET" ? null : p.Value },
            JobProperty.CustomHeadersWriteOnly => j with { CustomHeadersWriteOnly = bool.Parse(p.Value) },
            JobProperty.ServerCertificateValidation => j with { ServerCertificateValidation = bool.Parse(p.Value) },
            JobProperty.CostFlags or JobProperty.NotificationClsid or JobProperty.DynamicContent or JobProperty.HighPerformance
                or JobProperty.MaxDownloadSize or JobProperty.UseStoredCredentials or JobProperty.MinimumNotificationInterval or JobProperty.OnDemandMode =>
                j with { Job5 = ApplyJob5(j.Properties5, p.Property, p.Value) },
            _ => throw new ArgumentOutOfRangeException(nameof(e), p.Property, "unknown job property"),
        }) with { ModificationTime = p.At, LastActivity = p.At }),
        JobCredentialsSet c => Update(c.JobId, j => j with
        {
            Credentials = j.Credentials.RemoveAll(x => x.Target == c.Target && x.Scheme == c.Scheme).Add(new ProtectedCredentials(c.Target, c.Scheme, c.Protected)),
            ModificationTime = c.At,
        }),
        JobCredentialsRemoved r => Update(r.JobId, j => j with
        {
            Credentials = j.Credentials.RemoveAll(x => x.Target == r.Target && x.Scheme == r.Scheme),
            ModificationTime = r.At,
        }),
        JobNotifyCmdLineSet n => Update(n.JobId, j => j with { NotifyCmdLine = n.CommandLine, ModificationTime = n.At, LastActivity = n.At }),
        JobProxyChanged x => Update(x.JobId, j => j with { Proxy = x.Proxy, ModificationTime = x.At, LastActivity = x.At }),
        JobCustomHeadersSet h => Update(h.JobId, j => j with { ProtectedCustomHeaders = h.Protected, ModificationTime = h.At }),
        JobClientCertificateSet c => Update(c.JobId, j => j with { ClientCertificate = c.Certificate, ModificationTime = c.At }),
        FileResponseHeadersReceived h => UpdateFile(h.JobId, h.FileIndex, f => f with { ResponseHeaders = h.Headers }),
        FileWithRangesAdded a => Update(a.JobId, j => j with
        {
            Files = j.Files.Add(new JobFile(a.File.RemoteName, a.File.LocalName, a.File.TempName, null, 0, false, false, Transport.Validators.None,
                a.File.ExpectedSha256, a.Ranges)),
            ModificationTime = a.At,
        }),
        FilesAdded a => Update(a.JobId, j => j with
        {
            Files = j.Files.AddRange(a.Files.Select(f => new JobFile(f.RemoteName, f.LocalName, f.TempName, null, 0, false, false, Transport.Validators.None, f.ExpectedSha256))),
            ModificationTime = a.At,
        }),
        JobStateChanged s => Update(s.JobId, j => ActiveClock(j, s) with
        {
            State = s.To,
            Resumed = j.Resumed || s.Cause == ResumedCause,
            ModificationTime = s.At,
            LastActivity = s.At,
            // BITS keeps the error record until the job next transfers (bits-spec §2.7).
            Error = s.To is JobState.Transferring or JobState.Transferred or JobState.Acknowledged or JobState.Cancelled ? null : j.Error,
            RetryDueAt = s.To == JobState.TransientError ? j.RetryDueAt : null,
            TransferCompletionTime = s.To == JobState.Transferred ? s.At : j.TransferCompletionTime,
        }),
        FileMetadataReceived m => UpdateFile(m.JobId, m.FileIndex, f => f with { BytesTotal = m.BytesTotal, Validators = m.Validators }),
        FileProgressCheckpointed c => UpdateFile(c.JobId, c.FileIndex, f => f with { BytesTransferred = c.BytesTransferred }, progress: c.At),
        FileRestarted r => UpdateFile(r.JobId, r.FileIndex, f => f with
        {
            BytesTransferred = 0, BytesTotal = null, Validators = Transport.Validators.None,
            OnDemand = f.OnDemand is { } od ? od with { Filled = [] } : null,
        }),
        FileTransferred t => UpdateFile(t.JobId, t.FileIndex, f => f with
        {
            BytesTransferred = t.Size, BytesTotal = t.Size, Transferred = true,
            OnDemand = f.OnDemand is { } od ? od with { Filled = t.Size > 0 ? [new Transport.FileRange(0, t.Size)] : [], Requested = [] } : null,
        }, progress: t.At),
        FileRangesRequested q => UpdateFile(q.JobId, q.FileIndex, f => f with
        {
            OnDemand = f.RandomAccess with
            {
                Requested = f.RandomAccess.Requested.AddRange(q.Ranges.Where(r => !Transport.FileRangeSet.Covers(f.RandomAccess.Filled, r, f.BytesTotal))),
                Plan = f.RandomAccess.Plan + 1,
            },
        }).Update(q.JobId, j => j with { ModificationTime = q.At, LastActivity = q.At }),
        DownloadPositionUpdated p => UpdateFile(p.JobId, p.FileIndex, f => f with
        {
            OnDemand = f.RandomAccess with { Position = p.Offset, Plan = f.RandomAccess.Plan + 1 },
        }).Update(p.JobId, j => j with { ModificationTime = p.At, LastActivity = p.At }),
        FileRangesFilled x => UpdateFile(x.JobId, x.FileIndex, f =>
        {
            var filled = Transport.FileRangeSet.AddAll(f.RandomAccess.Filled, x.Ranges);
            return f with
            {
                BytesTransferred = Transport.FileRangeSet.Total(filled),
                OnDemand = f.RandomAccess with
                {
                    Filled = filled,
                    Requested = f.RandomAccess.Requested.RemoveAll(r => Transport.FileRangeSet.Covers(filled, r, f.BytesTotal)),
                },
            };
        }, progress: x.At),
        JobErrorRecorded r => Update(r.JobId, j => j with
        {
            Error = r.Error,
            ErrorCount = j.ErrorCount + 1,
            FirstTransientErrorAt = j.FirstTransientErrorAt ?? r.At,
            ModificationTime = r.At,
        }),
        RetryScheduled r => Update(r.JobId, j => j with { RetryDueAt = r.DueAt }),
        JobCompleted c => Update(c.JobId, j => j with
        {
            State = JobState.Acknowledged,
            Files = j.Files.Select((f, i) => c.CompletedFiles.Contains(i) ? f with { Completed = true } : f).ToImmutableList(),
            ModificationTime = c.At,
            Error = null,
        }),
        JobCancelled c => Update(c.JobId, j => j with { State = JobState.Cancelled, ModificationTime = c.At, Error = null }),
        UploadSessionCreated u => Update(u.JobId, j => j with { Upload = new UploadSession(u.SessionId, u.SourceSize, u.SourceLastWrite), LastActivity = u.At }),
        ReplyFileNameSet r => Update(r.JobId, j => j with
        {
            Reply = (j.Reply ?? JobReply.None) with { FileName = r.ReplyFileName, TempName = r.ReplyTempName },
            ModificationTime = r.At,
            LastActivity = r.At,
        }),
        ReplyProgressRecorded r => Update(r.JobId, j => j with
        {
            Reply = (j.Reply ?? JobReply.None) with { Url = r.ReplyUrl, BytesTotal = r.BytesTotal, BytesTransferred = r.BytesTransferred },
            FirstTransientErrorAt = null,
            LastActivity = r.At,
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "unknown group event"),
    };

    // The invariant texts of the IBackgroundCopyJob5 properties (see JobProperty), as GroupDecisions normalised them.
    private static Job5Properties ApplyJob5(Job5Properties p, JobProperty property, string value) => property switch
    {
        JobProperty.CostFlags => p with { CostFlags = uint.Parse(value, CultureInfo.InvariantCulture) },
        JobProperty.NotificationClsid => p with { NotificationClsid = value.Length == 0 ? Guid.Empty : Guid.Parse(value) },
        JobProperty.DynamicContent => p with { DynamicContent = bool.Parse(value) },
        JobProperty.HighPerformance => p with { HighPerformance = bool.Parse(value) },
        JobProperty.MaxDownloadSize => p with
        {
            MaxDownloadSize = ulong.Parse(value, CultureInfo.InvariantCulture) is var max && max >= long.MaxValue ? null : (long)max,
        },
        JobProperty.UseStoredCredentials => p with
        {
            UseStoredCredentials = int.Parse(value, CultureInfo.InvariantCulture) is var t && t == 0 ? null : (AuthTarget)t,
        },
        JobProperty.OnDemandMode => p with { OnDemandMode = bool.Parse(value) },
        _ => p with { MinimumNotificationIntervalMs = uint.Parse(value, CultureInfo.InvariantCulture) },
    };

    // Connecting + Transferring time for MaximumDownloadTime, from event times only; the owner's Resume resets it (T14, T23).
    private static Job ActiveClock(Job j, JobStateChanged s)
    {
        static bool Counted(JobState x) => x is JobState.Connecting or JobState.Transferring;
        if (s.To == JobState.Queued && s.Cause == ResumedCause) j = j with { ActiveTime = TimeSpan.Zero, ActiveSince = null };
        if (!Counted(s.From) && Counted(s.To)) return j with { ActiveSince = s.At };
        if (Counted(s.From) && !Counted(s.To)) return j with { ActiveTime = j.ActiveTimeAt(s.At), ActiveSince = null };
        return j;
    }

    private GroupState Update(Guid jobId, Func<Job, Job> change)
    {
        var index = Jobs.FindIndex(j => j.Id == jobId);
        if (index < 0) throw new InvalidOperationException($"event for unknown job {jobId:D} in group {Id:D}");
        return this with { Jobs = Jobs.SetItem(index, change(Jobs[index])) };
    }

    // Progress resets the no-progress clock (BITS NoProgressTimeout counts from the first transient error without progress).
    private GroupState UpdateFile(Guid jobId, int fileIndex, Func<JobFile, JobFile> change, DateTimeOffset? progress = null) =>
        Update(jobId, j => j with
        {
            Files = j.Files.SetItem(fileIndex, change(j.Files[fileIndex])),
            FirstTransientErrorAt = progress is null ? j.FirstTransientErrorAt : null,
            LastActivity = progress ?? j.LastActivity,
        });
}

/// <summary>A group's webhook: where notifications are POSTed and the ciphertext of the secret that signs them.</summary>
public sealed record GroupWebhook(string Url, string ProtectedSecret);

/// <summary>One delivery in the outbox: <see cref="Body"/> (JSON) is POSTed to <see cref="Url"/> until a 2xx answers.</summary>
public sealed record WebhookDelivery(Guid DeliveryId, Guid JobId, string Kind, string Url, string Body);
