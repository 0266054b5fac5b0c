using Qmgr.Transport;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Qmgr.Groups;
using Qmgr.Hosting;
using Qmgr.Jobs;
using static Qmgr.Groups.GroupCommands;

namespace Qmgr.Api;

/// <summary>
/// <see cref="IQueueManager"/> over a node's group region (<see cref="GroupClient"/>). Register with
/// <c>services.AddQmgr(...)</c>; obtain with <c>IQueueManager</c> from DI (caller = the OS user) or
/// <see cref="Create"/>.
/// </summary>
public sealed class QueueManager : IQueueManager
{
    private readonly ActorSystem _system;
    private readonly GroupClient _client;
    private readonly CallbackDispatcher _callbacks;
    private readonly SecretProtector _secrets;
    private readonly QmgrSettings _settings;

    private QueueManager(ActorSystem system, GroupClient client, CallbackDispatcher callbacks, SecretProtector secrets, string caller, bool isAdministrator)
    {
        _system = system;
        _client = client;
        _callbacks = callbacks;
        _secrets = secrets;
        _settings = QmgrSettings.Create(system);
        Caller = caller;
        IsAdministrator = isAdministrator;
    }

    /// <summary>The queue manager of a hosted node for <paramref name="caller"/> (default: the OS user name).</summary>
    public static IQueueManager Create(ActorSystem system, string? caller = null, bool isAdministrator = false) =>
        new QueueManager(system, GroupClient.From(system), CallbackDispatcher.For(system),
            Akka.DependencyInjection.DependencyResolver.For(system).Resolver.GetService<SecretProtector>(),
            caller ?? Environment.UserName, isAdministrator);

    public string Caller { get; }
    public bool IsAdministrator { get; }

    public IQueueManager ForCaller(string caller, bool isAdministrator = false) => new QueueManager(_system, _client, _callbacks, _secrets, caller, isAdministrator);

    public async Task<IGroup> CreateGroupAsync(string displayName, JobPriority priority = JobPriority.Normal, long maxBytesPerSecond = 0, Guid? groupId = null, CancellationToken cancellationToken = default)
    {
        var id = groupId ?? Guid.NewGuid();
        QmgrException.ThrowIfRejected(await _client.SendAsync(new CreateGroup(id, Caller, displayName, priority, maxBytesPerSecond), cancellationToken));
        return new Group(this, id, Caller);
    }

    public async Task<IGroup> GetGroupAsync(Guid groupId, CancellationToken cancellationToken = default)
    {
        var state = await ReadAsync(groupId, cancellationToken);
        if (!state.Exists || state.Cancelled)
            throw new QmgrException(HResults.BG_E_NOT_FOUND, $"no group {groupId:D}");
        // an administrator acts on the group as its owner would (Decision 11)
        return new Group(this, groupId, state.Owner);
    }

    /// <summary>The group as this caller may see it: the group answers another owner's query as an unknown group.</summary>
    private Task<GroupState> ReadAsync(Guid groupId, CancellationToken ct) => _client.GetGroupAsync(groupId, ct, Caller, IsAdministrator);

    public async Task<IReadOnlyList<IGroup>> EnumGroupsAsync(CancellationToken cancellationToken = default)
    {
        var ids = await _client.GetGroupIdsAsync(cancellationToken);
        var states = await Task.WhenAll(ids.Select(id => ReadAsync(id, cancellationToken)));
        return states.Where(s => s.Exists && !s.Cancelled)
            .OrderBy(s => s.CreationTime)
            .Select(s => (IGroup)new Group(this, s.Id, s.Owner))
            .ToList();
    }

