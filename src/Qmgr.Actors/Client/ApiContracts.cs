using System.Text.Json;
using System.Text.Json.Serialization;
using Qmgr.Jobs;
using Qmgr.Transport;

namespace Qmgr.Client;

// The REST API's wire contracts (/api/v1), shared by the service's endpoints and HttpQueueManager. They are their own
// records: no journal type, no ciphertext and no key material ever goes on the wire (credentials and custom headers
// are write-only). Enums travel as their names ("Normal", "Transferring"); sizes are bytes, rates bytes/s, durations
// whole seconds, times ISO 8601 UTC.

/// <summary>A group (BITS 1.0 <c>IBackgroundCopyGroup</c>) with its jobs. <see cref="State"/> is the most active state of
/// its jobs (Transferring > Connecting > Queued > TransientError > Error > Suspended > Transferred > Acknowledged >
/// Cancelled), or <c>Empty</c>. <see cref="BytesTotal"/> null while any size is unknown. <see cref="PendingDeliveries"/>:
/// webhook deliveries not yet answered with a 2xx. <see cref="Node"/>: the address of the cluster node running the group
/// when it was read (<c>akka.tcp://qmgr@host:port</c>), null when none did (<see cref="Api.IGroup.GetNodeAsync"/>).</summary>
public sealed record GroupResource(
    Guid Id,
    string DisplayName,
    string Description,
    string Owner,
    JobPriority Priority,
    long MaxBytesPerSecond,
    DateTimeOffset CreationTime,
    string State,
    long BytesTransferred,
    long? BytesTotal,
    string RemoteUserId,
    bool HasCredentials,
    string? WebhookUrl,
    int PendingDeliveries,
    IReadOnlyList<JobResource> Jobs,
    string? Node = null);

/// <summary>
/// A job (BITS <c>IBackgroundCopyJob</c>): state, priority, progress (bytes; <see cref="BytesTotal"/> null =
/// BG_SIZE_UNKNOWN), the error record, properties (durations in seconds) and its files. Secrets appear only as flags
/// and the (target, scheme) pairs set.
/// </summary>
public sealed record JobResource(
    Guid Id,
    Guid GroupId,
    string Owner,
    string DisplayName,
    string Description,
    JobType Type,
    JobState State,
    JobPriority Priority,
    NotifyFlags NotifyFlags,
    bool AutoComplete,
    bool Overwrite,
    bool StrictRangeSupport,
    long BytesTransferred,
    long? BytesTotal,
    int FilesTransferred,
    int FilesTotal,
    ErrorResource? Error,
    int ErrorCount,
    long MinimumRetryDelaySeconds,
    long NoProgressTimeoutSeconds,
    long MaximumDownloadTimeSeconds,
    DateTimeOffset CreationTime,
    DateTimeOffset ModificationTime,
    DateTimeOffset? TransferCompletionTime,
    DateTimeOffset? RetryDueAt,
    string? HttpMethod,
    bool HasCustomHeaders,
    bool CustomHeadersWriteOnly,
    IReadOnlyList<CredentialsKey> Credentials,
    IReadOnlyList<FileResource> Files,
    ReplyResource? Reply = null);

/// <summary>The reply of an upload-reply job (BITS GetReplyFileName / GetReplyProgress): <see cref="BytesTotal"/> null
/// (BG_SIZE_UNKNOWN) until the reply download starts.</summary>
public sealed record ReplyResource(string? FileName, long? BytesTotal, long BytesTransferred);

/// <summary>PUT /api/v1/jobs/{jobId}/reply-file-name (BITS SetReplyFileName): an absolute path in the allowed roots.</summary>
public sealed record ReplyFileNameRequest(string FileName);

/// <summary>One file of a job (BITS <c>BG_FILE_INFO</c> + <c>BG_FILE_PROGRESS</c>); <see cref="Index"/> zero-based in the order added.</summary>
public sealed record FileResource(
    int Index,
    string RemoteName,
    string LocalName,
    string TempName,
    long? BytesTotal,
    long BytesTransferred,
    bool Transferred,
    bool Completed,
    string? ExpectedSha256,
    IReadOnlyList<FileRange>? Ranges);

/// <summary>The error record (BITS <c>IBackgroundCopyError</c>): context, HRESULT (also as <c>0x8XXXXXXX</c> text), HTTP
/// status, a one-line message, the file it is about.</summary>
public sealed record ErrorResource(ErrorContext Context, string ContextDescription, int HResult, string Code, int? HttpStatus, string Message, int? FileIndex);

