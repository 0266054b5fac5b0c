namespace Qmgr.Legacy;

// The BITS 1.0 (qmgr.h) surface as task-based C# interfaces named after the COM ones (bits-spec part 1).
// A failed call throws Qmgr.Api.QmgrException whose HResult is the code the 1.0 pages give (QM_E_*, E_*).
// Members marked "done-better" do more than BITS 1.0 did behind the same member; the README lists every row.

/// <summary><c>IBackgroundCopyQMgr</c>: create, open and enumerate the caller's groups. Obtain with <see cref="BackgroundCopyQMgr"/>.</summary>
public interface IBackgroundCopyQMgr
{
    /// <summary>Creates a suspended group with the caller's GUID. E_INVALIDARG when that GUID is already used (even by a cancelled group).</summary>
    Task<IBackgroundCopyGroup> CreateGroupAsync(Guid groupId, CancellationToken cancellationToken = default);

    /// <summary>Opens a group; QM_E_ITEM_NOT_FOUND when unknown, cancelled, or another owner's (non-administrators).
    /// Differs: the caller does not become the owner (an administrator acts on the owner's behalf, Decision 11).</summary>
    Task<IBackgroundCopyGroup> GetGroupAsync(Guid groupId, CancellationToken cancellationToken = default);

    /// <summary>A snapshot of the caller's group ids (every owner's for an administrator), cancelled groups left out. E_NOTIMPL when <paramref name="flags"/> ≠ 0.</summary>
    Task<IEnumBackgroundCopyGroups> EnumGroupsAsync(uint flags = 0, CancellationToken cancellationToken = default);
}

/// <summary><c>IBackgroundCopyGroup</c>: the unit that is suspended, resumed, cancelled and prioritised. Done-better: many jobs per group (Decision 2).</summary>
public interface IBackgroundCopyGroup
{
    /// <summary><c>get_GroupID</c>.</summary>
    Guid GroupID { get; }

    /// <summary>Reads a <see cref="GROUPPROP"/> as a VARIANT would hold it: <see cref="int"/>, <see cref="long"/> or <see cref="string"/>.</summary>
    Task<object> GetPropAsync(GROUPPROP property, CancellationToken cancellationToken = default);

    /// <summary>Writes a <see cref="GROUPPROP"/>: integer properties take int/short/uint/ushort, string properties a string; another type is E_INVALIDARG.</summary>
    Task SetPropAsync(GROUPPROP property, object value, CancellationToken cancellationToken = default);

    /// <summary>One measure of the whole group: QM_PROGRESS_PERCENT_DONE, QM_PROGRESS_SIZE_DONE (bytes, 64-bit: done-better) or QM_PROGRESS_TIME_DONE (done-better).</summary>
    Task<long> GetProgressAsync(uint flags, CancellationToken cancellationToken = default);

    /// <summary>QM_STATUS_GROUP_* bits and the index (in <see cref="EnumJobsAsync"/> order) of the job in progress, 0 when none.</summary>
    Task<(uint Status, uint JobIndex)> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Opens a job of this group; QM_E_ITEM_NOT_FOUND when unknown or cancelled.</summary>
    Task<IBackgroundCopyJob1> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>Suspends every unfinished job of the group.</summary>
    Task SuspendGroupAsync(CancellationToken cancellationToken = default);

    /// <summary>Resumes every job that has files and is not finished; QM_E_INVALID_STATE when no job has a file.</summary>
    Task ResumeGroupAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes the group for good; files already transferred are kept (put in place), the rest discarded (Decision 9). Idempotent.</summary>
    Task CancelGroupAsync(CancellationToken cancellationToken = default);

    /// <summary><c>get_Size</c>: total bytes of every file, 0 while any size is unknown. 64-bit: done-better.</summary>
    Task<long> SizeAsync(CancellationToken cancellationToken = default);

    /// <summary>Creates a job with the caller's GUID, suspended until <see cref="ResumeGroupAsync"/>. Done-better: any number per group. E_INVALIDARG for a used GUID.</summary>
    Task<IBackgroundCopyJob1> CreateJobAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>A snapshot of the group's job ids in creation order (cancelled jobs left out). E_NOTIMPL when <paramref name="flags"/> ≠ 0.</summary>
    Task<IEnumBackgroundCopyJobs1> EnumJobsAsync(uint flags = 0, CancellationToken cancellationToken = default);

    /// <summary>Moves the group and its unfinished jobs to the Foreground priority (not held back by the background cap).</summary>
    Task SwitchToForegroundAsync(CancellationToken cancellationToken = default);

    /// <summary>Not applicable: it returns a COM interface pointer by IID. Always throws E_NOTIMPL; use <see cref="Api.IGroup.GetJobAsync"/> for the modern job.</summary>
    object QueryNewJobInterface(Guid iid);

    /// <summary>Registers an in-process callback for this group on this queue manager (null clears it); it wins over GROUPPROP_NOTIFYCLSID.</summary>
    void SetNotificationPointer(IBackgroundCopyCallback1? callback);
}