    public async Task<IJob> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        // jobs never move between groups: a known job is one ask away; only an unknown one costs a scan
        var directory = JobDirectory.For(_system);
        if (directory.GroupOf(jobId) is { } known)
        {
            var state = await ReadAsync(known, cancellationToken);
            if (state.Exists && !state.Cancelled && state.FindJob(jobId) is not null) return new JobHandle(this, known, jobId, state.Owner);
            if (state.Exists && state.FindJob(jobId) is not null)
                throw new QmgrException(HResults.BG_E_NOT_FOUND, $"no job {jobId:D}");
        }
        var ids = await _client.GetGroupIdsAsync(cancellationToken);
        var states = await Task.WhenAll(ids.Select(id => ReadAsync(id, cancellationToken)));
        foreach (var s in states.Where(s => s.Exists)) directory.Learn(s);
        var group = states.FirstOrDefault(s => s.Exists && !s.Cancelled && s.FindJob(jobId) is not null);
        return group is null
            ? throw new QmgrException(HResults.BG_E_NOT_FOUND, $"no job {jobId:D}")
            : new JobHandle(this, group.Id, jobId, group.Owner);
    }

    /// <summary>
    /// BITS MaxJobsPerUser: BG_E_TOO_MANY_JOBS_PER_USER when <paramref name="owner"/> already has
    /// <c>qmgr.limits.max-jobs-per-owner</c> unfinished jobs across its groups. Administrators are exempt. A count at
    /// creation time: two creations racing on different nodes may both pass.
    /// </summary>
    internal async Task CheckJobsPerOwnerAsync(string owner, CancellationToken ct)
    {
        if (IsAdministrator) return;
        var limit = _settings.MaxJobsPerOwner;
        // only groups with unfinished jobs can count (one SQL query instead of waking every group ever created)
        var store = Akka.DependencyInjection.DependencyResolver.For(_system).Resolver.GetService<Persistence.IStoreReader>();
        var ids = store is not null ? await Task.Run(store.UnfinishedGroupIds, ct) : await _client.GetGroupIdsAsync(ct);
        var states = await Task.WhenAll(ids.Select(id => _client.GetGroupAsync(id, ct)));
        var unfinished = states.Where(s => s.Exists && !s.Cancelled && s.Owner == owner).Sum(s => s.Jobs.Count(j => !j.State.IsFinal()));
        if (unfinished >= limit)
            throw new QmgrException(HResults.BG_E_TOO_MANY_JOBS_PER_USER, $"{owner} already has {unfinished} unfinished jobs (qmgr.limits.max-jobs-per-owner = {limit})");
    }

    public IObservable<QmgrNotification> Notifications => new NotificationObservable(_system, n => IsAdministrator || n.Owner == Caller);

    private sealed class Group(QueueManager qm, Guid id, string owner) : IGroup
    {
        public Guid Id => id;

        public Task<GroupState> GetStateAsync(CancellationToken cancellationToken = default) => qm.ReadAsync(id, cancellationToken);

        public Task<string?> GetNodeAsync(CancellationToken cancellationToken = default) => qm._client.GetNodeAsync(id, cancellationToken);

        public async Task SetPropertyAsync(GroupProperty property, string value, CancellationToken cancellationToken = default) =>
            QmgrException.ThrowIfRejected(await qm._client.SendAsync(new SetGroupProperty(id, owner, property, value), cancellationToken));

        public async Task SetCredentialsAsync(string? userName, string? password, CancellationToken cancellationToken = default)
        {
            if ((userName is null) != (password is null)) throw new QmgrException(HResults.E_INVALIDARG, "give both a user name and a password, or neither");
            if (userName is { Length: > 300 }) throw new QmgrException(HResults.BG_E_USERNAME_TOO_LARGE, "user name longer than 300 characters");
            if (password is { Length: > 65_535 }) throw new QmgrException(HResults.BG_E_PASSWORD_TOO_LARGE, "password longer than 65,535 characters");
            var protectedText = userName is null ? null : qm._secrets.Protect(new PlainCredentials(userName, password!));
            QmgrException.ThrowIfRejected(await qm._client.SendAsync(new SetGroupCredentials(id, owner, protectedText), cancellationToken));
        }

        public async Task<string?> SetWebhookAsync(string? url, string? secret = null, CancellationToken cancellationToken = default)
        {
            if (url is null)
            {
                QmgrException.ThrowIfRejected(await qm._client.SendAsync(new SetGroupWebhook(id, owner, null, null), cancellationToken));
                return null;
            }
            if (secret is { Length: 0 or > 1024 }) throw new QmgrException(HResults.E_INVALIDARG, "the webhook secret must be 1 to 1,024 characters");
            secret ??= Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            QmgrException.ThrowIfRejected(await qm._client.SendAsync(new SetGroupWebhook(id, owner, url, qm._secrets.ProtectWebhookSecret(secret)), cancellationToken));
            return secret;
        }

        public async Task TakeOwnershipAsync(CancellationToken cancellationToken = default)
        {
            if (!qm.IsAdministrator) throw new QmgrException(HResults.E_ACCESSDENIED, "only an administrator can take ownership");
            QmgrException.ThrowIfRejected(await qm._client.SendAsync(new TakeOwnership(id, owner, qm.Caller), cancellationToken));
        }

        public async Task CancelAsync(CancellationToken cancellationToken = default) =>
            QmgrException.ThrowIfRejected(await qm._client.SendAsync(new CancelGroup(id, owner), cancellationToken));

        public Task<IJob> CreateJobAsync(string displayName, JobOptions? options = null, JobPriority? priority = null, Guid? jobId = null, CancellationToken cancellationToken = default) =>
            CreateJobAsync(displayName, JobType.Download, options, priority, jobId, cancellationToken);

        public async Task<IJob> CreateJobAsync(string displayName, JobType type, JobOptions? options = null, JobPriority? priority = null, Guid? jobId = null, CancellationToken cancellationToken = default)
        {
            await qm.CheckJobsPerOwnerAsync(owner, cancellationToken);
            var job = jobId ?? Guid.NewGuid();
            QmgrException.ThrowIfRejected(await qm._client.SendAsync(new CreateJob(id, owner, job, displayName, priority, options ?? JobOptions.Default, type), cancellationToken));
            JobDirectory.For(qm._system).Learn(job, id);
            return new JobHandle(qm, id, job, owner);
        }

        public async Task<IJob> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default) =>
            (await GetStateAsync(cancellationToken)).FindJob(jobId) is not null
                ? new JobHandle(qm, id, jobId, owner)
                : throw new QmgrException(HResults.BG_E_NOT_FOUND, $"no job {jobId:D} in group {id:D}");

        public async Task<IReadOnlyList<IJob>> EnumJobsAsync(CancellationToken cancellationToken = default) =>
            (await GetStateAsync(cancellationToken)).Jobs.Where(j => !j.State.IsFinal()).Select(j => (IJob)new JobHandle(qm, id, j.Id, owner)).ToList();
    }

    private sealed class JobHandle(QueueManager qm, Guid groupId, Guid jobId, string owner) : IJob
    {
        public Guid Id => jobId;
        public Guid GroupId => groupId;
        public string Owner => owner;

        public async Task<Job> GetAsync(CancellationToken cancellationToken = default) =>
            (await qm.ReadAsync(groupId, cancellationToken)).FindJob(jobId)
            ?? throw new QmgrException(HResults.BG_E_NOT_FOUND, $"no job {jobId:D}");

        private async Task<CommandResult> SendAsync(IGroupCommand command, CancellationToken ct) =>
            QmgrException.ThrowIfRejected(await qm._client.SendAsync(command, ct));

        public Task AddFilesAsync(IEnumerable<(string RemoteName, string LocalName)> files, CancellationToken cancellationToken = default) =>
            SendAsync(new AddFiles(groupId, owner, jobId, files.Select(f => new FileSpec(f.RemoteName, f.LocalName)).ToImmutableList()), cancellationToken);

        public Task AddFilesAsync(IReadOnlyList<FileSpec> files, CancellationToken cancellationToken = default) =>
            SendAsync(new AddFiles(groupId, owner, jobId, [.. files]), cancellationToken);

        public Task ResumeAsync(CancellationToken cancellationToken = default) => SendAsync(new ResumeJob(groupId, owner, jobId), cancellationToken);
        public Task SuspendAsync(CancellationToken cancellationToken = default) => SendAsync(new SuspendJob(groupId, owner, jobId), cancellationToken);
        public Task CancelAsync(CancellationToken cancellationToken = default) => SendAsync(new CancelJob(groupId, owner, jobId), cancellationToken);

        public async Task<int> CompleteAsync(CancellationToken cancellationToken = default) =>
            (await SendAsync(new CompleteJob(groupId, owner, jobId), cancellationToken)).HResult;

        public Task SetPropertyAsync(JobProperty property, string value, CancellationToken cancellationToken = default) =>
            SendAsync(new SetJobProperty(groupId, owner, jobId, property, value), cancellationToken);

        public Task SetPropertyAsync(BitsJobPropertyId id, BitsJobPropertyValue value, CancellationToken cancellationToken = default) =>
            BitsJobProperties.PropertyOf(id) is { } property
                ? SetPropertyAsync(property, BitsJobProperties.TextOf(id, value), cancellationToken)
                : throw new QmgrException(HResults.BG_E_UNKNOWN_PROPERTY_ID, $"undefined BITS_JOB_PROPERTY_ID {(int)id}");

        public async Task<BitsJobPropertyValue> GetPropertyAsync(BitsJobPropertyId id, CancellationToken cancellationToken = default) =>
            BitsJobProperties.PropertyOf(id) is null
                ? throw new QmgrException(HResults.BG_E_UNKNOWN_PROPERTY_ID, $"undefined BITS_JOB_PROPERTY_ID {(int)id}")
                : BitsJobProperties.ValueOf(await GetAsync(cancellationToken), id);

        public Task AddFileWithRangesAsync(string remoteName, string localName, IReadOnlyList<FileRange> ranges, CancellationToken cancellationToken = default) =>
            SendAsync(new AddFileWithRanges(groupId, owner, jobId, new FileSpec(remoteName, localName), [.. ranges ?? []], qm.IsAdministrator), cancellationToken);

        public Task RequestFileRangesAsync(int fileIndex, IReadOnlyList<FileRange> ranges, CancellationToken cancellationToken = default) =>
            SendAsync(new RequestFileRanges(groupId, owner, jobId, fileIndex, [.. ranges ?? []]), cancellationToken);

        public Task UpdateDownloadPositionAsync(int fileIndex, long offset, CancellationToken cancellationToken = default) =>
            SendAsync(new UpdateDownloadPosition(groupId, owner, jobId, fileIndex, offset), cancellationToken);

        public async Task<IReadOnlyList<FileRange>> GetFilledFileRangesAsync(int fileIndex, CancellationToken cancellationToken = default)
        {
            var job = await GetAsync(cancellationToken);
            if (!job.Properties5.OnDemandMode)
                throw new QmgrException(HResults.BG_E_RANDOM_ACCESS_NOT_SUPPORTED, $"job {jobId:D} is not ON_DEMAND_MODE: GetFilledFileRanges needs random access");
            if (fileIndex < 0 || fileIndex >= job.Files.Count)
                throw new QmgrException(HResults.E_INVALIDARG, $"no file {fileIndex} in job {jobId:D}");
            return job.Files[fileIndex].RandomAccess.Filled;
        }

        public Task SetCredentialsAsync(AuthTarget target, AuthScheme scheme, string userName, string password, CancellationToken cancellationToken = default)
        {
            if (userName.Length > 300) throw new QmgrException(HResults.BG_E_USERNAME_TOO_LARGE, "user name longer than 300 characters");
            if (password.Length > 65_535) throw new QmgrException(HResults.BG_E_PASSWORD_TOO_LARGE, "password longer than 65,535 characters");
            if (scheme is AuthScheme.Basic or AuthScheme.Digest && (userName.Length == 0 || password.Length == 0))
                throw new QmgrException(HResults.E_INVALIDARG, $"{scheme} needs a user name and a password");
            var protectedText = qm._secrets.Protect(new PlainCredentials(userName, password));
            return SendAsync(new SetJobCredentials(groupId, owner, jobId, target, scheme, protectedText), cancellationToken);
        }

        public Task RemoveCredentialsAsync(AuthTarget target, AuthScheme scheme, CancellationToken cancellationToken = default) =>
            SendAsync(new RemoveJobCredentials(groupId, owner, jobId, target, scheme), cancellationToken);

        public Task SetRemoteNameAsync(int fileIndex, string remoteName, CancellationToken cancellationToken = default) =>
            SendAsync(new SetRemoteName(groupId, owner, jobId, fileIndex, remoteName), cancellationToken);

        public async Task<bool> ReplaceRemotePrefixAsync(string oldPrefix, string newPrefix, CancellationToken cancellationToken = default) =>
            (await SendAsync(new ReplaceRemotePrefix(groupId, owner, jobId, oldPrefix, newPrefix), cancellationToken)).Code == ResultCode.Ok;

        public Task SetNotifyCmdLineAsync(NotifyCommandLine? commandLine, CancellationToken cancellationToken = default) =>
            SendAsync(new SetNotifyCmdLine(groupId, owner, jobId, commandLine), cancellationToken);

        public Task SetProxySettingsAsync(ProxySettings proxy, CancellationToken cancellationToken = default) =>
            SendAsync(new SetJobProxy(groupId, owner, jobId, proxy), cancellationToken);

        public Task SetCustomHeadersAsync(string? headers, CancellationToken cancellationToken = default)
        {
            if (headers is { Length: > 16_384 }) throw new QmgrException(HResults.BG_E_STRING_TOO_LONG, "custom headers longer than 16,384 characters");
            return SendAsync(new SetJobCustomHeaders(groupId, owner, jobId, headers is null ? null : qm._secrets.ProtectHeaders(headers)), cancellationToken);
        }

        public Task SetClientCertificateByIdAsync(Transport.CertStoreLocation location, string storeName, byte[] certificateHash, CancellationToken cancellationToken = default)
        {
            if (certificateHash is not { Length: 20 }) throw new QmgrException(HResults.E_INVALIDARG, "the certificate hash must be 20 bytes (SHA-1)");
            return SetClientCertificateAsync(new Transport.ClientCertificate(location, storeName, Convert.ToHexString(certificateHash), null), cancellationToken);
        }

        public Task SetClientCertificateByNameAsync(Transport.CertStoreLocation location, string storeName, string subjectName, CancellationToken cancellationToken = default)
        {
            if (string.IsNullOrEmpty(subjectName)) throw new QmgrException(HResults.E_INVALIDARG, "the subject name is empty");
            return SetClientCertificateAsync(new Transport.ClientCertificate(location, storeName, null, subjectName), cancellationToken);
        }

        private Task SetClientCertificateAsync(Transport.ClientCertificate selection, CancellationToken cancellationToken)
        {
            if (string.IsNullOrEmpty(selection.StoreName)) throw new QmgrException(HResults.E_INVALIDARG, "the certificate store name is empty");
            if (selection.StoreName.Length > 255) throw new QmgrException(HResults.BG_E_STRING_TOO_LONG, "certificate store name longer than 255 characters");
            try
            {
                // BITS checks the store when the certificate is set; the transfer looks it up again in its own process
                Transport.TransferSecurity.FindClientCertificate(selection).Dispose();
            }
            catch (Transport.TlsRefusedException ex)
            {
                throw new QmgrException(ex.HResult, ex.Message);
            }
            return SendAsync(new SetJobClientCertificate(groupId, owner, jobId, selection), cancellationToken);
        }

        public async Task<bool> RemoveClientCertificateAsync(CancellationToken cancellationToken = default) =>
            (await SendAsync(new SetJobClientCertificate(groupId, owner, jobId, null), cancellationToken)).Code == ResultCode.Ok;

        public async Task<Transport.ClientCertificate?> GetClientCertificateAsync(CancellationToken cancellationToken = default) =>
            (await GetAsync(cancellationToken)).ClientCertificate;

        public async Task SetNotifyInterfaceAsync(IJobCallback? callback, CancellationToken cancellationToken = default)
        {
            qm._callbacks.Set(jobId, callback is null ? null : (this, callback));
            if (callback is null) return;
            // BITS reports a job already transferred or in error to a callback registered later: nothing is lost.
            var job = await GetAsync(cancellationToken);
            await CallbackDispatcher.ReplayAsync(this, callback, job);
        }

        public Task SetReplyFileNameAsync(string replyFileName, CancellationToken cancellationToken = default) =>
            SendAsync(new SetReplyFileName(groupId, owner, jobId, replyFileName), cancellationToken);

        private async Task<Job> UploadReplyJobAsync(CancellationToken ct) => ReplyProgress.RequireUploadReply(await GetAsync(ct));

        public async Task<string?> GetReplyFileNameAsync(CancellationToken cancellationToken = default) =>
            (await UploadReplyJobAsync(cancellationToken)).Reply?.FileName;

        public async Task<ReplyProgress> GetReplyProgressAsync(CancellationToken cancellationToken = default) =>
            ReplyProgress.Of(await GetAsync(cancellationToken));

        /// <summary>BITS GetReplyData's cap: 1 MiB.</summary>
        private const int MaxReplyData = 1024 * 1024;

        public async Task<byte[]> GetReplyDataAsync(CancellationToken cancellationToken = default)
        {
            var job = await UploadReplyJobAsync(cancellationToken);
            if (job.State is not (JobState.Transferred or JobState.Acknowledged) || job.Reply is not { FileName: { } name, TempName: { } temp })
                throw new QmgrException(HResults.BG_E_INVALID_STATE, $"the reply of job {jobId:D} is available once the job is Transferred (it is {job.State})");
            var path = job.State == JobState.Acknowledged ? name : temp;
            try
            {
                await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                if (file.Length > MaxReplyData)
                    throw new QmgrException(HResults.BG_E_TOO_LARGE, $"the reply is {file.Length} bytes; GetReplyData returns at most {MaxReplyData} (read {path} instead)");
                var data = new byte[file.Length];
                await file.ReadExactlyAsync(data, cancellationToken);
                return data;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new QmgrException(Transport.BitsErrors.ForLocalException(ex), $"cannot read the reply {path}: {ex.Message}");
            }
        }

        public IJobCallback? GetNotifyInterface() => qm._callbacks.Get(jobId);

        public Task SetHttpMethodAsync(string method, CancellationToken cancellationToken = default) =>
            SendAsync(new SetJobProperty(groupId, owner, jobId, JobProperty.HttpMethod, method ?? throw new QmgrException(HResults.E_INVALIDARG, "the HTTP method is null")), cancellationToken);

        public async Task<string> GetHttpMethodAsync(CancellationToken cancellationToken = default) =>
            (await GetAsync(cancellationToken)).HttpMethod ?? GroupDecisions.DefaultHttpMethod;

        public async Task SetServerCertificateValidationInterfaceAsync(IServerCertificateValidationCallback? callback, CancellationToken cancellationToken = default)
        {
            // journaled first (refused while the job is active), then registered on this node
            await SendAsync(new SetJobProperty(groupId, owner, jobId, JobProperty.ServerCertificateValidation, callback is null ? "false" : "true"), cancellationToken);
            ServerCertificateCallbacks.For(qm._system).Set(jobId, callback is null ? null : (this, callback));
        }

        public Task MakeCustomHeadersWriteOnlyAsync(CancellationToken cancellationToken = default) =>
            SendAsync(new SetJobProperty(groupId, owner, jobId, JobProperty.CustomHeadersWriteOnly, "true"), cancellationToken);

        public async Task<string?> GetCustomHeadersAsync(CancellationToken cancellationToken = default)
        {
            var job = await GetAsync(cancellationToken);
            if (job.CustomHeadersWriteOnly) throw new QmgrException(HResults.E_ACCESSDENIED, "the custom headers are write-only (MakeCustomHeadersWriteOnly)");
            return job.ProtectedCustomHeaders is { } ciphertext ? qm._secrets.UnprotectHeaders(ciphertext) : null;
        }

        public async Task<string?> GetFilePropertyAsync(int fileIndex, BitsFilePropertyId id, CancellationToken cancellationToken = default)
        {
            if (id != BitsFilePropertyId.HttpResponseHeaders) throw new QmgrException(HResults.BG_E_UNKNOWN_PROPERTY_ID, $"undefined BITS_FILE_PROPERTY_ID {(int)id}");
            var job = await GetAsync(cancellationToken);
            if (fileIndex < 0 || fileIndex >= job.Files.Count) throw new QmgrException(HResults.E_INVALIDARG, $"no file {fileIndex} in job {jobId:D}");
            return job.Files[fileIndex].ResponseHeaders;
        }

        public async Task SetFilePropertyAsync(int fileIndex, BitsFilePropertyId id, string? value, CancellationToken cancellationToken = default)
        {
            if (id != BitsFilePropertyId.HttpResponseHeaders) throw new QmgrException(HResults.BG_E_UNKNOWN_PROPERTY_ID, $"undefined BITS_FILE_PROPERTY_ID {(int)id}");
            var job = await GetAsync(cancellationToken);
            if (fileIndex < 0 || fileIndex >= job.Files.Count) throw new QmgrException(HResults.E_INVALIDARG, $"no file {fileIndex} in job {jobId:D}");
            throw new QmgrException(HResults.BG_E_READ_ONLY_PROPERTY, "HTTP_RESPONSE_HEADERS is read-only: the server sets it");
        }

        public async Task<BackgroundCopyError> GetErrorAsync(CancellationToken cancellationToken = default) =>
            new(await GetAsync(cancellationToken));

        public async Task<Job> WaitAsync(Func<Job, bool> condition, CancellationToken cancellationToken = default)
        {
            // subscribe first, then read: a change persisted between the two is seen either way
            var changes = System.Threading.Channels.Channel.CreateBounded<Job>(new System.Threading.Channels.BoundedChannelOptions(1)
                { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropOldest });
            using var subscription = qm.Notifications.Subscribe(new JobObserver(jobId, changes.Writer));
            var job = await GetAsync(cancellationToken);
            while (!condition(job))
            {
                await changes.Reader.WaitToReadAsync(cancellationToken);
                changes.Reader.TryRead(out _);
                job = await GetAsync(cancellationToken); // the persisted state, not a notification's copy that may be older
            }
            return job;
        }
    }

    private sealed class JobObserver(Guid jobId, System.Threading.Channels.ChannelWriter<Job> changes) : IObserver<QmgrNotification>
    {
        public void OnNext(QmgrNotification value)
        {
            if (value.Job.Id == jobId) changes.TryWrite(value.Job);
        }

        public void OnCompleted() { }
        public void OnError(Exception error) { }
    }
}

