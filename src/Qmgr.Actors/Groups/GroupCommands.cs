using Qmgr.Transport;
using System.Collections.Immutable;
using Qmgr.Jobs;

namespace Qmgr.Groups;

/// <summary>Routes a message to the <see cref="GroupActor"/> entity of <see cref="GroupId"/>.</summary>
public interface IWithGroupId
{
    Guid GroupId { get; }
}

/// <summary>A command for one group; answered with <see cref="CommandResult"/> after its events are persisted.</summary>
public interface IGroupCommand : IWithGroupId, IQmgrMessage
{
    /// <summary>Caller identity (Decision 11): an owner sees and changes only its own groups.</summary>
    string Caller { get; }
}

/// <summary>
/// Commands of the BITS group and job model. Ids are GUIDs chosen by the caller (BITS 1.0 <c>CreateGroup</c> takes
/// the caller's GUID too). Errors: BG_E_NOT_FOUND, BG_E_INVALID_STATE, BG_E_EMPTY, E_INVALIDARG, E_ACCESSDENIED.
/// </summary>
public static class GroupCommands
{
    /// <summary>Creates the group (<c>IBackgroundCopyQMgr::CreateGroup</c>); <paramref name="MaxBytesPerSecond"/> 0 = no cap.</summary>
    public sealed record CreateGroup(Guid GroupId, string Caller, string DisplayName, JobPriority Priority, long MaxBytesPerSecond) : IGroupCommand;

    /// <summary>
    /// Sets a group property (BITS 1.0 <c>IBackgroundCopyGroup::SetProp</c>); a new Priority also applies to the
    /// group's unfinished jobs (Decision 3). Errors: BG_E_STRING_TOO_LONG, E_INVALIDARG, E_NOTIMPL (unknown priority).
    /// </summary>
    public sealed record SetGroupProperty(Guid GroupId, string Caller, GroupProperty Property, string Value) : IGroupCommand;

    /// <summary>
    /// Sets a job property (BITS <c>IBackgroundCopyJob</c> Set* members), allowed in any non-final state; the value is
    /// the invariant text described on <see cref="JobProperty"/>. Errors: BG_E_STRING_TOO_LONG, E_INVALIDARG,
    /// E_NOTIMPL (undefined priority or notify bits), BG_E_INVALID_STATE (final job).
    /// </summary>
    public sealed record SetJobProperty(Guid GroupId, string Caller, Guid JobId, JobProperty Property, string Value) : IGroupCommand;

    /// <summary>
    /// Sets the credentials for (target, scheme) (BITS <c>IBackgroundCopyJob2::SetCredentials</c>), replacing earlier
    /// ones for the same pair. <paramref name="Protected"/> is <see cref="SecretProtector"/> ciphertext: the clear
    /// text never reaches the actors. Errors: BG_E_INVALID_AUTH_TARGET / _SCHEME, BG_E_INVALID_STATE.
    /// </summary>
    public sealed record SetJobCredentials(Guid GroupId, string Caller, Guid JobId, AuthTarget Target, AuthScheme Scheme, string Protected) : IGroupCommand;

    /// <summary>Removes the credentials for (target, scheme) (<c>RemoveCredentials</c>); no-op when none were set.</summary>
    public sealed record RemoveJobCredentials(Guid GroupId, string Caller, Guid JobId, AuthTarget Target, AuthScheme Scheme) : IGroupCommand;

    /// <summary>Changes one file's URL (BITS <c>IBackgroundCopyFile2::SetRemoteName</c>); allowed until the file is
    /// transferred. E_INVALIDARG for a bad URL or index; BG_E_INVALID_STATE for a final job.</summary>
    public sealed record SetRemoteName(Guid GroupId, string Caller, Guid JobId, int FileIndex, string RemoteName) : IGroupCommand;

    /// <summary>Replaces <paramref name="OldPrefix"/> (case-sensitive) by <paramref name="NewPrefix"/> in the URLs of the
    /// job's files not yet transferred (BITS <c>IBackgroundCopyJob3::ReplaceRemotePrefix</c>); no-op (BITS: S_FALSE) when none matches.</summary>
    public sealed record ReplaceRemotePrefix(Guid GroupId, string Caller, Guid JobId, string OldPrefix, string NewPrefix) : IGroupCommand;

