using System.Text.Json.Serialization;

namespace Qmgr;

/// <summary>How a command ended.</summary>
public enum ResultCode
{
    /// <summary>events were persisted; the change is durable.</summary>
    Ok,
    /// <summary>nothing to change (e.g. Suspend on a suspended job); nothing persisted.</summary>
    NoOp,
    /// <summary>refused; <see cref="CommandResult.HResult"/> says why and nothing was persisted.</summary>
    Rejected,
}

/// <summary>
/// Reply to every group or job command, sent only after its events are persisted.
/// <see cref="HResult"/> is 0 (S_OK), a BITS success code such as BG_S_PARTIAL_COMPLETE (0x00200017),
/// or a failure such as BG_E_INVALID_STATE (0x80200002) / E_INVALIDARG (0x80070057).
/// </summary>
public sealed record CommandResult(ResultCode Code, int HResult, string Message) : IQmgrMessage
{
    public static readonly CommandResult Ok = new(ResultCode.Ok, 0, "ok");
    public static readonly CommandResult NoOp = new(ResultCode.NoOp, 0, "nothing to change");
    public static CommandResult Success(int hresult, string message) => new(ResultCode.Ok, hresult, message);
    public static CommandResult Rejected(int hresult, string message) => new(ResultCode.Rejected, hresult, message);
    [JsonIgnore] public bool IsSuccess => Code != ResultCode.Rejected;
}

/// <summary>HRESULTs Qmgr returns from commands (values from bits.h / winerror.h, bits-spec §2.16).</summary>
public static class HResults
{
    public const int S_OK = 0;
    /// <summary>BG_S_PARTIAL_COMPLETE: Complete kept only the files that were fully transferred.</summary>
    public const int BG_S_PARTIAL_COMPLETE = 0x00200017;
    /// <summary>BG_E_NOT_FOUND: no job or group with that id.</summary>
    public const int BG_E_NOT_FOUND = unchecked((int)0x80200001);
    /// <summary>BG_E_INVALID_STATE: the requested action is not allowed in the job's state.</summary>
    public const int BG_E_INVALID_STATE = unchecked((int)0x80200002);
    /// <summary>BG_E_EMPTY: Resume on a job without files.</summary>
    public const int BG_E_EMPTY = unchecked((int)0x80200003);
    /// <summary>BG_E_STRING_TOO_LONG: a display name, description or other string is over its limit.</summary>
    public const int BG_E_STRING_TOO_LONG = unchecked((int)0x80200021);
    /// <summary>BG_E_USERNAME_TOO_LARGE: a user name over 300 characters.</summary>
    public const int BG_E_USERNAME_TOO_LARGE = unchecked((int)0x80200025);
    /// <summary>BG_E_PASSWORD_TOO_LARGE: a password over 65,535 characters.</summary>
    public const int BG_E_PASSWORD_TOO_LARGE = unchecked((int)0x80200026);
    /// <summary>BG_E_INVALID_AUTH_TARGET: an undefined BG_AUTH_TARGET.</summary>
    public const int BG_E_INVALID_AUTH_TARGET = unchecked((int)0x80200027);
    /// <summary>BG_E_INVALID_AUTH_SCHEME: an undefined BG_AUTH_SCHEME.</summary>
    public const int BG_E_INVALID_AUTH_SCHEME = unchecked((int)0x80200028);
    /// <summary>BG_E_TOO_MANY_JOBS_PER_USER: the owner has <c>qmgr.limits.max-jobs-per-owner</c> unfinished jobs.</summary>
    public const int BG_E_TOO_MANY_JOBS_PER_USER = unchecked((int)0x80200049);
    /// <summary>BG_E_TOO_MANY_FILES_IN_JOB: <c>qmgr.limits.max-files-per-job</c> reached.</summary>
    public const int BG_E_TOO_MANY_FILES_IN_JOB = unchecked((int)0x80200051);
    /// <summary>BG_E_MAXDOWNLOAD_TIMEOUT (bitsmsg.h 0x80200053): Connecting + Transferring time exceeded MaximumDownloadTime (T23).</summary>
    public const int BG_E_MAXDOWNLOAD_TIMEOUT = unchecked((int)0x80200053);
    /// <summary>E_NOTIMPL: an undefined enum value (priority, notify bits), as BITS answers it.</summary>
    public const int E_NOTIMPL = unchecked((int)0x80004001);
    /// <summary>E_ACCESSDENIED: the group belongs to another owner (Decision 11).</summary>
    public const int E_ACCESSDENIED = unchecked((int)0x80070005);
    /// <summary>E_INVALIDARG: a bad argument (URL, path, property value).</summary>
    public const int E_INVALIDARG = unchecked((int)0x80070057);
    /// <summary>ERROR_FILE_EXISTS as HRESULT: the target exists and overwriting was not allowed.</summary>
    public const int E_FILE_EXISTS = unchecked((int)0x80070050);
    /// <summary>BG_E_INVALID_RANGE (0x8020002B): a range with offset BG_LENGTH_TO_EOF or length 0 (AddFileWithRanges), or outside the remote file (job error).</summary>
    public const int BG_E_INVALID_RANGE = unchecked((int)0x8020002B);
    /// <summary>BG_E_OVERLAPPING_RANGES (0x8020002C): ranges repeat or overlap once sorted by offset (AddFileWithRanges).</summary>
    public const int BG_E_OVERLAPPING_RANGES = unchecked((int)0x8020002C);
    /// <summary>BG_E_TOO_MANY_RANGES_IN_FILE (0x80200052): more than <c>qmgr.limits.max-ranges-per-file</c> ranges (BITS MaxRangesPerFile, 500).</summary>
    public const int BG_E_TOO_MANY_RANGES_IN_FILE = unchecked((int)0x80200052);
    /// <summary>BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE (0x80200061): HIGH_PERFORMANCE once the job has files.</summary>
    public const int BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE = unchecked((int)0x80200061);
    /// <summary>BG_E_READ_ONLY_PROPERTY_AFTER_RESUME (0x80200062): DYNAMIC_CONTENT or MAX_DOWNLOAD_SIZE after the first Resume.</summary>
    public const int BG_E_READ_ONLY_PROPERTY_AFTER_RESUME = unchecked((int)0x80200062);
    /// <summary>BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE (0x80200063): MAX_DOWNLOAD_SIZE of 0 or not a number.</summary>
    public const int BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE = unchecked((int)0x80200063);
    /// <summary>BG_E_RANDOM_ACCESS_NOT_SUPPORTED (0x8020006D): RequestFileRanges / UpdateDownloadPosition / GetFilledFileRanges on a
    /// job that is not ON_DEMAND_MODE, or (job error) a server that does not honour Range for an on-demand file.</summary>
    public const int BG_E_RANDOM_ACCESS_NOT_SUPPORTED = unchecked((int)0x8020006D);
    /// <summary>BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED (0x80200066): USE_STORED_CREDENTIALS for a target other than the proxy.</summary>
    public const int BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED = unchecked((int)0x80200066);
}