/// <summary>
/// Which group holds which job, as this node has seen it (created here, enumerated, or named in a notification), so
/// <see cref="IQueueManager.GetJobAsync"/> asks one group instead of scanning them all. A hint only: the group is still
/// asked, and an unknown job falls back to the scan.
/// </summary>
internal sealed class JobDirectory : IExtension
{
    private readonly ConcurrentDictionary<Guid, Guid> _groupOf = new();

    private JobDirectory(ActorSystem system)
    {
        var learner = system.ActorOf(Props.Create(() => new Learner(this)), "qmgr-job-directory");
        system.EventStream.Subscribe(learner, typeof(QmgrNotification));
    }

    public static JobDirectory For(ActorSystem system) => system.WithExtension<JobDirectory, Provider>();

    public Guid? GroupOf(Guid jobId) => _groupOf.TryGetValue(jobId, out var g) ? g : null;

    public void Learn(Guid jobId, Guid groupId) => _groupOf[jobId] = groupId;

    public void Learn(GroupState state)
    {
        foreach (var job in state.Jobs) _groupOf[job.Id] = state.Id;
    }

    private sealed class Learner : ReceiveActor
    {
        public Learner(JobDirectory directory) => Receive<QmgrNotification>(n => directory.Learn(n.Job.Id, n.GroupId));
    }