/// <summary>A (target, scheme) pair a job has credentials for; the user name and password are never returned.</summary>
public sealed record CredentialsKey(AuthTarget Target, AuthScheme Scheme);

/// <summary>Who the token acts for: its owner and whether it is an administrator (sees every owner's groups).</summary>
public sealed record CallerResource(string Owner, bool IsAdministrator);

/// <summary>POST /api/v1/groups. <see cref="MaxBytesPerSecond"/>: bytes/s, 0 = no cap. <see cref="Id"/>: chosen by the
/// caller (idempotent retries), else new.</summary>
public sealed record CreateGroupRequest(string DisplayName, JobPriority? Priority = null, long? MaxBytesPerSecond = null, Guid? Id = null);

/// <summary>POST /api/v1/groups/{groupId}/jobs: a job in Suspended (BITS CreateJob). <see cref="Priority"/> null = the group's.</summary>
public sealed record CreateJobRequest(
    string DisplayName,
    JobType? Type = null,
    JobPriority? Priority = null,
    bool? AutoComplete = null,
    bool? Overwrite = null,
    bool? StrictRangeSupport = null,
    Guid? Id = null);

/// <summary>One file to add: absolute http(s) URL → absolute local path; optional expected SHA-256 (64 hex digits);
/// optional byte ranges (BITS AddFileWithRanges: then the request must hold exactly this one file).</summary>
public sealed record AddFileRequest(string RemoteName, string LocalName, string? Sha256 = null, IReadOnlyList<FileRange>? Ranges = null);

/// <summary>POST /api/v1/jobs/{jobId}/files (BITS AddFileSet: all or none).</summary>
public sealed record AddFilesRequest(IReadOnlyList<AddFileRequest> Files);

/// <summary>PUT …/properties/{name}: the value as invariant text (durations in whole seconds, flags as a decimal number).</summary>
public sealed record SetPropertyRequest(string Value);

/// <summary>PUT /api/v1/groups/{groupId}/credentials (Basic; both null clears). Write-only.</summary>
public sealed record GroupCredentialsRequest(string? UserName, string? Password);

/// <summary>PUT /api/v1/jobs/{jobId}/credentials (BITS SetCredentials). Write-only.</summary>
public sealed record JobCredentialsRequest(AuthTarget Target, AuthScheme Scheme, string UserName, string Password);

/// <summary>PUT /api/v1/groups/{groupId}/webhook: where notifications go; <see cref="Secret"/> null = a new random one.</summary>
public sealed record WebhookRequest(string Url, string? Secret = null);

/// <summary>The answer of PUT …/webhook: the URL and the HMAC secret, shown this once.</summary>
public sealed record WebhookResponse(string Url, string Secret);

/// <summary>PUT /api/v1/jobs/{jobId}/custom-headers: CRLF-separated header lines, null clears (BITS SetCustomHeaders). Write-only
/// once made so; never logged.</summary>
public sealed record CustomHeadersRequest(string? Headers);

/// <summary>PUT /api/v1/jobs/{jobId}/files/{index}/remote-name (BITS SetRemoteName).</summary>
public sealed record RemoteNameRequest(string RemoteName);

/// <summary>The answer of Complete: S_OK (0) or BG_S_PARTIAL_COMPLETE (0x00200017) when some files were not transferred.</summary>
public sealed record CompleteResponse([property: JsonPropertyName("hresult")] int HResult, bool Partial);

/// <summary>
/// One server-sent event of GET /api/v1/events: <see cref="Kind"/> is <c>state</c> (with <see cref="From"/> / <see cref="To"/>),
/// <c>progress</c>, <c>modified</c> (with <see cref="Property"/>), <c>file-transferred</c> (with <see cref="FileIndex"/>) or
/// <c>ranges-transferred</c>; <see cref="Job"/> is the job as persisted at that moment. Progress is throttled per job to
/// the minimum notification interval; state changes are never dropped.
/// </summary>
public sealed record JobEvent(string Kind, Guid GroupId, JobResource Job, JobState? From = null, JobState? To = null, int? FileIndex = null, string? Property = null);

/// <summary>The JSON options of the wire: camelCase names, enums as names (read case-insensitively), no nulls written.</summary>
public static class ApiJson
{
    /// <summary>Shared, frozen options (System.Text.Json web defaults + string enums).</summary>
    public static readonly JsonSerializerOptions Options = Create();

    /// <summary>Applies the wire settings to <paramref name="options"/> (ASP.NET Core's own instance on the server).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.PropertyNameCaseInsensitive = true;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.Converters.Add(new JsonStringEnumConverter());
        return options;
    }

    private static JsonSerializerOptions Create()
    {
        var options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
