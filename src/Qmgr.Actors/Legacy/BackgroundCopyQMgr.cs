using System.Collections.Concurrent;
using System.Globalization;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using static Qmgr.Legacy.QmgrH;

namespace Qmgr.Legacy;

/// <summary>
/// The BITS 1.0 queue manager (coclass <c>BackgroundCopyQMgr</c>) over the typed API <see cref="IQueueManager"/>, for
/// <see cref="IQueueManager.Caller"/>. Jobs it creates complete themselves once transferred (there is no Complete in
/// BITS 1.0, bits-spec §1.10) and may replace an existing local file, as BITS does. Dispose to stop callbacks.
/// </summary>
public sealed class BackgroundCopyQMgr : IBackgroundCopyQMgr, IDisposable
{
    private readonly IQueueManager _qm;
    private readonly ConcurrentDictionary<Guid, IBackgroundCopyCallback1> _pointers = new();
    private readonly ConcurrentDictionary<Guid, Func<IBackgroundCopyCallback1>> _classes = new();
    private readonly ConcurrentDictionary<Guid, Task> _tails = new();
    private readonly ConcurrentDictionary<Guid, bool> _groupDoneReported = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly IDisposable _subscription;

    /// <param name="queueManager">the typed API acting for the caller.</param>
    /// <param name="callbackRetryDelay">wait before calling a callback again that did not return S_OK (default 5 s).</param>
    public BackgroundCopyQMgr(IQueueManager queueManager, TimeSpan? callbackRetryDelay = null)
    {
        _qm = queueManager;
        CallbackRetryDelay = callbackRetryDelay ?? TimeSpan.FromSeconds(5);
        _subscription = _qm.Notifications.Subscribe(new Observer(this));
    }

    /// <summary>Wait before a callback that did not return S_OK is called again.</summary>
    public TimeSpan CallbackRetryDelay { get; }

    /// <summary>
    /// Registers the callback class that GROUPPROP_NOTIFYCLSID names (what COM activation of that CLSID would create in
    /// the client's process). Done-better: the CLSID is persisted, so groups set before a restart notify again as soon
    /// as the class is registered.
    /// </summary>
    public void RegisterCallbackClass(Guid clsid, Func<IBackgroundCopyCallback1> factory) => _classes[clsid] = factory;

    public async Task<IBackgroundCopyGroup> CreateGroupAsync(Guid groupId, CancellationToken cancellationToken = default)
    {
        if (await TryStateAsync(groupId, cancellationToken) is not null)
            throw new QmgrException(E_INVALIDARG, $"group {groupId:B} already exists");
        var group = await Call(() => _qm.CreateGroupAsync("", JobPriority.Normal, 0, groupId, cancellationToken));
        return new Group(this, group);
    }

    public async Task<IBackgroundCopyGroup> GetGroupAsync(Guid groupId, CancellationToken cancellationToken = default)
    {
        var group = await Call(() => _qm.GetGroupAsync(groupId, cancellationToken));
        if (LegacyView.IsCancelled(await group.GetStateAsync(cancellationToken)))
            throw new QmgrException(QM_E_ITEM_NOT_FOUND, $"group {groupId:B} was cancelled");
        return new Group(this, group);
    }

    public async Task<IEnumBackgroundCopyGroups> EnumGroupsAsync(uint flags = 0, CancellationToken cancellationToken = default)
    {
        if (flags != 0) throw new QmgrException(E_NOTIMPL, "EnumGroups takes no flags (dwFlags must be 0)");
        var groups = await Call(() => _qm.EnumGroupsAsync(cancellationToken));
        var states = await Task.WhenAll(groups.Select(g => g.GetStateAsync(cancellationToken)));
        return new GuidEnumerator(states.Where(s => !LegacyView.IsCancelled(s)).Select(s => s.Id).ToArray());
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task<GroupState?> TryStateAsync(Guid groupId, CancellationToken ct)
    {
        try
        {
            return await (await _qm.GetGroupAsync(groupId, ct)).GetStateAsync(ct);
        }
        catch (QmgrException e) when (e.HResult == HResults.BG_E_NOT_FOUND)
        {
            return null;
        }
    }

    /// <summary>Runs a call of the typed API, translating its refusal to the code BITS 1.0 documents.</summary>
    internal static async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (QmgrException e)
        {
            throw new QmgrException(LegacyView.Translate(e.HResult), e.Message);
        }
    }

