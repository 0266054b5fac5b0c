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
    /// <summary>BG_E_MAXDOWNLOAD_TIMEOUT (bitsmsg.h 0x80200054): Connecting + Transferring time exceeded MaximumDownloadTime (T23).</summary>
    public const int BG_E_MAXDOWNLOAD_TIMEOUT = unchecked((int)0x80200054);
    /// <summary>HRESULT_FROM_WIN32(ERROR_TIMEOUT) (0x800705B4): the node running a group did not answer in time (it may be
    /// failing over to another node); a query may be repeated, a command may or may not have been applied.</summary>
    public const int ERROR_TIMEOUT = unchecked((int)0x800705B4);
    /// <summary>E_FAIL (0x80004005): an unspecified failure (an empty or unreadable answer from a service).</summary>
    public const int E_FAIL = unchecked((int)0x80004005);
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
    /// <summary>BG_E_TOO_MANY_FILES (0x8020001C): an upload or upload-reply job holds exactly one file.</summary>
    public const int BG_E_TOO_MANY_FILES = unchecked((int)0x8020001C);
    /// <summary>BG_E_TOO_LARGE (0x80200020): the reply is over 1 MB for GetReplyData (or the server's upload limit).</summary>
    public const int BG_E_TOO_LARGE = unchecked((int)0x80200020);
    /// <summary>HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) (0x80070002): the local file of an upload does not exist.</summary>
    public const int E_FILE_NOT_FOUND = unchecked((int)0x80070002);
    /// <summary>BG_E_FILE_NOT_AVAILABLE (0x80200004): the job error is not tied to a file (IBackgroundCopyError::GetFile).</summary>
    public const int BG_E_FILE_NOT_AVAILABLE = unchecked((int)0x80200004);
    /// <summary>BG_E_PROTOCOL_NOT_AVAILABLE (0x80200005): the job error is not tied to a transfer protocol (IBackgroundCopyError::GetProtocol).</summary>
    public const int BG_E_PROTOCOL_NOT_AVAILABLE = unchecked((int)0x80200005);
    /// <summary>BG_E_ERROR_INFORMATION_UNAVAILABLE (0x8020000F): the job has no error record (IBackgroundCopyJob::GetError).</summary>
    public const int BG_E_ERROR_INFORMATION_UNAVAILABLE = unchecked((int)0x8020000F);
    /// <summary>BG_E_UNKNOWN_PROPERTY_ID (0x80200057): an undefined BITS_FILE_PROPERTY_ID (IBackgroundCopyFile5 Set/GetProperty).</summary>
    public const int BG_E_UNKNOWN_PROPERTY_ID = unchecked((int)0x80200057);
    /// <summary>BG_E_READ_ONLY_PROPERTY (0x80200058): the property cannot be set (BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS).</summary>
    public const int BG_E_READ_ONLY_PROPERTY = unchecked((int)0x80200058);
    /// <summary>BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY (0x80200060): DYNAMIC_CONTENT, HIGH_PERFORMANCE, MAX_DOWNLOAD_SIZE or ON_DEMAND_MODE on an upload job.</summary>
    public const int BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY = unchecked((int)0x80200060);
    /// <summary>BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD (0x80200071): a priority change, DYNAMIC_CONTENT or ON_DEMAND_MODE on a job with a custom HTTP method (SetHttpMethod).</summary>
    public const int BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD = unchecked((int)0x80200071);
    /// <summary>BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED (0x80200074): the job asks for a server certificate validation callback and none is registered on the transferring node.</summary>
    public const int BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED = unchecked((int)0x80200074);
    /// <summary>BG_E_READ_ONLY_WHEN_JOB_ACTIVE (0x80200075): SetServerCertificateValidationInterface while the job is Queued, Connecting, Transferring or TransientError.</summary>
    public const int BG_E_READ_ONLY_WHEN_JOB_ACTIVE = unchecked((int)0x80200075);
}