    /// <summary>
    /// Makes <paramref name="NewOwner"/> the group's owner (BITS <c>TakeOwnership</c>, for administrators). Job
    /// credentials, custom headers and the group's credentials are removed, as BITS does. Sent by the API only for
    /// administrators; the caller must be the current owner as the API presents it.
    /// </summary>
    public sealed record TakeOwnership(Guid GroupId, string Caller, string NewOwner) : IGroupCommand;

    /// <summary>Sets (or clears with null) the program run on Transferred / Error (BITS <c>SetNotifyCmdLine</c>).
    /// E_INVALIDARG: a relative program path; BG_E_STRING_TOO_LONG: parameters over 4,000 characters.</summary>
    public sealed record SetNotifyCmdLine(Guid GroupId, string Caller, Guid JobId, NotifyCommandLine? CommandLine) : IGroupCommand;

    /// <summary>Sets the job's proxy settings (BITS <c>SetProxySettings</c>). E_INVALIDARG: lists with a usage other than
    /// Override, Override without a proxy list, an unparsable proxy, a list over 4,000 characters.</summary>
    public sealed record SetJobProxy(Guid GroupId, string Caller, Guid JobId, ProxySettings Proxy) : IGroupCommand;

    /// <summary>Sets custom request headers as ciphertext, or clears them with null (<c>IBackgroundCopyJobHttpOptions::SetCustomHeaders</c>).</summary>
    public sealed record SetJobCustomHeaders(Guid GroupId, string Caller, Guid JobId, string? Protected) : IGroupCommand;

    /// <summary>Sets the job's client certificate selection, or removes it with null
    /// (<c>IBackgroundCopyJobHttpOptions::SetClientCertificateByID</c> / <c>ByName</c> / <c>RemoveClientCertificate</c>).
    /// E_NOTIMPL: an undefined store location; BG_E_STRING_TOO_LONG: a store name over 255 characters; E_INVALIDARG: an
    /// empty store name, a thumbprint that is not 40 hex digits, an empty subject, or both or neither of them.</summary>
    public sealed record SetJobClientCertificate(Guid GroupId, string Caller, Guid JobId, Transport.ClientCertificate? Certificate) : IGroupCommand;

    /// <summary>
    /// Cancels the group (BITS 1.0 <c>IBackgroundCopyGroup::CancelGroup</c>, modern semantics of Decision 9 for its jobs):
    /// every unfinished job is cancelled (temp files and uncompleted results deleted), then the group is gone.
    /// </summary>
    public sealed record CancelGroup(Guid GroupId, string Caller) : IGroupCommand;

    /// <summary>
    /// Sets (ciphertext of <see cref="PlainCredentials"/>) or clears (null) the group's server credentials; every
    /// unfinished job and every later job of the group gets them as Basic server credentials (BITS 1.0
    /// GROUPPROP_REMOTEUSERID / _REMOTEUSERPWD, done better: encrypted, per group).
    /// </summary>
    public sealed record SetGroupCredentials(Guid GroupId, string Caller, string? Protected) : IGroupCommand;

    /// <summary>Sets the group's webhook (absolute http or https URL, at most 2,200 characters) and the ciphertext of
    /// its HMAC secret; both null clears it. E_INVALIDARG for a bad URL or only one of the two.</summary>
    public sealed record SetGroupWebhook(Guid GroupId, string Caller, string? Url, string? ProtectedSecret) : IGroupCommand;

    /// <summary>Creates a job in state Suspended (BITS T1). <paramref name="Priority"/> null = the group's priority (Decision 3).
    /// <paramref name="Type"/> is fixed for the job's life (BITS <c>CreateJob</c>'s BG_JOB_TYPE); E_INVALIDARG when undefined.</summary>
    public sealed record CreateJob(Guid GroupId, string Caller, Guid JobId, string DisplayName, JobPriority? Priority, JobOptions Options, JobType Type = JobType.Download) : IGroupCommand;

    /// <summary>
    /// Names the reply file of an upload-reply job (BITS <c>IBackgroundCopyJob2::SetReplyFileName</c>): an absolute path
    /// inside the allowed roots. E_NOTIMPL for other job types; BG_E_INVALID_STATE once the reply download started or
    /// the job is final; E_INVALIDARG / E_ACCESSDENIED for a bad path.
    /// </summary>
    public sealed record SetReplyFileName(Guid GroupId, string Caller, Guid JobId, string ReplyFileName) : IGroupCommand;

    /// <summary>A file to add: absolute http(s) URL, absolute local path whose directory exists, and optionally the
    /// file's expected SHA-256 (64 hex digits), checked before the file counts as transferred.</summary>
    public sealed record FileSpec(string RemoteName, string LocalName, string? Sha256 = null);

