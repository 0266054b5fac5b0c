using System.Collections.Immutable;
using Qmgr.Jobs;
using JobActor = Qmgr.Jobs.JobActor;
using Qmgr.Transport;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Groups;

/// <summary>
/// Pure decisions of the BITS model: given the state, a command and the time, the reply and the events to persist.
/// No I/O (Complete's renames happen in <see cref="GroupActor"/> before its events are decided).
/// </summary>
public static partial class GroupDecisions
{
    /// <summary>Longest display name (BITS <c>SetDisplayName</c>: 256 characters).</summary>
    public const int MaxDisplayNameLength = 256;

    public static (CommandResult Result, IGroupEvent[] Events) Decide(this GroupState state, IGroupCommand command, DateTimeOffset now, QmgrSettings settings)
    {
        if (command is CreateGroup create)
        {
            if (state.Cancelled)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"group id {create.GroupId:D} belonged to a cancelled group"), []);
            if (state.Exists)
                return state.Owner == create.Caller && state.DisplayName == create.DisplayName
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Rejected(HResults.E_INVALIDARG, $"group {create.GroupId:D} already exists"), []);
            if (create.DisplayName.Length > MaxDisplayNameLength)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"display name longer than {MaxDisplayNameLength} characters"), []);
            if (create.MaxBytesPerSecond < 0)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, "max bytes per second must be 0 (no cap) or positive"), []);
            return (CommandResult.Ok, [new GroupCreated(create.GroupId, create.Caller, create.DisplayName, create.Priority, create.MaxBytesPerSecond, now)]);
        }

        if (state.CheckGroup(command) is { } refused)
            return (refused, []);

        if (command is CancelGroup)
            return (CommandResult.Ok, [
                .. state.Jobs.Where(j => !j.State.IsFinal()).Select(j => (IGroupEvent)new JobCancelled(j.Id, now)),
                new GroupCancelled(now)]);

        if (command is TakeOwnership take)
        {
            if (take.NewOwner == state.Owner) return (CommandResult.NoOp, []);
            var stripped = state.Jobs.Where(j => !j.State.IsFinal()).SelectMany(j => j.Credentials
                    .Select(c => (IGroupEvent)new JobCredentialsRemoved(j.Id, c.Target, c.Scheme, now))
                    .Concat(j.ProtectedCustomHeaders is null ? [] : [new JobCustomHeadersSet(j.Id, null, now)])
                    .Concat(j.ClientCertificate is null ? [] : [new JobClientCertificateSet(j.Id, null, now)]));
            return (CommandResult.Ok, [new GroupOwnershipTaken(take.NewOwner, now), .. stripped]);
        }

        if (command is SetGroupCredentials credentials)
        {
            if (credentials.Protected == state.ProtectedCredentials) return (CommandResult.NoOp, []);
            var unfinished = state.Jobs.Where(j => !j.State.IsFinal());
            return (CommandResult.Ok, [
                new GroupCredentialsSet(credentials.Protected, now),
                .. credentials.Protected is { } p
                    ? unfinished.Select(j => (IGroupEvent)new JobCredentialsSet(j.Id, AuthTarget.Server, AuthScheme.Basic, p, now))
                    : unfinished.Where(j => j.Credentials.Any(c => c is { Target: AuthTarget.Server, Scheme: AuthScheme.Basic }))
                        .Select(j => (IGroupEvent)new JobCredentialsRemoved(j.Id, AuthTarget.Server, AuthScheme.Basic, now))]);
        }

        if (command is SetGroupWebhook webhook)
        {
            if ((webhook.Url is null) != (webhook.ProtectedSecret is null))
                return (CommandResult.Rejected(HResults.E_INVALIDARG, "give a webhook URL and a secret, or neither"), []);
            if (webhook.Url is { } url && (url.Length > 2200 || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"the webhook must be an absolute http or https URL of at most 2,200 characters: {url}"), []);
            return (CommandResult.Ok, [new GroupWebhookSet(webhook.Url, webhook.ProtectedSecret, now)]);
        }

        if (command is SetGroupProperty setGroup)
            return DecideGroupProperty(state, setGroup, now);

        if (command is CreateJob createJob)
        {
            if (state.FindJob(createJob.JobId) is not null)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"job {createJob.JobId:D} already exists"), []);
            if (createJob.DisplayName.Length > MaxDisplayNameLength)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"display name longer than {MaxDisplayNameLength} characters"), []);
            if (!Enum.IsDefined(createJob.Type))
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"undefined job type {(int)createJob.Type}"), []);
            IGroupEvent created = new JobCreated(createJob.JobId, createJob.DisplayName, createJob.Priority ?? state.Priority,
                createJob.Options, settings.MinimumRetryDelay, settings.NoProgressTimeout, settings.MaximumDownloadTime, now, createJob.Type);
            return state.ProtectedCredentials is { } inherited
                ? (CommandResult.Ok, [created, new JobCredentialsSet(createJob.JobId, AuthTarget.Server, AuthScheme.Basic, inherited, now)])
                : (CommandResult.Ok, [created]);
        }

        var (job, rejected) = state.CheckJob(command);
        if (rejected is not null) return (rejected, []);
        var jobId = job!.Id;

        switch (command)
        {
            case AddFiles add:
                return DecideAddFiles(job, add, now, settings);

            case AddFileWithRanges ranged:
                return DecideAddFileWithRanges(job, ranged, now, settings);

            case RequestFileRanges request:
                return DecideRequestFileRanges(job, request, now);

            case UpdateDownloadPosition position:
                return DecideUpdateDownloadPosition(job, position, now);

            case SetJobProperty set:
                return DecideJobProperty(job, set, now, settings);

            case SetJobCredentials c:
                if (!Enum.IsDefined(c.Target))
                    return (CommandResult.Rejected(HResults.BG_E_INVALID_AUTH_TARGET, $"undefined auth target {(int)c.Target}"), []);
                if (!Enum.IsDefined(c.Scheme))
                    return (CommandResult.Rejected(HResults.BG_E_INVALID_AUTH_SCHEME, $"undefined auth scheme {(int)c.Scheme}"), []);
                return (CommandResult.Ok, [new JobCredentialsSet(jobId, c.Target, c.Scheme, c.Protected, now)]);

            case RemoveJobCredentials r:
                return job.Credentials.Any(x => x.Target == r.Target && x.Scheme == r.Scheme)
                    ? (CommandResult.Ok, [new JobCredentialsRemoved(jobId, r.Target, r.Scheme, now)])
                    : (CommandResult.NoOp, []);

            case SetNotifyCmdLine n:
                if (n.CommandLine is { } cmd && !Path.IsPathFullyQualified(cmd.Program))
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, $"the notify program must be an absolute path: {cmd.Program}"), []);
                if (n.CommandLine?.Parameters is { Length: > 4000 })
                    return (CommandResult.Rejected(HResults.BG_E_STRING_TOO_LONG, "notify parameters longer than 4,000 characters"), []);
                return n.CommandLine == job.NotifyCmdLine
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new JobNotifyCmdLineSet(jobId, n.CommandLine, now)]);

            case SetRemoteName r:
                if (r.FileIndex < 0 || r.FileIndex >= job.Files.Count)
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, $"no file {r.FileIndex} in job {jobId:D}"), []);
                if (job.Files[r.FileIndex].Transferred)
                    return (CommandResult.Rejected(HResults.BG_E_INVALID_STATE, $"file {r.FileIndex} is already transferred"), []);
                if (RemoteNameError(r.RemoteName, settings) is { } bad) return (CommandResult.Rejected(HResults.E_INVALIDARG, bad), []);
                return job.Files[r.FileIndex].RemoteName == new Uri(r.RemoteName).AbsoluteUri
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new FileRemoteNameChanged(jobId, r.FileIndex, new Uri(r.RemoteName).AbsoluteUri, now)]);

            case ReplaceRemotePrefix p:
                if (p.OldPrefix.Length == 0 || p.NewPrefix.Length == 0)
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, "prefixes must not be empty"), []);
                var changes = new List<IGroupEvent>();
                for (var i = 0; i < job.Files.Count; i++)
                {
                    var f = job.Files[i];
                    if (f.Transferred || !f.RemoteName.StartsWith(p.OldPrefix, StringComparison.Ordinal)) continue;
                    var url = p.NewPrefix + f.RemoteName[p.OldPrefix.Length..];
                    if (RemoteNameError(url, settings) is { } error) return (CommandResult.Rejected(HResults.E_INVALIDARG, error), []);
                    changes.Add(new FileRemoteNameChanged(jobId, i, new Uri(url).AbsoluteUri, now));
                }
                return changes.Count == 0 ? (CommandResult.NoOp, []) : (CommandResult.Ok, [.. changes]);

            case SetJobProxy x:
                if (ProxyError(x.Proxy) is { } invalid) return (CommandResult.Rejected(HResults.E_INVALIDARG, invalid), []);
                return x.Proxy == (job.Proxy ?? ProxySettings.Preconfig)
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new JobProxyChanged(jobId, x.Proxy, now)]);

            case SetJobCustomHeaders h:
                return h.Protected == job.ProtectedCustomHeaders
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new JobCustomHeadersSet(jobId, h.Protected, now)]);

            case SetJobClientCertificate cc:
                if (ClientCertificateError(cc.Certificate) is { } certificateError) return (certificateError, []);
                return cc.Certificate == job.ClientCertificate
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new JobClientCertificateSet(jobId, cc.Certificate, now)]);

            case ResumeJob:
                if (job.Files.IsEmpty)
                    return (CommandResult.Rejected(HResults.BG_E_EMPTY, $"job {jobId:D} has no files"), []);
                if (job.State is JobState.Queued or JobState.Connecting or JobState.Transferring)
                    return (CommandResult.NoOp, []);
                if (job.State == JobState.Transferred && job.NextFileIndex is null)
                    return (CommandResult.NoOp, []);
                // BITS: an upload-reply job without a reply file name gets one next to the upload file at its first Resume
                var reply = job.Type == JobType.UploadReply && job.Reply?.FileName is null ? GeneratedReplyFileName(job) : null;
                IGroupEvent[] resumed = reply is not null
                    ? [new ReplyFileNameSet(jobId, reply, TempFiles.TempPathFor(reply, TempSuffix(jobId, 1)), now),
                        new JobStateChanged(jobId, job.State, JobState.Queued, ResumedCause, now)]
                    : [new JobStateChanged(jobId, job.State, JobState.Queued, ResumedCause, now)];
                // T14/T2 then T15 at once: every file is already transferred (its AutoComplete failed, or its last file
                // finished while Suspended), so nothing would be queued; back in Transferred, AutoComplete runs again
                return (CommandResult.Ok, job.NextFileIndex is null
                    ? [.. resumed, new JobStateChanged(jobId, JobState.Queued, JobState.Transferred, AllFilesTransferredCause, now)]
                    : resumed);

            case SetReplyFileName r:
                if (job.Type != JobType.UploadReply)
                    return (CommandResult.Rejected(HResults.E_NOTIMPL, $"job {jobId:D} is a {job.Type} job; only upload-reply jobs have a reply file"), []);
                if (job.Reply?.Started == true)
                    return (CommandResult.Rejected(HResults.BG_E_INVALID_STATE, "the reply download has started; the reply file name can no longer change"), []);
                if (!Path.IsPathFullyQualified(r.ReplyFileName) || Path.GetFileName(r.ReplyFileName).Length == 0)
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, $"reply file name is not an absolute file path: {r.ReplyFileName}"), []);
                var replyPath = Path.GetFullPath(r.ReplyFileName);
                if (!PathPolicy.IsAllowed(replyPath, settings.AllowedRoots))
                    return (CommandResult.Rejected(HResults.E_ACCESSDENIED, $"reply file name is outside the allowed roots (qmgr.paths.allowed-roots): {replyPath}"), []);
                if (job.Files.Any(f => f.LocalName == replyPath))
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, $"the reply file cannot be the upload file: {replyPath}"), []);
                return job.Reply?.FileName == replyPath
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new ReplyFileNameSet(jobId, replyPath, TempFiles.TempPathFor(replyPath, TempSuffix(jobId, 1)), now)]);

            case SuspendJob:
                return job.State == JobState.Suspended
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new JobStateChanged(jobId, job.State, JobState.Suspended, "suspended", now)]);

            case CancelJob:
                return (CommandResult.Ok, [new JobCancelled(jobId, now)]);

            default:
                throw new InvalidOperationException($"{command.GetType().Name} is decided by the GroupActor (it needs I/O)");
        }
    }

    /// <summary>Why a client certificate selection is invalid (BITS SetClientCertificateByID / ByName codes), or null.</summary>
    private static CommandResult? ClientCertificateError(ClientCertificate? c) =>
        c is null ? null
        : !Enum.IsDefined(c.Location) ? CommandResult.Rejected(HResults.E_NOTIMPL, $"undefined certificate store location {(int)c.Location}")
        : string.IsNullOrEmpty(c.StoreName) ? CommandResult.Rejected(HResults.E_INVALIDARG, "the certificate store name is empty")
        : c.StoreName.Length > 255 ? CommandResult.Rejected(HResults.BG_E_STRING_TOO_LONG, "certificate store name longer than 255 characters")
        : (c.Thumbprint is null) == (c.SubjectName is null) ? CommandResult.Rejected(HResults.E_INVALIDARG, "give either a SHA-1 thumbprint or a subject name")
        : c.Thumbprint is { } t && (t.Length != 40 || !t.All(Uri.IsHexDigit)) ? CommandResult.Rejected(HResults.E_INVALIDARG, "the certificate hash must be 20 bytes (SHA-1)")
        : c.SubjectName is "" ? CommandResult.Rejected(HResults.E_INVALIDARG, "the subject name is empty")
        : null;

    /// <summary>BG_E_NOT_FOUND for a group that does not exist or was cancelled, E_ACCESSDENIED for another owner's (Decision 11); null when the caller may act.</summary>
    public static CommandResult? CheckGroup(this GroupState state, IGroupCommand command) =>
        !state.Exists || state.Cancelled ? CommandResult.Rejected(HResults.BG_E_NOT_FOUND, $"no group {command.GroupId:D}")
        : state.Owner != command.Caller ? CommandResult.Rejected(HResults.E_ACCESSDENIED, $"group {command.GroupId:D} belongs to another owner")
        : null;

    /// <summary>
    /// The job a job command names, or the rejection BITS gives: BG_E_NOT_FOUND (no group or job), E_ACCESSDENIED
    /// (another owner, Decision 11) or BG_E_INVALID_STATE (the job is Acknowledged or Cancelled).
    /// </summary>
    public static (Job? Job, CommandResult? Rejected) CheckJob(this GroupState state, IGroupCommand command)
    {
        if (state.CheckGroup(command) is { } refused)
            return (null, refused);
        var jobId = command switch
        {
            AddFiles a => a.JobId,
            AddFileWithRanges a => a.JobId,
            RequestFileRanges r => r.JobId,
            UpdateDownloadPosition u => u.JobId,
            SetJobProperty p => p.JobId,
            SetJobCredentials c => c.JobId,
            RemoveJobCredentials c => c.JobId,
            SetJobCustomHeaders h => h.JobId,
            SetJobClientCertificate c => c.JobId,
            SetJobProxy x => x.JobId,
            SetNotifyCmdLine n => n.JobId,
            SetRemoteName r => r.JobId,
            ReplaceRemotePrefix r => r.JobId,
            ResumeJob r => r.JobId,
            SuspendJob s => s.JobId,
            CancelJob c => c.JobId,
            CompleteJob c => c.JobId,
            SetReplyFileName r => r.JobId,
            _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "not a job command"),
        };
        var job = state.FindJob(jobId);
        if (job is null)
            return (null, CommandResult.Rejected(HResults.BG_E_NOT_FOUND, $"no job {jobId:D} in group {state.Id:D}"));
        if (job.State.IsFinal())
            return (null, CommandResult.Rejected(HResults.BG_E_INVALID_STATE, $"job {jobId:D} is {job.State}"));
        return (job, null);
    }

    /// <summary>Longest description (BITS <c>SetDescription</c>: 1,024 characters).</summary>
    public const int MaxDescriptionLength = 1024;

    private static (CommandResult, IGroupEvent[]) DecideGroupProperty(GroupState state, SetGroupProperty set, DateTimeOffset now)
    {
        string value;
        switch (set.Property)
        {
            case GroupProperty.DisplayName when set.Value.Length > MaxDisplayNameLength:
            case GroupProperty.Description when set.Value.Length > MaxDescriptionLength:
                return (CommandResult.Rejected(HResults.BG_E_STRING_TOO_LONG, $"{set.Property} is longer than its limit"), []);
            case GroupProperty.DisplayName or GroupProperty.Description:
                value = set.Value;
                break;
            case GroupProperty.Priority:
                if (!TryParsePriority(set.Value, out var priority))
                    return (CommandResult.Rejected(HResults.E_NOTIMPL, $"undefined priority '{set.Value}'"), []);
                value = priority.ToString();
                break;
            case GroupProperty.MaxBytesPerSecond:
                if (!long.TryParse(set.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rate))
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, "MaxBytesPerSecond must be 0 (no cap) or a positive number of bytes per second"), []);
                value = rate.ToString(System.Globalization.CultureInfo.InvariantCulture);
                break;
            case GroupProperty.NotifyFlags:
                if (!int.TryParse(set.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var notify))
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, "NotifyFlags must be a non-negative integer"), []);
                value = notify.ToString(System.Globalization.CultureInfo.InvariantCulture);
                break;
            case GroupProperty.RemoteUserId when set.Value.Length > 300:
                return (CommandResult.Rejected(HResults.BG_E_USERNAME_TOO_LARGE, "user name longer than 300 characters"), []);
            case GroupProperty.RemoteUserId:
                value = set.Value;
                break;
            case GroupProperty.NotifyClsid:
                if (set.Value.Length > 0 && !Guid.TryParse(set.Value, out _))
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, "NotifyClsid must be a GUID or empty"), []);
                value = set.Value.Length == 0 ? "" : Guid.Parse(set.Value).ToString("B").ToUpperInvariant();
                break;
            default:
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"unknown group property {set.Property}"), []);
        }
        var current = set.Property switch
        {
            GroupProperty.DisplayName => state.DisplayName,
            GroupProperty.Description => state.Description,
            GroupProperty.Priority => state.Priority.ToString(),
            GroupProperty.NotifyFlags => state.QmNotifyFlags.ToString(System.Globalization.CultureInfo.InvariantCulture),
            GroupProperty.NotifyClsid => state.NotifyClsid,
            GroupProperty.RemoteUserId => state.RemoteUserId,
            _ => state.MaxBytesPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (current == value) return (CommandResult.NoOp, []);
        var events = new List<IGroupEvent> { new GroupPropertyChanged(set.Property, value, now) };
        // Decision 3: the group's priority is the default for new jobs and, when set, applies to its unfinished jobs.
        if (set.Property == GroupProperty.Priority)
            // a job with a custom HTTP method stays at Foreground (SetHttpMethod locks it)
            events.AddRange(state.Jobs.Where(j => !j.State.IsFinal() && j.HttpMethod is null && j.Priority.ToString() != value)
                .Select(j => new JobPropertyChanged(j.Id, JobProperty.Priority, value, now)));
        return (CommandResult.Ok, [.. events]);
    }

    private static (CommandResult, IGroupEvent[]) DecideJobProperty(Job job, SetJobProperty set, DateTimeOffset now, QmgrSettings settings)
    {
        if (IsJob5Property(set.Property))
            return DecideJob5Property(job, set, now);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string value;
        switch (set.Property)
        {
            case JobProperty.DisplayName when set.Value.Length > MaxDisplayNameLength:
            case JobProperty.Description when set.Value.Length > MaxDescriptionLength:
                return (CommandResult.Rejected(HResults.BG_E_STRING_TOO_LONG, $"{set.Property} is longer than its limit"), []);
            case JobProperty.DisplayName or JobProperty.Description:
                value = set.Value;
                break;
            case JobProperty.Priority:
                if (!TryParsePriority(set.Value, out var priority))
                    return (CommandResult.Rejected(HResults.E_NOTIMPL, $"undefined priority '{set.Value}'"), []);
                // SetHttpMethod with another method than GET forces Foreground and locks it (bits-spec §2.9)
                if (job.HttpMethod is { } verb && priority != JobPriority.Foreground)
                    return (CommandResult.Rejected(HResults.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, $"the priority of a job with HTTP method {verb} stays Foreground"), []);
                value = priority.ToString();
                break;
            case JobProperty.HttpMethod or JobProperty.CustomHeadersWriteOnly or JobProperty.ServerCertificateValidation:
                return DecideHttpOptions(job, set, now);
            case JobProperty.NotifyFlags:
                const int defined = 0x3F;
                if (!int.TryParse(set.Value, System.Globalization.NumberStyles.None, inv, out var flags) || (flags & ~defined) != 0)
                    return (CommandResult.Rejected(HResults.E_NOTIMPL, $"undefined notify flags '{set.Value}'"), []);
                value = flags.ToString(inv);
                break;
            case JobProperty.SecurityFlags:
                // the redirect policies 0 / 0x100 / 0x200, ALLOW_HTTPS_TO_HTTP 0x800, BG_SSL_ENABLE_CRL_CHECK 0x1 and the
                // BG_SSL_IGNORE_* bits 0x2 | 0x4 | 0x8 | 0x10; anything else is E_NOTIMPL as in BITS
                if (!int.TryParse(set.Value, System.Globalization.NumberStyles.None, inv, out var security)
                    || (security & 0x700) is not (0 or 0x100 or 0x200) || (security & ~0xF1F) != 0)
                    return (CommandResult.Rejected(HResults.E_NOTIMPL, $"security flags '{set.Value}': defined are BG_SSL_* 0x1, 0x2, 0x4, 0x8, 0x10, the redirect policies 0, 0x100, 0x200 and ALLOW_HTTPS_TO_HTTP 0x800"), []);
                value = security.ToString(inv);
                break;
            case JobProperty.MinimumRetryDelay or JobProperty.NoProgressTimeout or JobProperty.MaximumDownloadTime:
                if (!uint.TryParse(set.Value, System.Globalization.NumberStyles.None, inv, out var seconds))
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, $"{set.Property} must be whole seconds from 0 to {uint.MaxValue}"), []);
                // BITS raises a minimum retry delay below 5 s to 5 s (qmgr.job.minimum-retry-delay-floor)
                if (set.Property == JobProperty.MinimumRetryDelay && seconds < settings.MinimumRetryDelayFloor.TotalSeconds)
                    seconds = (uint)Math.Ceiling(settings.MinimumRetryDelayFloor.TotalSeconds);
                value = seconds.ToString(inv);
                break;
            default:
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"unknown job property {set.Property}"), []);
        }
        var current = set.Property switch
        {
            JobProperty.DisplayName => job.DisplayName,
            JobProperty.Description => job.Description,
            JobProperty.Priority => job.Priority.ToString(),
            JobProperty.NotifyFlags => ((int)job.NotifyFlags).ToString(inv),
            JobProperty.MinimumRetryDelay => ((long)job.MinimumRetryDelay.TotalSeconds).ToString(inv),
            JobProperty.NoProgressTimeout => ((long)job.NoProgressTimeout.TotalSeconds).ToString(inv),
            JobProperty.SecurityFlags => job.SecurityFlags.ToString(inv),
            _ => ((long)job.MaximumDownloadTime.TotalSeconds).ToString(inv),
        };
        return current == value
            ? (CommandResult.NoOp, [])
            : (CommandResult.Ok, [new JobPropertyChanged(job.Id, set.Property, value, now)]);
    }

    /// <summary>Why <paramref name="proxy"/> is invalid (bits-spec §2.9: lists only with Override, Override needs a list,
    /// each list ≤ 4,000 characters; the first proxy must parse as host:port or an http URL), or null.</summary>
    public static string? ProxyError(ProxySettings proxy)
    {
        if (!Enum.IsDefined(proxy.Usage)) return $"undefined proxy usage {(int)proxy.Usage}";
        if (proxy.Usage != ProxyUsage.Override)
            return proxy.ProxyList is null && proxy.BypassList is null ? null : "proxy and bypass lists are only for the Override usage";
        if (string.IsNullOrWhiteSpace(proxy.ProxyList)) return "the Override usage needs a proxy list";
        if (proxy.ProxyList.Length > 4000 || proxy.BypassList is { Length: > 4000 }) return "proxy and bypass lists are at most 4,000 characters";
        return ProxyUri(proxy.ProxyList) is null ? $"cannot read a proxy from '{proxy.ProxyList}'" : null;
    }

    /// <summary>The first proxy of a BITS proxy list (<c>host:port</c> or <c>http://host:port</c>, space/semicolon separated).</summary>
    public static Uri? ProxyUri(string proxyList)
    {
        var first = proxyList.Split([' ', ';'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (first is null) return null;
        var text = first.Contains("://", StringComparison.Ordinal) ? first : "http://" + first;
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttp && uri.Host.Length > 0 ? uri : null;
    }

    /// <summary>Why <paramref name="url"/> cannot be a remote name (absolute http/https, ≤ <c>qmgr.limits.max-url-length</c>), or null.</summary>
    public static string? RemoteNameError(string url, QmgrSettings settings)
    {
        if (url.Length > settings.MaxUrlLength) return $"remote name is longer than {settings.MaxUrlLength} characters";
        return Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? null
            : $"remote name is not an absolute http or https URL: {url}";
    }

    /// <summary>A priority by name (any case) or BG_JOB_PRIORITY number; false for anything undefined.</summary>
    public static bool TryParsePriority(string text, out JobPriority priority) =>
        Enum.TryParse(text, ignoreCase: true, out priority) && Enum.IsDefined(priority);

    private static (CommandResult, IGroupEvent[]) DecideAddFiles(Job job, AddFiles add, DateTimeOffset now, QmgrSettings settings)
    {
        if (add.Files.IsEmpty)
            return (CommandResult.Rejected(HResults.E_INVALIDARG, "no files given"), []);
        // BITS: upload jobs hold exactly one file, and AddFileSet adds nothing when it would exceed that
        if (job.Type != JobType.Download && job.Files.Count + add.Files.Count > 1)
            return (CommandResult.Rejected(HResults.BG_E_TOO_MANY_FILES, $"an {job.Type} job holds exactly one file"), []);
        if (job.Files.Count + add.Files.Count > settings.MaxFilesPerJob)
            return (CommandResult.Rejected(HResults.BG_E_TOO_MANY_FILES_IN_JOB, $"a job holds at most {settings.MaxFilesPerJob} files"), []);
        var files = ImmutableList.CreateBuilder<NewFile>();
        foreach (var f in add.Files)
        {
            if (f.RemoteName.Length > settings.MaxUrlLength)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"remote name is longer than {settings.MaxUrlLength} characters"), []);
            if (!Uri.TryCreate(f.RemoteName, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"remote name is not an absolute http or https URL: {f.RemoteName}"), []);
            if (!Path.IsPathFullyQualified(f.LocalName) || Path.GetFileName(f.LocalName).Length == 0)
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"local name is not an absolute file path: {f.LocalName}"), []);
            var local = Path.GetFullPath(f.LocalName);
            if (!PathPolicy.IsAllowed(local, settings.AllowedRoots))
                return (CommandResult.Rejected(HResults.E_ACCESSDENIED, $"local name is outside the allowed roots (qmgr.paths.allowed-roots): {local}"), []);
            if (job.Files.Any(x => x.LocalName == local) || files.Any(x => x.LocalName == local))
                return (CommandResult.Rejected(HResults.E_INVALIDARG, $"local name is already used in this job: {local}"), []);
            string? sha256 = null;
            if (f.Sha256 is { } hash)
            {
                if (hash.Length != 64 || !hash.All(Uri.IsHexDigit))
                    return (CommandResult.Rejected(HResults.E_INVALIDARG, $"SHA-256 must be 64 hex digits: {hash}"), []);
                sha256 = hash.ToLowerInvariant();
            }
            // HIGH_PERFORMANCE: written straight into the local name, no temp file (bits-spec §2.9)
            files.Add(new NewFile(uri.AbsoluteUri, local,
                job.Properties5.HighPerformance ? local : TempFiles.TempPathFor(local, TempSuffix(job.Id, job.Files.Count + files.Count)), sha256));
        }
        return (CommandResult.Ok, [new FilesAdded(job.Id, files.ToImmutable(), now)]);
    }

    /// <summary>
    /// What a fact reported by a job's <see cref="JobActor"/> changes (BITS transitions T3–T8, T11, T13, T15): the events to
    /// persist, or none when the fact no longer applies (the job moved on: suspended, cancelled, completed).
    /// Pure: <paramref name="now"/> is the only time read.
    /// </summary>
    public static IGroupEvent[] DecideFact(this GroupState state, JobProtocol.IJobFact fact, DateTimeOffset now)
    {
        var job = state.FindJob(fact.JobId);
        if (job is null || job.State.IsFinal()) return [];
        var transferring = job.State is JobState.Queued or JobState.Connecting or JobState.Transferring;
        return fact switch
        {
            JobProtocol.TransferConnected when job.State == JobState.Queued =>
                [new JobStateChanged(job.Id, JobState.Queued, JobState.Connecting, "transfer slot granted", now)],
            JobProtocol.ResponseAccepted r when transferring => [
                new FileMetadataReceived(job.Id, r.FileIndex, r.Response.TotalSize, r.Response.Validators, now),
                // BG_HTTP_REDIRECT_POLICY_ALLOW_REPORT: the file's remote name becomes the URL that answered
                .. (job.SecurityFlags & 0x700) == 0x100 && r.Response.FinalUrl is { } final && final.AbsoluteUri != job.Files[r.FileIndex].RemoteName
                    ? [new FileRemoteNameChanged(job.Id, r.FileIndex, final.AbsoluteUri, now)] : Array.Empty<IGroupEvent>(),
                .. job.State == JobState.Transferring ? Array.Empty<IGroupEvent>()
                    : [new JobStateChanged(job.Id, job.State, JobState.Transferring, $"server answered {r.Response.HttpStatus}", now)]],
            // HIGH_PERFORMANCE jobs journal no progress: after a crash they restart from 0 (bits-spec T24)
            JobProtocol.ResponseHeadersReceived h when transferring && h.Headers != job.Files[h.FileIndex].ResponseHeaders =>
                [new FileResponseHeadersReceived(job.Id, h.FileIndex, h.Headers, now)],
            JobProtocol.Checkpointed c when !job.Properties5.HighPerformance && !job.Files[c.FileIndex].Transferred && c.Offset != job.Files[c.FileIndex].BytesTransferred =>
                [new FileProgressCheckpointed(job.Id, c.FileIndex, c.Offset, now)],
            JobProtocol.Restarted r when !job.Files[r.FileIndex].Transferred =>
                [new FileRestarted(job.Id, r.FileIndex, r.Reason, r.Detail, now)],
            JobProtocol.FileDone d when !job.Files[d.FileIndex].Transferred => FileDoneEvents(job, d, now),
            JobProtocol.RangesFilled f when !job.Files[f.FileIndex].Transferred => [new FileRangesFilled(job.Id, f.FileIndex, f.Ranges, now)],
            JobProtocol.RequestedRangesFilled when transferring => RequestedRangesFilledEvents(job, now),
            JobProtocol.FileFailed f when transferring => FileFailedEvents(job, f, now),
            JobProtocol.MaximumDownloadTimeElapsed when job.State is JobState.Connecting or JobState.Transferring
                                                       && job.MaximumDownloadTime > TimeSpan.Zero && job.ActiveTimeAt(now) >= job.MaximumDownloadTime =>
            [
                new JobErrorRecorded(job.Id, new JobError(ErrorContext.GeneralQueueManager, HResults.BG_E_MAXDOWNLOAD_TIMEOUT, null,
                    $"the job spent its maximum download time ({job.MaximumDownloadTime}) connecting and transferring", job.NextFileIndex), now),
                new JobStateChanged(job.Id, job.State, JobState.Error, "maximum download time elapsed", now),
            ],
            // stale when anything happened since the timer was armed
            JobProtocol.InactivityTimeoutElapsed i when i.LastActivity == job.LastActivity => [new JobCancelled(job.Id, now)],
            JobProtocol.Preempted p when job.State is JobState.Connecting or JobState.Transferring =>
                [new JobStateChanged(job.Id, job.State, JobState.Queued, p.Cause, now)],
            JobProtocol.UploadSessionOpened u when transferring && job.Type != JobType.Download && !job.Files[u.FileIndex].Transferred =>
                [new UploadSessionCreated(job.Id, u.FileIndex, u.SessionId, u.SourceSize, u.SourceLastWrite, now)],
            JobProtocol.ReplyProgressed r when transferring && job.Type == JobType.UploadReply
                                              && (r.ReplyUrl, r.BytesTotal, r.BytesTransferred) != (job.Reply?.Url, job.Reply?.BytesTotal, job.Reply?.BytesTransferred) =>
                [new ReplyProgressRecorded(job.Id, r.ReplyUrl, r.BytesTotal, r.BytesTransferred, now)],
            JobProtocol.RetryDue when job.State == JobState.TransientError =>
                [new JobStateChanged(job.Id, JobState.TransientError, JobState.Queued, "minimum retry delay elapsed", now)],
            _ => [],
        };
    }

    // A file done while the job is Suspended is still done; the job becomes Transferred only from an active state.
    private static IGroupEvent[] FileDoneEvents(Job job, JobProtocol.FileDone done, DateTimeOffset now)
    {
        var last = job.Files.Select((f, i) => i == done.FileIndex || f.Transferred).All(x => x);
        return last && job.State is JobState.Queued or JobState.Connecting or JobState.Transferring
            ? [new FileTransferred(job.Id, done.FileIndex, done.Size, now), new JobStateChanged(job.Id, job.State, JobState.Transferred, "all files transferred", now)]
            : [new FileTransferred(job.Id, done.FileIndex, done.Size, now)];
    }

    private static IGroupEvent[] FileFailedEvents(Job job, JobProtocol.FileFailed failed, DateTimeOffset now)
    {
        var e = failed.Error;
        var events = new List<IGroupEvent>();
        // on-demand files journal their bytes as FileRangesFilled (a byte count would not say where they are)
        if (failed.BytesOnDisk > job.Files[failed.FileIndex].BytesTransferred && !job.Properties5.HighPerformance && !job.Properties5.OnDemandMode)
            events.Add(new FileProgressCheckpointed(job.Id, failed.FileIndex, failed.BytesOnDisk, now));
        events.Add(new JobErrorRecorded(job.Id, new JobError(e.Context, e.HResult, e.HttpStatus, e.Message, failed.FileIndex), now));
        var firstTransient = job.FirstTransientErrorAt ?? now;
        if (!e.IsTransient)
            events.Add(new JobStateChanged(job.Id, job.State, JobState.Error, "fatal error", now));
        else if (job.HttpMethod is not null)
            // a job with a custom HTTP method cannot resume: every error is fatal (bits-spec T28)
            events.Add(new JobStateChanged(job.Id, job.State, JobState.Error, $"error with HTTP method {job.HttpMethod}", now));
        else if (job.NoProgressTimeout <= TimeSpan.Zero || now - firstTransient >= job.NoProgressTimeout)
            events.Add(new JobStateChanged(job.Id, job.State, JobState.Error, "no-progress timeout elapsed", now));
        else
        {
            var wait = e.RetryAfter is TimeSpan ra && ra > job.MinimumRetryDelay ? ra : job.MinimumRetryDelay;
            events.Add(new RetryScheduled(job.Id, now + wait, now));
            events.Add(new JobStateChanged(job.Id, job.State, JobState.TransientError, "transient error", now));
        }
        return [.. events];
    }

    /// <summary>
    /// The refusal of Complete for an upload or upload-reply job that is not Transferred (BITS T21: BG_E_INVALID_STATE),
    /// or null when Complete may proceed (every download state that <see cref="CheckJob"/> accepts, T20).
    /// </summary>
    public static CommandResult? CompleteRefusal(Job job) =>
        job.Type != JobType.Download && job.State != JobState.Transferred
            ? CommandResult.Rejected(HResults.BG_E_INVALID_STATE, $"an {job.Type} job can be completed only once Transferred (it is {job.State})")
            : null;

    /// <summary>The reply file BITS names when none was set: beside the upload file, <c>NAME.XXXXXXXX.reply</c>.</summary>
    public static string GeneratedReplyFileName(Job job)
    {
        var upload = job.Files[0].LocalName;
        return Path.Combine(Path.GetDirectoryName(upload)!, $"{Path.GetFileName(upload)}.{TempSuffix(job.Id, 1)}.reply");
    }

    /// <summary>
    /// Complete (BITS T20) once the actor renamed <paramref name="completedFiles"/> into place: the job is Acknowledged,
    /// with BG_S_PARTIAL_COMPLETE when some files were not transferred (their temp files are dropped).
    /// </summary>
    public static (CommandResult Result, IGroupEvent[] Events) DecideComplete(Job job, IReadOnlyList<int> completedFiles, DateTimeOffset now)
    {
        var result = completedFiles.Count < job.Files.Count
            ? CommandResult.Success(HResults.BG_S_PARTIAL_COMPLETE, $"{completedFiles.Count} of {job.Files.Count} files completed")
            : CommandResult.Ok;
        return (result, [new JobCompleted(job.Id, [.. completedFiles], now)]);
    }

    /// <summary>
    /// A Complete whose rename failed with <paramref name="rejected"/> (its HRESULT and a one-line message naming the
    /// target): the error record, context BG_ERROR_CONTEXT_LOCAL_FILE, for file <paramref name="fileIndex"/> (null: the
    /// reply file of an upload-reply job), is journaled either way so GetError shows it. An explicit Complete leaves the
    /// job's state as it was (BITS: the call returns the error); AutoComplete has no caller to return it to, so a
    /// Transferred job moves to Error, where every waiter and notification sees it, and a later Resume takes it back to
    /// Transferred to rename again.
    /// </summary>
    public static IGroupEvent[] DecideCompleteFailed(Job job, int? fileIndex, CommandResult rejected, bool autoComplete, DateTimeOffset now)
    {
        var recorded = new JobErrorRecorded(job.Id, new JobError(ErrorContext.LocalFile, rejected.HResult, null, rejected.Message, fileIndex), now);
        return autoComplete && job.State == JobState.Transferred
            ? [recorded, new JobStateChanged(job.Id, JobState.Transferred, JobState.Error, AutoCompleteFailedCause, now)]
            : [recorded];
    }

    /// <summary>Eight hex digits naming a file's temp file, derived from the job id and file index (stable across processes).</summary>
    public static string TempSuffix(Guid jobId, int fileIndex)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{jobId:N}/{fileIndex}"));
        return Convert.ToHexStringLower(hash, 0, 4);
    }
}