    internal static Task Call(Func<Task> call) => Call(async () =>
    {
        await call();
        return true;
    });

    // ---------------------------------------------------------------- callbacks

    private sealed class Observer(BackgroundCopyQMgr qmgr) : IObserver<QmgrNotification>
    {
        public void OnNext(QmgrNotification value) => qmgr.Enqueue(value);
        public void OnError(Exception error) { }
        public void OnCompleted() { }
    }

    // Notifications of one group are delivered one after another, in the order they were persisted.
    private void Enqueue(QmgrNotification n)
    {
        if (_stopping.IsCancellationRequested) return;
        _tails.AddOrUpdate(n.GroupId,
            _ => DeliverAsync(n),
            (_, tail) => tail.ContinueWith(_ => DeliverAsync(n), TaskScheduler.Default).Unwrap());
    }

    private async Task DeliverAsync(QmgrNotification n)
    {
        try
        {
            var ct = _stopping.Token;
            var group = await _qm.GetGroupAsync(n.GroupId, ct);
            var state = await group.GetStateAsync(ct);
            if (LegacyView.IsCancelled(state)) return;
            if (!LegacyView.IsGroupComplete(state)) _groupDoneReported.TryRemove(state.Id, out _);
            var callback = CallbackFor(state);
            var flags = (uint)state.QmNotifyFlags;
            if (callback is null || (flags & QM_NOTIFY_DISABLE_NOTIFY) != 0) return;
            var legacyGroup = new Group(this, group);
            var legacyJob = new Job(legacyGroup, n.Job.Id);
            var job = n.Job;
            switch (n)
            {
                case QmgrNotification.StateChanged { To: JobState.Error } when job.Error is { } e:
                    await RetryAsync(() => callback.OnStatus(legacyGroup, legacyJob, e.FileIndex ?? -1, QM_STATUS_GROUP_ERROR | QM_STATUS_JOB_ERROR,
                        (uint)job.ErrorCount, LegacyView.Win32Of(e.HResult), (uint)(e.HttpStatus ?? 0)), ct);
                    break;
                case QmgrNotification.FileTransferred f when (flags & QM_NOTIFY_FILE_DONE) != 0:
                    await RetryAsync(() => callback.OnStatus(legacyGroup, legacyJob, f.FileIndex, QM_STATUS_FILE_COMPLETE, 0, 0, 0), ct);
                    break;
                case QmgrNotification.StateChanged { To: JobState.Acknowledged } when !LegacyView.IsGone(job):
                    if ((flags & QM_NOTIFY_JOB_DONE) != 0)
                        await RetryAsync(() => callback.OnStatus(legacyGroup, legacyJob, -1, QM_STATUS_JOB_COMPLETE, 0, 0, 0), ct);
                    if ((flags & QM_NOTIFY_GROUP_DONE) != 0 && LegacyView.IsGroupComplete(state) && _groupDoneReported.TryAdd(state.Id, true))
                        await RetryAsync(() => callback.OnStatus(legacyGroup, null, -1, QM_STATUS_GROUP_COMPLETE, 0, 0, 0), ct);
                    break;
                case QmgrNotification.Progress:
                    // the group's percent as it was when this checkpoint was persisted
                    var jobs = LegacyView.Jobs(state).Select(j => j.Id == job.Id ? job : j).ToList();
                    var percent = (uint)LegacyView.Progress(QM_PROGRESS_PERCENT_DONE, jobs, state.CreationTime, DateTimeOffset.UtcNow);
                    var file = job.NextFileIndex ?? -1;
                    _ = (flags & QM_NOTIFY_USE_PROGRESSEX) != 0
                        ? await callback.OnProgressEx(QM_PROGRESS_PERCENT_DONE, legacyGroup, legacyJob, file, percent, [])
                        : await callback.OnProgress(QM_PROGRESS_PERCENT_DONE, legacyGroup, legacyJob, file, percent);
                    break;
            }
        }
        catch (Exception) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception)
        {
            // a failing progress callback or an unreachable group must not stop later notifications
        }
    }

    private IBackgroundCopyCallback1? CallbackFor(GroupState state)
    {
        if (_pointers.TryGetValue(state.Id, out var pointer)) return pointer;
        if (Guid.TryParse(state.NotifyClsid, out var clsid) && _classes.TryGetValue(clsid, out var factory))
            return _pointers.GetOrAdd(state.Id, _ => factory());
        return null;
    }

    // bits-spec §1.6: any return other than S_OK makes the service call again later until it gets S_OK.
    private async Task RetryAsync(Func<Task<int>> call, CancellationToken ct)
    {
        while (true)
        {
            int hr;
            try
            {
                hr = await call();
            }
            catch (Exception)
            {
                hr = E_FAIL;
            }
            if (hr == S_OK) return;
            await Task.Delay(CallbackRetryDelay, ct);
        }
    }

    // ---------------------------------------------------------------- group

    private sealed class Group(BackgroundCopyQMgr qmgr, IGroup group) : IBackgroundCopyGroup
    {
        public Guid GroupID => group.Id;

        internal IGroup Modern => group;

        /// <summary>The group's state; QM_E_INVALID_STATE once the group was cancelled.</summary>
        internal async Task<GroupState> StateAsync(CancellationToken ct)
        {
            var state = await Call(() => group.GetStateAsync(ct));
            return LegacyView.IsCancelled(state)
                ? throw new QmgrException(QM_E_INVALID_STATE, $"group {group.Id:B} was cancelled")
                : state;
        }

        public async Task<object> GetPropAsync(GROUPPROP property, CancellationToken cancellationToken = default)
        {
            var state = await StateAsync(cancellationToken);
            var jobs = LegacyView.Jobs(state);
            return property switch
            {
                GROUPPROP.GROUPPROP_PRIORITY => LegacyView.LegacyPriority(state.Priority),
                GROUPPROP.GROUPPROP_PROTOCOLFLAGS => (int)QM_PROTOCOL_HTTP,
                GROUPPROP.GROUPPROP_NOTIFYFLAGS => state.QmNotifyFlags,
                GROUPPROP.GROUPPROP_NOTIFYCLSID => state.NotifyClsid,
                GROUPPROP.GROUPPROP_PROGRESSSIZE => LegacyView.Progress(QM_PROGRESS_SIZE_DONE, jobs, state.CreationTime, DateTimeOffset.UtcNow),
                GROUPPROP.GROUPPROP_PROGRESSPERCENT => (int)LegacyView.Progress(QM_PROGRESS_PERCENT_DONE, jobs, state.CreationTime, DateTimeOffset.UtcNow),
                GROUPPROP.GROUPPROP_PROGRESSTIME => LegacyView.Progress(QM_PROGRESS_TIME_DONE, jobs, state.CreationTime, DateTimeOffset.UtcNow),
                GROUPPROP.GROUPPROP_DISPLAYNAME => state.DisplayName,
                GROUPPROP.GROUPPROP_DESCRIPTION => state.Description,
                GROUPPROP.GROUPPROP_REMOTEUSERID => state.RemoteUserId,
                // never readable (BITS: credentials are write-only); empty, as for "no password"
                GROUPPROP.GROUPPROP_REMOTEUSERPWD => "",
                _ => throw NotSupported(property),
            };
        }

        public async Task SetPropAsync(GROUPPROP property, object value, CancellationToken cancellationToken = default)
        {
            await StateAsync(cancellationToken);
            switch (property)
            {
                case GROUPPROP.GROUPPROP_PRIORITY:
                    var priority = LegacyView.PriorityOf(Integer(property, value))
                        ?? throw new QmgrException(E_INVALIDARG, "GROUPPROP_PRIORITY is 0 (low), 1 (normal), 2 (high) or 3 (foreground)");
                    await Call(() => group.SetPropertyAsync(GroupProperty.Priority, priority.ToString(), cancellationToken));
                    break;
                case GROUPPROP.GROUPPROP_PROTOCOLFLAGS:
                    if (Integer(property, value) != QM_PROTOCOL_HTTP)
                        throw new QmgrException(E_INVALIDARG, "only QM_PROTOCOL_HTTP (http and https) is supported");
                    break;
                case GROUPPROP.GROUPPROP_NOTIFYFLAGS:
                    var flags = Integer(property, value);
                    if (flags < 0 || (flags & ~QM_NOTIFY_ALL) != 0)
                        throw new QmgrException(E_INVALIDARG, $"undefined QM_NOTIFY_* bits in 0x{flags:X}");
                    await Call(() => group.SetPropertyAsync(GroupProperty.NotifyFlags, flags.ToString(CultureInfo.InvariantCulture), cancellationToken));
                    break;
                case GROUPPROP.GROUPPROP_NOTIFYCLSID:
                    var clsid = Text(property, value);
                    if (clsid.Length > 0 && !Guid.TryParse(clsid, out _))
                        throw new QmgrException(E_INVALIDARG, "GROUPPROP_NOTIFYCLSID must be a CLSID string such as {…} or empty");
                    await Call(() => group.SetPropertyAsync(GroupProperty.NotifyClsid, clsid, cancellationToken));
                    break;
                case GROUPPROP.GROUPPROP_DISPLAYNAME:
                    await Call(() => group.SetPropertyAsync(GroupProperty.DisplayName, Text(property, value), cancellationToken));
                    break;
                case GROUPPROP.GROUPPROP_DESCRIPTION:
                    await Call(() => group.SetPropertyAsync(GroupProperty.Description, Text(property, value), cancellationToken));
                    break;
                case GROUPPROP.GROUPPROP_REMOTEUSERID:
                    // a new user name clears the stored credentials: the password must be set again for it
                    var user = Text(property, value);
                    await Call(() => group.SetPropertyAsync(GroupProperty.RemoteUserId, user, cancellationToken));
                    await Call(() => group.SetCredentialsAsync(null, null, cancellationToken));
                    break;
                case GROUPPROP.GROUPPROP_REMOTEUSERPWD:
                    var password = Text(property, value);
                    var userId = (await StateAsync(cancellationToken)).RemoteUserId;
                    if (userId.Length == 0)
                        throw new QmgrException(E_INVALIDARG, "set GROUPPROP_REMOTEUSERID before GROUPPROP_REMOTEUSERPWD");
                    await Call(() => group.SetCredentialsAsync(userId, password, cancellationToken));
                    break;
                case GROUPPROP.GROUPPROP_PROGRESSSIZE or GROUPPROP.GROUPPROP_PROGRESSPERCENT or GROUPPROP.GROUPPROP_PROGRESSTIME:
                    throw new QmgrException(E_NOTIMPL, $"{property} is read-only");
                default:
                    throw NotSupported(property);
            }
        }

        private static QmgrException NotSupported(GROUPPROP property) => property switch
        {
            GROUPPROP.GROUPPROP_LOCALUSERID or GROUPPROP.GROUPPROP_LOCALUSERPWD =>
                new QmgrException(E_NOTIMPL, $"{property} is not applicable: it named a local Windows account to impersonate for SMB copies; Qmgr copies over HTTP as the process user"),
            _ => new QmgrException(E_NOTIMPL, $"GROUPPROP {(int)property} is not a supported property"),
        };

        private static long Integer(GROUPPROP property, object value) => value switch
        {
            int i => i,
            short s => s,
            uint u => u,
            ushort u => u,
            _ => throw new QmgrException(E_INVALIDARG, $"{property} takes an integer (VT_I4, VT_I2, VT_UI4, VT_UI2, VT_INT or VT_UINT), not {value?.GetType().Name ?? "null"}"),
        };

        private static string Text(GROUPPROP property, object value) =>
            value as string ?? throw new QmgrException(E_INVALIDARG, $"{property} takes a string (VT_BSTR), not {value?.GetType().Name ?? "null"}");

        public async Task<long> GetProgressAsync(uint flags, CancellationToken cancellationToken = default)
        {
            var state = await StateAsync(cancellationToken);
            return LegacyView.Progress(flags, LegacyView.Jobs(state), state.CreationTime, DateTimeOffset.UtcNow);
        }

        public async Task<(uint Status, uint JobIndex)> GetStatusAsync(CancellationToken cancellationToken = default) =>
            LegacyView.GroupStatus(await StateAsync(cancellationToken));

        public async Task<IBackgroundCopyJob1> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default)
        {
            var state = await StateAsync(cancellationToken);
            return LegacyView.Jobs(state).Any(j => j.Id == jobId)
                ? new Job(this, jobId)
                : throw new QmgrException(QM_E_ITEM_NOT_FOUND, $"no job {jobId:B} in group {group.Id:B}");
        }

        public async Task SuspendGroupAsync(CancellationToken cancellationToken = default)
        {
            var state = await StateAsync(cancellationToken);
            foreach (var j in LegacyView.Jobs(state).Where(j => !j.State.IsFinal()))
                await Call(async () => await (await group.GetJobAsync(j.Id, cancellationToken)).SuspendAsync(cancellationToken));
        }

        public async Task ResumeGroupAsync(CancellationToken cancellationToken = default)
        {
            var state = await StateAsync(cancellationToken);
            var jobs = LegacyView.Jobs(state).Where(j => !j.State.IsFinal() && !j.Files.IsEmpty).ToList();
            if (jobs.Count == 0 && !LegacyView.IsGroupComplete(state))
                throw new QmgrException(QM_E_INVALID_STATE, $"group {group.Id:B} has no file to transfer");
            foreach (var j in jobs)
                await Call(async () => await (await group.GetJobAsync(j.Id, cancellationToken)).ResumeAsync(cancellationToken));
        }

        public async Task CancelGroupAsync(CancellationToken cancellationToken = default)
        {
            var state = await Call(() => group.GetStateAsync(cancellationToken));
            if (LegacyView.IsCancelled(state)) return;
            foreach (var j in state.Jobs.Where(j => !j.State.IsFinal()))
                await CancelKeepingTransferredAsync(group, j, cancellationToken);
            // the group goes last: if this call dies half-way the group is still there and CancelGroup can be repeated
            await Call(() => group.CancelAsync(cancellationToken));
        }

        public async Task<long> SizeAsync(CancellationToken cancellationToken = default) =>
            LegacyView.Size(LegacyView.Jobs(await StateAsync(cancellationToken)));

        public async Task<IBackgroundCopyJob1> CreateJobAsync(Guid jobId, CancellationToken cancellationToken = default)
        {
            await StateAsync(cancellationToken);
            await Call(() => group.CreateJobAsync("", new JobOptions(AutoComplete: true, Overwrite: true), jobId: jobId, cancellationToken: cancellationToken));
            return new Job(this, jobId);
        }

        public async Task<IEnumBackgroundCopyJobs1> EnumJobsAsync(uint flags = 0, CancellationToken cancellationToken = default)
        {
            if (flags != 0) throw new QmgrException(E_NOTIMPL, "EnumJobs takes no flags (dwFlags must be 0)");
            return new GuidEnumerator(LegacyView.Jobs(await StateAsync(cancellationToken)).Select(j => j.Id).ToArray());
        }

        public async Task SwitchToForegroundAsync(CancellationToken cancellationToken = default)
        {
            await StateAsync(cancellationToken);
            await Call(() => group.SetPropertyAsync(GroupProperty.Priority, nameof(JobPriority.Foreground), cancellationToken));
        }

        public object QueryNewJobInterface(Guid iid) =>
            throw new QmgrException(E_NOTIMPL, "QueryNewJobInterface returns a COM interface pointer; there is none in .NET. Use IQueueManager/IGroup.GetJobAsync for the modern job.");

        public void SetNotificationPointer(IBackgroundCopyCallback1? callback)
        {
            if (callback is null) qmgr._pointers.TryRemove(group.Id, out _);
            else qmgr._pointers[group.Id] = callback;
        }
    }

    /// <summary>
    /// Legacy cancel of one job (Decision 9): suspend it, then Complete, which puts every file already transferred in
    /// place and drops the temp files of the others (the job ends Acknowledged, partially). A job without files is cancelled.
    /// </summary>
    private static async Task CancelKeepingTransferredAsync(IGroup group, Jobs.Job job, CancellationToken ct)
    {
        var handle = await Call(() => group.GetJobAsync(job.Id, ct));
        if (job.Files.IsEmpty)
        {
            await Call(() => handle.CancelAsync(ct));
            return;
        }
        await Call(() => handle.SuspendAsync(ct));
        await Call(() => handle.CompleteAsync(ct));
    }

    // ---------------------------------------------------------------- job

    private sealed class Job(Group group, Guid jobId) : IBackgroundCopyJob1
    {
        public Guid JobID => jobId;

        private async Task<(IJob Handle, Jobs.Job State)> OpenAsync(CancellationToken ct)
        {
            var state = await group.StateAsync(ct);
            var job = LegacyView.Jobs(state).FirstOrDefault(j => j.Id == jobId)
                ?? throw new QmgrException(QM_E_ITEM_NOT_FOUND, $"no job {jobId:B} in group {group.GroupID:B}");
            return (await Call(() => group.Modern.GetJobAsync(jobId, ct)), job);
        }

        public async Task CancelJobAsync(CancellationToken cancellationToken = default)
        {
            var (_, job) = await OpenAsync(cancellationToken);
            if (job.State.IsFinal())
                throw new QmgrException(QM_E_INVALID_STATE, $"job {jobId:B} already finished; its files are in place (CancelGroup removes it)");
            await CancelKeepingTransferredAsync(group.Modern, job, cancellationToken);
        }

        public async Task<long> GetProgressAsync(uint flags, CancellationToken cancellationToken = default)
        {
            var (_, job) = await OpenAsync(cancellationToken);
            return LegacyView.Progress(flags, [job], job.CreationTime, DateTimeOffset.UtcNow);
        }

        public async Task<(uint Status, uint Win32Result, uint TransportResult, uint NumOfRetries)> GetStatusAsync(CancellationToken cancellationToken = default) =>
            LegacyView.JobStatus((await OpenAsync(cancellationToken)).State);

        public async Task AddFilesAsync(IReadOnlyList<FILESETINFO> files, CancellationToken cancellationToken = default)
        {
            var (handle, _) = await OpenAsync(cancellationToken);
            foreach (var f in files)
            {
                // FILESETINFO: every directory of the local path must already exist
                if (Path.IsPathFullyQualified(f.LocalFile) && Path.GetDirectoryName(f.LocalFile) is { } dir && !Directory.Exists(dir))
                    throw new QmgrException(E_INVALIDARG, $"the directory of {f.LocalFile} does not exist");
            }
            await Call(() => handle.AddFilesAsync(files.Select(f => (f.RemoteFile, f.LocalFile)), cancellationToken));
        }

        public async Task<FILESETINFO> GetFileAsync(uint index, CancellationToken cancellationToken = default)
        {
            var (_, job) = await OpenAsync(cancellationToken);
            if (index >= job.Files.Count)
                throw new QmgrException(QM_E_ITEM_NOT_FOUND, $"job {jobId:B} has {job.Files.Count} files; there is no index {index}");
            var f = job.Files[(int)index];
            return new FILESETINFO(f.RemoteName, f.LocalName);
        }

        public async Task<uint> GetFileCountAsync(CancellationToken cancellationToken = default) =>
            (uint)(await OpenAsync(cancellationToken)).State.Files.Count;

        public async Task SwitchToForegroundAsync(CancellationToken cancellationToken = default)
        {
            var (handle, _) = await OpenAsync(cancellationToken);
            await Call(() => handle.SetPropertyAsync(JobProperty.Priority, nameof(JobPriority.Foreground), cancellationToken));
        }
    }

    // ---------------------------------------------------------------- enumerators

    private sealed class GuidEnumerator(Guid[] items, int position = 0) : IEnumBackgroundCopyGroups, IEnumBackgroundCopyJobs1
    {
        private int _position = position;

        public int Next(uint count, out Guid[] result)
        {
            var take = (int)Math.Min(count, (uint)(items.Length - _position));
            result = items[_position..(_position + take)];
            _position += take;
            return take == count ? S_OK : S_FALSE;
        }

        public int Skip(uint count)
        {
            var remaining = (uint)(items.Length - _position);
            _position += (int)Math.Min(count, remaining);
            return count <= remaining ? S_OK : S_FALSE;
        }

        public void Reset() => _position = 0;

        public uint GetCount() => (uint)items.Length;

        IEnumBackgroundCopyGroups IEnumBackgroundCopyGroups.Clone() => new GuidEnumerator(items, _position);

        IEnumBackgroundCopyJobs1 IEnumBackgroundCopyJobs1.Clone() => new GuidEnumerator(items, _position);
    }
}
