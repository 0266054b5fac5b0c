// Names below are the qmgr.h names on purpose (bits-spec part 1), so legacy callers recognise them.
#pragma warning disable CA1707, IDE1006
namespace Qmgr.Legacy;

/// <summary>BITS 1.0 group properties (qmgr.h <c>GROUPPROP</c>, values from bits-spec §1.7). The README lists what each does here.</summary>
public enum GROUPPROP
{
    GROUPPROP_PRIORITY = 0,
    GROUPPROP_REMOTEUSERID = 1,
    GROUPPROP_REMOTEUSERPWD = 2,
    GROUPPROP_LOCALUSERID = 3,
    GROUPPROP_LOCALUSERPWD = 4,
    GROUPPROP_PROTOCOLFLAGS = 5,
    GROUPPROP_NOTIFYFLAGS = 6,
    GROUPPROP_NOTIFYCLSID = 7,
    GROUPPROP_PROGRESSSIZE = 8,
    GROUPPROP_PROGRESSPERCENT = 9,
    GROUPPROP_PROGRESSTIME = 10,
    GROUPPROP_DISPLAYNAME = 11,
    GROUPPROP_DESCRIPTION = 12,
}

/// <summary>
/// One file of a legacy job (qmgr.h <c>FILESETINFO</c>): <paramref name="RemoteFile"/> is an absolute http/https URL,
/// <paramref name="LocalFile"/> an absolute path whose directory exists. <paramref name="SizeHint"/> is ignored, as in BITS 1.0.
/// </summary>
public sealed record FILESETINFO(string RemoteFile, string LocalFile, uint SizeHint = 0);

/// <summary>qmgr.h constants with their documented values (bits-spec §1.9). <c>using static Qmgr.Legacy.QmgrH;</c> to write them bare.</summary>
public static class QmgrH
{
    public const uint QM_NOTIFY_FILE_DONE = 0x00000001;
    public const uint QM_NOTIFY_JOB_DONE = 0x00000002;
    public const uint QM_NOTIFY_GROUP_DONE = 0x00000004;
    public const uint QM_NOTIFY_DISABLE_NOTIFY = 0x00000040;
    public const uint QM_NOTIFY_USE_PROGRESSEX = 0x00000080;

    public const uint QM_STATUS_FILE_COMPLETE = 0x00000001;
    public const uint QM_STATUS_FILE_INCOMPLETE = 0x00000002;
    public const uint QM_STATUS_JOB_COMPLETE = 0x00000004;
    public const uint QM_STATUS_JOB_INCOMPLETE = 0x00000008;
    public const uint QM_STATUS_JOB_ERROR = 0x00000010;
    public const uint QM_STATUS_JOB_FOREGROUND = 0x00000020;
    public const uint QM_STATUS_GROUP_COMPLETE = 0x00000040;
    public const uint QM_STATUS_GROUP_INCOMPLETE = 0x00000080;
    public const uint QM_STATUS_GROUP_SUSPENDED = 0x00000100;
    public const uint QM_STATUS_GROUP_ERROR = 0x00000200;
    public const uint QM_STATUS_GROUP_FOREGROUND = 0x00000400;

    public const uint QM_PROTOCOL_HTTP = 1;
    public const uint QM_PROTOCOL_FTP = 2;
    public const uint QM_PROTOCOL_SMB = 3;
    public const uint QM_PROTOCOL_CUSTOM = 4;

    public const uint QM_PROGRESS_PERCENT_DONE = 1;
    public const uint QM_PROGRESS_TIME_DONE = 2;
    public const uint QM_PROGRESS_SIZE_DONE = 3;

    public const int QM_E_INVALID_STATE = unchecked((int)0x81001001);
    public const int QM_E_SERVICE_UNAVAILABLE = unchecked((int)0x81001002);
    public const int QM_E_DOWNLOADER_UNAVAILABLE = unchecked((int)0x81001003);
    public const int QM_E_ITEM_NOT_FOUND = unchecked((int)0x81001004);

    public const int S_OK = 0;
    public const int S_FALSE = 1;
    public const int E_FAIL = unchecked((int)0x80004005);
    public const int E_NOTIMPL = HResults.E_NOTIMPL;
    public const int E_INVALIDARG = HResults.E_INVALIDARG;
    public const int E_ACCESSDENIED = HResults.E_ACCESSDENIED;

    /// <summary>All QM_NOTIFY_* bits; anything else in GROUPPROP_NOTIFYFLAGS is E_INVALIDARG.</summary>
    public const uint QM_NOTIFY_ALL = QM_NOTIFY_FILE_DONE | QM_NOTIFY_JOB_DONE | QM_NOTIFY_GROUP_DONE | QM_NOTIFY_DISABLE_NOTIFY | QM_NOTIFY_USE_PROGRESSEX;
}