    /// <summary>Adds files to a job (<c>IBackgroundCopyJob::AddFileSet</c>); allowed in any non-final state.</summary>
    public sealed record AddFiles(Guid GroupId, string Caller, Guid JobId, ImmutableList<FileSpec> Files) : IGroupCommand;

    /// <summary>
    /// Adds one file fetched as byte ranges (BITS <c>IBackgroundCopyJob3::AddFileWithRanges</c>, bits-spec §2.10): the
    /// local file is the ranges' concatenation in the order given. Errors: E_INVALIDARG (no ranges, bad names),
    /// BG_E_INVALID_RANGE (offset BG_LENGTH_TO_EOF, length 0, or past 2^63), BG_E_OVERLAPPING_RANGES (after sorting by
    /// offset), BG_E_TOO_MANY_RANGES_IN_FILE (over <c>qmgr.limits.max-ranges-per-file</c>, unless
    /// <paramref name="Administrator"/>), BG_E_INVALID_STATE (a dynamic-content job), BG_E_TOO_MANY_FILES_IN_JOB.
    /// </summary>
    public sealed record AddFileWithRanges(Guid GroupId, string Caller, Guid JobId, FileSpec File, ImmutableList<FileRange> Ranges, bool Administrator = false) : IGroupCommand;

    /// <summary>
    /// Asks for byte ranges of file <paramref name="FileIndex"/> of an ON_DEMAND_MODE job to be fetched before anything
    /// else (BITS <c>IBackgroundCopyFile6::RequestFileRanges</c>); overlaps with present or earlier ranges are allowed.
    /// Does not change the job's state (Resume starts it). Errors: BG_E_RANDOM_ACCESS_NOT_SUPPORTED (not an on-demand
    /// job), E_INVALIDARG (no ranges, no such file), BG_E_INVALID_RANGE (offset BG_LENGTH_TO_EOF, length 0, or outside
    /// the file once its size is known), BG_E_INVALID_STATE (final job).
    /// </summary>
    public sealed record RequestFileRanges(Guid GroupId, string Caller, Guid JobId, int FileIndex, ImmutableList<FileRange> Ranges) : IGroupCommand;

    /// <summary>
    /// Moves the cursor from which the missing bytes of file <paramref name="FileIndex"/> are filled once no requested
    /// range is pending (BITS <c>IBackgroundCopyFile6::UpdateDownloadPosition</c>). Errors: BG_E_RANDOM_ACCESS_NOT_SUPPORTED
    /// (not an on-demand job), E_INVALIDARG (no such file), BG_E_INVALID_RANGE (negative, or at or past the end of a
    /// file of known size).
    /// </summary>
    public sealed record UpdateDownloadPosition(Guid GroupId, string Caller, Guid JobId, int FileIndex, long Offset) : IGroupCommand;

    /// <summary>Resume (BITS T2/T14/T16): BG_E_EMPTY without files; no-op in an active state.</summary>
    public sealed record ResumeJob(Guid GroupId, string Caller, Guid JobId) : IGroupCommand;

    /// <summary>Suspend (BITS T17): stops the transfer; no-op when already Suspended.</summary>
    public sealed record SuspendJob(Guid GroupId, string Caller, Guid JobId) : IGroupCommand;

    /// <summary>Cancel (BITS T19, modern semantics, Decision 9): deletes temp files and uncompleted results.</summary>
    public sealed record CancelJob(Guid GroupId, string Caller, Guid JobId) : IGroupCommand;

    /// <summary>Complete (BITS T20): renames transferred files into place; BG_S_PARTIAL_COMPLETE when some were not.</summary>
    public sealed record CompleteJob(Guid GroupId, string Caller, Guid JobId) : IGroupCommand;
}

/// <summary>Queries answered from the group's in-memory state, never persisted.</summary>
public static class GroupQueries
{
    /// <summary>
    /// Replies with the <see cref="GroupState"/>; also wakes the group. The group itself applies BITS per-owner
    /// visibility (Decision 11): a <paramref name="Caller"/> that is neither the owner nor an
    /// <paramref name="Administrator"/> gets the state of an unknown group (<c>Exists</c> false, so BG_E_NOT_FOUND),
    /// whoever sends the query. A null caller is the node itself (recovery, health checks) and sees the group.
    /// </summary>
    public sealed record GetGroup(Guid GroupId, string? Caller = null, bool Administrator = false) : IWithGroupId, IQmgrMessage;
}