    private sealed class Provider : ExtensionIdProvider<JobDirectory>
    {
        public override JobDirectory CreateExtension(ExtendedActorSystem system) => new(system);
    }
}

/// <summary>An <see cref="IObservable{T}"/> over the node's event stream: each subscription is a small subscriber actor.</summary>
internal sealed class NotificationObservable(ActorSystem system, Func<QmgrNotification, bool> filter) : IObservable<QmgrNotification>
{
    public IDisposable Subscribe(IObserver<QmgrNotification> observer)
    {
        var actor = system.ActorOf(Props.Create(() => new Subscriber(observer, filter)));
        return new Unsubscribe(actor);
    }

    private sealed class Subscriber : ReceiveActor
    {
        public Subscriber(IObserver<QmgrNotification> observer, Func<QmgrNotification, bool> filter)
        {
            Receive<QmgrNotification>(n =>
            {
                if (filter(n)) observer.OnNext(n);
            });
        }

        protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(QmgrNotification));

        protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
    }

    private sealed class Unsubscribe(IActorRef actor) : IDisposable
    {
        public void Dispose() => actor.Tell(PoisonPill.Instance);
    }
}

/// <summary>
/// Delivers notifications to the <see cref="IJobCallback"/> registered per job on this node, honouring the job's
/// notify flags. Callbacks are not persisted (as BITS's notify interface); one dispatcher per actor system.
/// </summary>
internal sealed class CallbackDispatcher : IExtension
{
    private readonly ConcurrentDictionary<Guid, (IJob Job, IJobCallback Callback)> _callbacks = new();