/// <summary><c>IBackgroundCopyJob1</c>: a list of files with a status.</summary>
public interface IBackgroundCopyJob1
{
    /// <summary><c>get_JobID</c>.</summary>
    Guid JobID { get; }

    /// <summary>Done-better (BITS 1.0: not implemented): cancels this job only, keeping its files already transferred, as CancelGroup does.</summary>
    Task CancelJobAsync(CancellationToken cancellationToken = default);

    /// <summary>As the group's, scoped to this job.</summary>
    Task<long> GetProgressAsync(uint flags, CancellationToken cancellationToken = default);

    /// <summary>QM_STATUS_JOB_* bits; Win32 result, HTTP status and error count are meaningful with QM_STATUS_JOB_ERROR.</summary>
    Task<(uint Status, uint Win32Result, uint TransportResult, uint NumOfRetries)> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Appends files. E_INVALIDARG for a bad URL or path (or a directory that does not exist); QM_E_INVALID_STATE once the job is finished.</summary>
    Task AddFilesAsync(IReadOnlyList<FILESETINFO> files, CancellationToken cancellationToken = default);

    /// <summary>The file at a zero-based index; QM_E_ITEM_NOT_FOUND past the end.</summary>
    Task<FILESETINFO> GetFileAsync(uint index, CancellationToken cancellationToken = default);

    /// <summary>Number of files.</summary>
    Task<uint> GetFileCountAsync(CancellationToken cancellationToken = default);

    /// <summary>Done-better (BITS 1.0: not implemented): this job alone moves to the Foreground priority.</summary>
    Task SwitchToForegroundAsync(CancellationToken cancellationToken = default);
}

/// <summary>A snapshot enumerator of GUIDs (<c>IEnumBackgroundCopyGroups</c>, <c>IEnumBackgroundCopyJobs1</c>).</summary>
public interface IEnumBackgroundCopyGuids
{
    /// <summary>Up to <paramref name="count"/> ids from the current position: S_OK when all were returned, S_FALSE when fewer.</summary>
    int Next(uint count, out Guid[] items);

    /// <summary>Skips <paramref name="count"/> ids: S_OK, or S_FALSE when fewer remained (the position is then at the end).</summary>
    int Skip(uint count);

    /// <summary>Back to the first id.</summary>
    void Reset();

    /// <summary>Total number of ids in the snapshot.</summary>
    uint GetCount();
}

/// <summary><c>IEnumBackgroundCopyGroups</c>.</summary>
public interface IEnumBackgroundCopyGroups : IEnumBackgroundCopyGuids
{
    /// <summary>An independent enumerator at the same position.</summary>
    IEnumBackgroundCopyGroups Clone();
}

/// <summary><c>IEnumBackgroundCopyJobs1</c>.</summary>
public interface IEnumBackgroundCopyJobs1 : IEnumBackgroundCopyGuids
{
    /// <summary>An independent enumerator at the same position.</summary>
    IEnumBackgroundCopyJobs1 Clone();
}

/// <summary>
/// <c>IBackgroundCopyCallback1</c>, implemented by the client. Return S_OK (0): <see cref="OnStatus"/> is called again
/// (after <see cref="BackgroundCopyQMgr.CallbackRetryDelay"/>) until it returns S_OK; a thrown exception counts as a failure.
/// Calls for one group come one after another, in the order the changes were persisted.
/// </summary>
public interface IBackgroundCopyCallback1
{
    /// <summary>
    /// Errors (unless QM_NOTIFY_DISABLE_NOTIFY): <paramref name="status"/> has QM_STATUS_GROUP_ERROR | QM_STATUS_JOB_ERROR, with the
    /// failing file index (-1 if none), error count, Win32 result and HTTP status. QM_NOTIFY_GROUP_DONE: QM_STATUS_GROUP_COMPLETE,
    /// <paramref name="job"/> null. Done-better: QM_NOTIFY_JOB_DONE (QM_STATUS_JOB_COMPLETE) and QM_NOTIFY_FILE_DONE (QM_STATUS_FILE_COMPLETE).
    /// </summary>
    Task<int> OnStatus(IBackgroundCopyGroup group, IBackgroundCopyJob1? job, int fileIndex, uint status, uint numOfRetries, uint win32Result, uint transportResult);

    /// <summary>Done-better (never called by BITS 1.0): the group's percent done after each persisted progress checkpoint. Not retried.</summary>
    Task<int> OnProgress(uint progressType, IBackgroundCopyGroup group, IBackgroundCopyJob1? job, int fileIndex, uint progressValue);

    /// <summary>Done-better: as <see cref="OnProgress"/>, instead of it when QM_NOTIFY_USE_PROGRESSEX is set; the byte array is empty. Not retried.</summary>
    Task<int> OnProgressEx(uint progressType, IBackgroundCopyGroup group, IBackgroundCopyJob1? job, int fileIndex, uint progressValue, byte[] bytes);
}