    private CallbackDispatcher(ActorSystem system)
    {
        var subscriber = system.ActorOf(Props.Create(() => new Dispatch(this)), "qmgr-callbacks");
        system.EventStream.Subscribe(subscriber, typeof(QmgrNotification));
    }

    public static CallbackDispatcher For(ActorSystem system) => system.WithExtension<CallbackDispatcher, Provider>();

    public IJobCallback? Get(Guid jobId) => _callbacks.TryGetValue(jobId, out var c) ? c.Callback : null;

    public void Set(Guid jobId, (IJob, IJobCallback)? callback)
    {
        if (callback is { } c) _callbacks[jobId] = c;
        else _callbacks.TryRemove(jobId, out _);
    }

    private static bool Wants(Job job, NotifyFlags flag) => !job.NotifyFlags.HasFlag(NotifyFlags.Disable) && job.NotifyFlags.HasFlag(flag);

    /// <summary>Reports a job already Transferred or in Error to a callback set after the fact.</summary>
    public static Task ReplayAsync(IJob handle, IJobCallback callback, Job job) => job.State switch
    {
        JobState.Transferred when Wants(job, NotifyFlags.JobTransferred) => callback.JobTransferredAsync(handle, job),
        JobState.Error when job.Error is { } e && Wants(job, NotifyFlags.JobError) => callback.JobErrorAsync(handle, job, e),
        _ => Task.CompletedTask,
    };

    private Task DeliverAsync(QmgrNotification n) =>
        _callbacks.TryGetValue(n.Job.Id, out var c) ? RouteAsync(c.Job, c.Callback, n) : Task.CompletedTask;

    /// <summary>Calls the member of <paramref name="callback"/> that <paramref name="n"/> stands for, if the job's notify
    /// flags select it (the one routing rule of callbacks, in process and over HTTP).</summary>
    public static Task RouteAsync(IJob handle, IJobCallback callback, QmgrNotification n)
    {
        var job = n.Job;
        return n switch
        {
            QmgrNotification.StateChanged { To: JobState.Transferred } when Wants(job, NotifyFlags.JobTransferred) => callback.JobTransferredAsync(handle, job),
            QmgrNotification.StateChanged { To: JobState.Error } when job.Error is { } e && Wants(job, NotifyFlags.JobError) => callback.JobErrorAsync(handle, job, e),
            // BITS raises no JobModification for the moves to Error and Transferred (bits-spec T15)
            QmgrNotification.StateChanged { To: not (JobState.Error or JobState.Transferred) } or QmgrNotification.Progress or QmgrNotification.Modified
                when Wants(job, NotifyFlags.JobModification) => callback.JobModificationAsync(handle, job),
            QmgrNotification.FileTransferred f when Wants(job, NotifyFlags.FileTransferred) => callback.FileTransferredAsync(handle, job, f.FileIndex),
            QmgrNotification.FileRangesTransferred r when Wants(job, NotifyFlags.FileRangesTransferred) => callback.FileRangesTransferredAsync(handle, job, r.FileIndex, r.Ranges),
            _ => Task.CompletedTask,
        };
    }

    private sealed class Dispatch : ReceiveActor
    {
        private Task _tail = Task.CompletedTask;

        public Dispatch(CallbackDispatcher dispatcher)
        {
            // callbacks run off the mailbox, one after another in the order the changes were persisted;
            // a failing callback does not stop later notifications
            Receive<QmgrNotification>(n => _tail = _tail.ContinueWith(_ => dispatcher.DeliverAsync(n), TaskScheduler.Default).Unwrap());
        }
    }

    private sealed class Provider : ExtensionIdProvider<CallbackDispatcher>
    {
        public override CallbackDispatcher CreateExtension(ExtendedActorSystem system) => new(system);
    }
}
