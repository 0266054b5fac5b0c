using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Transport;

namespace Qmgr.Client;

/// <summary>
/// <see cref="IQueueManager"/> over a running Qmgr service's REST API (<c>/api/v1</c>, bearer token): a .NET program
/// uses a service without joining its cluster, and the CLI uses it whenever a service holds the data directory. The
/// same rules apply as in process, because the service answers through its own <see cref="IQueueManager"/>: refusals
/// throw <see cref="QmgrException"/> with the BITS HRESULT from the problem-details body. No Akka here.
/// Callbacks (<see cref="IJob.SetNotifyInterfaceAsync"/>) run in this process, driven by the job's event stream. Not
/// available over HTTP (E_NOTIMPL, message says so): certificate validation callbacks (they run inside the TLS handshake
/// on the transferring node), client certificates, on-demand ranges, proxy settings, notify command lines and Job5
/// property reads.
/// </summary>
public sealed class HttpQueueManager : IQueueManager, IDisposable
{
    /// <summary>HRESULT_FROM_WIN32(ERROR_CONNECTION_REFUSED): no service answers at the address (the CLI's exit 3).</summary>
    public const int ServiceUnavailable = unchecked((int)0x800704C9);

    private readonly HttpClient _http;
    private readonly bool _ownsClient;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, (IJobCallback Callback, CancellationTokenSource Stop)> _callbacks = new();
    private readonly string? _actAs;

    private HttpQueueManager(HttpClient http, bool ownsClient, CallerResource caller, string? actAs)
    {
        _http = http;
        _ownsClient = ownsClient;
        Caller = caller.Owner;
        IsAdministrator = caller.IsAdministrator;
        _actAs = actAs;
    }

    /// <summary>
    /// A client of the service at <paramref name="baseAddress"/> (e.g. <c>http://127.0.0.1:5580</c>) with bearer
    /// <paramref name="token"/>; asks the service who the token acts for (GET /api/v1/me), so a wrong token or an absent
    /// service fails here: E_ACCESSDENIED (401), or <see cref="ServiceUnavailable"/>.
    /// </summary>
    public static async Task<HttpQueueManager> ConnectAsync(Uri baseAddress, string? token, HttpMessageHandler? handler = null, CancellationToken cancellationToken = default)
    {
        var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.BaseAddress = baseAddress;
        http.Timeout = Timeout.InfiniteTimeSpan; // event streams stay open; each call passes its own cancellation
        if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        try
        {
            var me = await new HttpQueueManager(http, false, new CallerResource("", false), null).WhoAmIAsync(cancellationToken);
            return new HttpQueueManager(http, ownsClient: true, me, null);
        }
        catch
        {
            http.Dispose();
            throw;
        }
    }

    /// <summary>Who the token acts for (GET /api/v1/me).</summary>
    public Task<CallerResource> WhoAmIAsync(CancellationToken cancellationToken = default) =>
        SendAsync<CallerResource>(HttpMethod.Get, "api/v1/me", null, cancellationToken);

    /// <summary>This client, checked to act for an administrator (sees every owner's groups); E_ACCESSDENIED otherwise.</summary>
    public IQueueManager AsAdministrator() => IsAdministrator ? this
        : throw new QmgrException(HResults.E_ACCESSDENIED, $"the token acts for {Caller}, who is not an administrator");

    public string Caller { get; }
    public bool IsAdministrator { get; }

    /// <summary>
    /// Another caller, named in the header <c>X-Qmgr-Caller</c>, which acts without administrator rights: the token's own
    /// owner as a plain user (any token), or another owner (an administrator token; the service answers E_ACCESSDENIED
    /// otherwise). Administrator rights come only from the token itself: asking for them for another caller is E_ACCESSDENIED.
    /// </summary>
    public IQueueManager ForCaller(string caller, bool isAdministrator = false)
    {
        if (caller == Caller && isAdministrator == IsAdministrator && _actAs is null) return this;
        if (isAdministrator) throw new QmgrException(HResults.E_ACCESSDENIED, "administrator rights over HTTP come from an administrator token, not from ForCaller");
        return new HttpQueueManager(_http, false, new CallerResource(caller, false), caller);
    }

    public async Task<IGroup> CreateGroupAsync(string displayName, JobPriority priority = JobPriority.Normal, long maxBytesPerSecond = 0, Guid? groupId = null, CancellationToken cancellationToken = default)
    {
        var g = await SendAsync<GroupResource>(HttpMethod.Post, "api/v1/groups", new CreateGroupRequest(displayName, priority, maxBytesPerSecond, groupId), cancellationToken);
        return new Group(this, g.Id);
    }

    public async Task<IGroup> GetGroupAsync(Guid groupId, CancellationToken cancellationToken = default)
    {
        var g = await SendAsync<GroupResource>(HttpMethod.Get, $"api/v1/groups/{groupId:D}", null, cancellationToken);
        return new Group(this, g.Id);
    }

    public async Task<IReadOnlyList<IGroup>> EnumGroupsAsync(CancellationToken cancellationToken = default) =>
        (await SendAsync<List<GroupResource>>(HttpMethod.Get, "api/v1/groups", null, cancellationToken)).Select(g => (IGroup)new Group(this, g.Id)).ToList();

    public async Task<IJob> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        var j = await SendAsync<JobResource>(HttpMethod.Get, $"api/v1/jobs/{jobId:D}", null, cancellationToken);
        return new JobClient(this, j.GroupId, j.Id, j.Owner);
    }

    /// <summary>Every job of the caller's groups (GET /api/v1/jobs); final ones too with <paramref name="includeFinal"/>.</summary>
    public Task<List<JobResource>> ListJobsAsync(bool includeFinal, CancellationToken cancellationToken = default) =>
        SendAsync<List<JobResource>>(HttpMethod.Get, $"api/v1/jobs?includeFinal={(includeFinal ? "true" : "false")}", null, cancellationToken);

    /// <summary>The caller's notifications as the service streams them (GET /api/v1/events; one stream per subscription).</summary>
    public IObservable<QmgrNotification> Notifications => new EventObservable(this, null);

    /// <summary>
    /// The event stream (GET /api/v1/events?group=&amp;job=): state changes in order, progress at most every minimum
    /// notification interval per job. With a <paramref name="jobId"/>, the first event is a <c>snapshot</c> of the job.
    /// Ends when <paramref name="cancellationToken"/> is cancelled or the service stops.
    /// </summary>
    public async IAsyncEnumerable<JobEvent> EventsAsync(Guid? groupId = null, Guid? jobId = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var query = string.Join('&', new[] { groupId is { } g ? $"group={g:D}" : null, jobId is { } j ? $"job={j:D}" : null }.Where(q => q is not null));
        using var request = Request(HttpMethod.Get, "api/v1/events" + (query.Length > 0 ? "?" + query : ""), null);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await SendRawAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken))
        {
            var e = JsonSerializer.Deserialize<JobEvent>(item.Data, ApiJson.Options);
            if (e is not null) yield return e;
        }
    }

    public void Dispose()
    {
        foreach (var (_, stop) in _callbacks.Values) stop.Cancel();
        _callbacks.Clear();
        if (_ownsClient) _http.Dispose();
    }

    /// <summary>BITS SetNotifyInterface over HTTP: the job's event stream drives <paramref name="callback"/> (routed by
    /// the job's notify flags, as in process); the first event, a snapshot, replays Transferred / Error.</summary>
    private void SetCallback(IJob handle, IJobCallback? callback)
    {
        if (_callbacks.TryRemove(handle.Id, out var old)) old.Stop.Cancel();
        if (callback is null) return;
        var stop = new CancellationTokenSource();
        _callbacks[handle.Id] = (callback, stop);
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in EventsAsync(jobId: handle.Id, cancellationToken: stop.Token))
                {
                    if (e.Kind == "snapshot") await CallbackDispatcher.ReplayAsync(handle, callback, e.Job.ToJob());
                    else if (EventObservable.ToNotification(e) is { } n) await CallbackDispatcher.RouteAsync(handle, callback, n);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
            catch (Exception) { /* the service went away: BITS drops a callback whose process is gone too */ }
        });
    }

    private HttpRequestMessage Request(HttpMethod method, string path, object? body)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body, body.GetType(), options: ApiJson.Options);
        if (_actAs is not null) request.Headers.Add("X-Qmgr-Caller", _actAs);
        return request;
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new QmgrException(ServiceUnavailable, $"no qmgr service answers at {_http.BaseAddress} ({ex.Message}): start one with `qmgr serve`");
        }
        if (response.IsSuccessStatusCode) return response;
        using (response) throw await ProblemAsync(response, ct);
    }

    internal async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = Request(method, path, body);
        using var response = await SendRawAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        return await response.Content.ReadFromJsonAsync<T>(ApiJson.Options, ct)
            ?? throw new QmgrException(HResults.E_FAIL, $"{method} {path}: empty answer");
    }

    internal async Task SendAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = Request(method, path, body);
        using var response = await SendRawAsync(request, HttpCompletionOption.ResponseContentRead, ct);
    }

    /// <summary>The problem-details body (RFC 9457) as a <see cref="QmgrException"/>: its <c>hresult</c> extension and detail.</summary>
    private static async Task<QmgrException> ProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            var hresult = root.TryGetProperty("hresult", out var h) && h.TryGetInt32(out var v) ? v : HResultOf(response.StatusCode);
            var detail = root.TryGetProperty("detail", out var d) ? d.GetString() : root.TryGetProperty("title", out var t) ? t.GetString() : null;
            return new QmgrException(hresult, detail ?? $"HTTP {(int)response.StatusCode}");
        }
        catch (JsonException)
        {
            return new QmgrException(HResultOf(response.StatusCode), $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}: {text.Split('\n')[0]}");
        }
    }

    private static int HResultOf(HttpStatusCode status) => status switch
    {
        HttpStatusCode.NotFound => HResults.BG_E_NOT_FOUND,
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => HResults.E_ACCESSDENIED,
        HttpStatusCode.BadRequest => HResults.E_INVALIDARG,
        _ => HResults.E_FAIL,
    };

    private static QmgrException NotOverHttp(string member) =>
        new(HResults.E_NOTIMPL, $"{member} is not available through the service API (use the embedded queue manager on the service's node)");

    private sealed class Group(HttpQueueManager qm, Guid id) : IGroup
    {
        private string Path => $"api/v1/groups/{id:D}";

        public Guid Id => id;

        public async Task<GroupState> GetStateAsync(CancellationToken cancellationToken = default) =>
            (await qm.SendAsync<GroupResource>(HttpMethod.Get, Path, null, cancellationToken)).ToState();

        public async Task<string?> GetNodeAsync(CancellationToken cancellationToken = default) =>
            (await qm.SendAsync<GroupResource>(HttpMethod.Get, Path, null, cancellationToken)).Node;

        public Task SetPropertyAsync(GroupProperty property, string value, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Put, $"{Path}/properties/{property}", new SetPropertyRequest(value), cancellationToken);

        public Task SetCredentialsAsync(string? userName, string? password, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Put, $"{Path}/credentials", new GroupCredentialsRequest(userName, password), cancellationToken);

        public async Task<string?> SetWebhookAsync(string? url, string? secret = null, CancellationToken cancellationToken = default)
        {
            if (url is null)
            {
                await qm.SendAsync(HttpMethod.Delete, $"{Path}/webhook", null, cancellationToken);
                return null;
            }
            return (await qm.SendAsync<WebhookResponse>(HttpMethod.Put, $"{Path}/webhook", new WebhookRequest(url, secret), cancellationToken)).Secret;
        }

        public Task TakeOwnershipAsync(CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Post, $"{Path}/take-ownership", null, cancellationToken);

        public Task CancelAsync(CancellationToken cancellationToken = default) => qm.SendAsync(HttpMethod.Delete, Path, null, cancellationToken);

        public Task<IJob> CreateJobAsync(string displayName, JobOptions? options = null, JobPriority? priority = null, Guid? jobId = null, CancellationToken cancellationToken = default) =>
            CreateJobAsync(displayName, JobType.Download, options, priority, jobId, cancellationToken);

        public async Task<IJob> CreateJobAsync(string displayName, JobType type, JobOptions? options = null, JobPriority? priority = null, Guid? jobId = null, CancellationToken cancellationToken = default)
        {
            var o = options ?? JobOptions.Default;
            var j = await qm.SendAsync<JobResource>(HttpMethod.Post, $"{Path}/jobs",
                new CreateJobRequest(displayName, type, priority, o.AutoComplete, o.Overwrite, o.StrictRangeSupport, jobId), cancellationToken);
            return new JobClient(qm, id, j.Id, j.Owner);
        }

        public async Task<IJob> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default)
        {
            var state = await GetStateAsync(cancellationToken);
            return state.FindJob(jobId) is not null ? new JobClient(qm, id, jobId, state.Owner) : throw new QmgrException(HResults.BG_E_NOT_FOUND, $"no job {jobId:D} in group {id:D}");
        }

        public async Task<IReadOnlyList<IJob>> EnumJobsAsync(CancellationToken cancellationToken = default) =>
            (await qm.SendAsync<List<JobResource>>(HttpMethod.Get, $"{Path}/jobs", null, cancellationToken)).Select(j => (IJob)new JobClient(qm, id, j.Id, j.Owner)).ToList();
    }

    private sealed class JobClient(HttpQueueManager qm, Guid groupId, Guid jobId, string owner) : IJob
    {
        private string Path => $"api/v1/jobs/{jobId:D}";

        public Guid Id => jobId;
        public Guid GroupId => groupId;
        public string Owner => owner;

        public async Task<Job> GetAsync(CancellationToken cancellationToken = default) =>
            (await qm.SendAsync<JobResource>(HttpMethod.Get, Path, null, cancellationToken)).ToJob();

        public Task AddFilesAsync(IEnumerable<(string RemoteName, string LocalName)> files, CancellationToken cancellationToken = default) =>
            AddFilesAsync(files.Select(f => new GroupCommands.FileSpec(f.RemoteName, f.LocalName)).ToList(), cancellationToken);

        public Task AddFilesAsync(IReadOnlyList<GroupCommands.FileSpec> files, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Post, $"{Path}/files", new AddFilesRequest(files.Select(f => new AddFileRequest(f.RemoteName, f.LocalName, f.Sha256)).ToList()), cancellationToken);

        public Task ResumeAsync(CancellationToken cancellationToken = default) => qm.SendAsync(HttpMethod.Post, $"{Path}/resume", null, cancellationToken);
        public Task SuspendAsync(CancellationToken cancellationToken = default) => qm.SendAsync(HttpMethod.Post, $"{Path}/suspend", null, cancellationToken);
        public Task CancelAsync(CancellationToken cancellationToken = default) => qm.SendAsync(HttpMethod.Post, $"{Path}/cancel", null, cancellationToken);

        public async Task<int> CompleteAsync(CancellationToken cancellationToken = default) =>
            (await qm.SendAsync<CompleteResponse>(HttpMethod.Post, $"{Path}/complete", null, cancellationToken)).HResult;

        public Task SetPropertyAsync(JobProperty property, string value, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Put, $"{Path}/properties/{property}", new SetPropertyRequest(value), cancellationToken);

        public Task SetPropertyAsync(BitsJobPropertyId id, BitsJobPropertyValue value, CancellationToken cancellationToken = default) =>
            BitsJobProperties.PropertyOf(id) is { } property
                ? SetPropertyAsync(property, BitsJobProperties.TextOf(id, value), cancellationToken)
                : throw new QmgrException(HResults.BG_E_UNKNOWN_PROPERTY_ID, $"undefined BITS_JOB_PROPERTY_ID {(int)id}");

        public Task<BitsJobPropertyValue> GetPropertyAsync(BitsJobPropertyId id, CancellationToken cancellationToken = default) => throw NotOverHttp("GetProperty (Job5)");

        public Task AddFileWithRangesAsync(string remoteName, string localName, IReadOnlyList<FileRange> ranges, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Post, $"{Path}/files", new AddFilesRequest([new AddFileRequest(remoteName, localName, null, ranges)]), cancellationToken);

        public Task RequestFileRangesAsync(int fileIndex, IReadOnlyList<FileRange> ranges, CancellationToken cancellationToken = default) => throw NotOverHttp("RequestFileRanges");
        public Task UpdateDownloadPositionAsync(int fileIndex, long offset, CancellationToken cancellationToken = default) => throw NotOverHttp("UpdateDownloadPosition");
        public Task<IReadOnlyList<FileRange>> GetFilledFileRangesAsync(int fileIndex, CancellationToken cancellationToken = default) => throw NotOverHttp("GetFilledFileRanges");

        public Task SetCredentialsAsync(AuthTarget target, AuthScheme scheme, string userName, string password, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Put, $"{Path}/credentials", new JobCredentialsRequest(target, scheme, userName, password), cancellationToken);

        public Task RemoveCredentialsAsync(AuthTarget target, AuthScheme scheme, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Delete, $"{Path}/credentials/{target}/{scheme}", null, cancellationToken);

        public Task SetRemoteNameAsync(int fileIndex, string remoteName, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Put, $"{Path}/files/{fileIndex}/remote-name", new RemoteNameRequest(remoteName), cancellationToken);

        public Task<bool> ReplaceRemotePrefixAsync(string oldPrefix, string newPrefix, CancellationToken cancellationToken = default) => throw NotOverHttp("ReplaceRemotePrefix");
        public Task SetNotifyCmdLineAsync(NotifyCommandLine? commandLine, CancellationToken cancellationToken = default) => throw NotOverHttp("SetNotifyCmdLine");
        public Task SetProxySettingsAsync(ProxySettings proxy, CancellationToken cancellationToken = default) => throw NotOverHttp("SetProxySettings");

        public Task SetCustomHeadersAsync(string? headers, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Put, $"{Path}/custom-headers", new CustomHeadersRequest(headers), cancellationToken);

        public Task SetClientCertificateByIdAsync(CertStoreLocation location, string storeName, byte[] certificateHash, CancellationToken cancellationToken = default) => throw NotOverHttp("SetClientCertificateByID");
        public Task SetClientCertificateByNameAsync(CertStoreLocation location, string storeName, string subjectName, CancellationToken cancellationToken = default) => throw NotOverHttp("SetClientCertificateByName");
        public Task<bool> RemoveClientCertificateAsync(CancellationToken cancellationToken = default) => throw NotOverHttp("RemoveClientCertificate");
        public Task<ClientCertificate?> GetClientCertificateAsync(CancellationToken cancellationToken = default) => throw NotOverHttp("GetClientCertificate");
        public Task SetNotifyInterfaceAsync(IJobCallback? callback, CancellationToken cancellationToken = default)
        {
            qm.SetCallback(this, callback);
            return Task.CompletedTask;
        }
        public Task SetReplyFileNameAsync(string replyFileName, CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Put, $"{Path}/reply-file-name", new ReplyFileNameRequest(replyFileName), cancellationToken);

        private async Task<Job> UploadReplyJobAsync(CancellationToken ct) => ReplyProgress.RequireUploadReply(await GetAsync(ct));

        public async Task<string?> GetReplyFileNameAsync(CancellationToken cancellationToken = default) =>
            (await UploadReplyJobAsync(cancellationToken)).Reply?.FileName;

        public async Task<ReplyProgress> GetReplyProgressAsync(CancellationToken cancellationToken = default) =>
            ReplyProgress.Of(await GetAsync(cancellationToken));

        public async Task<byte[]> GetReplyDataAsync(CancellationToken cancellationToken = default)
        {
            using var request = qm.Request(HttpMethod.Get, $"{Path}/reply", null);
            using var response = await qm.SendRawAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            return await response.Content.ReadAsByteArrayAsync(cancellationToken);
        }
        public IJobCallback? GetNotifyInterface() => qm._callbacks.TryGetValue(jobId, out var c) ? c.Callback : null;

        public Task SetHttpMethodAsync(string method, CancellationToken cancellationToken = default) =>
            SetPropertyAsync(JobProperty.HttpMethod, method, cancellationToken);

        public async Task<string> GetHttpMethodAsync(CancellationToken cancellationToken = default) =>
            (await GetAsync(cancellationToken)).HttpMethod ?? GroupDecisions.DefaultHttpMethod;

        public Task SetServerCertificateValidationInterfaceAsync(IServerCertificateValidationCallback? callback, CancellationToken cancellationToken = default) =>
            throw NotOverHttp("SetServerCertificateValidationInterface");

        public Task MakeCustomHeadersWriteOnlyAsync(CancellationToken cancellationToken = default) =>
            qm.SendAsync(HttpMethod.Post, $"{Path}/custom-headers/write-only", null, cancellationToken);

        public Task<string?> GetCustomHeadersAsync(CancellationToken cancellationToken = default) =>
            throw new QmgrException(HResults.E_ACCESSDENIED, "custom headers are write-only on the service API");

        public Task<string?> GetFilePropertyAsync(int fileIndex, BitsFilePropertyId id, CancellationToken cancellationToken = default) => throw NotOverHttp("File5 GetProperty");
        public Task SetFilePropertyAsync(int fileIndex, BitsFilePropertyId id, string? value, CancellationToken cancellationToken = default) => throw NotOverHttp("File5 SetProperty");

        public async Task<BackgroundCopyError> GetErrorAsync(CancellationToken cancellationToken = default) => new(await GetAsync(cancellationToken));

        public async Task<Job> WaitAsync(Func<Job, bool> condition, CancellationToken cancellationToken = default)
        {
            // pushed: the stream's first event is the job as it is now, then every change
            await foreach (var e in qm.EventsAsync(jobId: jobId, cancellationToken: cancellationToken))
            {
                var job = e.Job.ToJob();
                if (condition(job)) return job;
            }
            cancellationToken.ThrowIfCancellationRequested();
            throw new QmgrException(ServiceUnavailable, $"the service closed the event stream of job {jobId:D}");
        }
    }

    /// <summary>Each subscription reads its own event stream until disposed.</summary>
    private sealed class EventObservable(HttpQueueManager qm, Guid? groupId) : IObservable<QmgrNotification>
    {
        public IDisposable Subscribe(IObserver<QmgrNotification> observer)
        {
            var stop = new CancellationTokenSource();
            _ = Task.Run(async () =>
            {
                try
                {
                    await foreach (var e in qm.EventsAsync(groupId, null, stop.Token))
                        if (ToNotification(e) is { } n) observer.OnNext(n);
                    observer.OnCompleted();
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
                catch (Exception ex) { observer.OnError(ex); }
            });
            return stop;
        }

        public static QmgrNotification? ToNotification(JobEvent e)
        {
            var job = e.Job.ToJob();
            return e.Kind switch
            {
                "state" => new QmgrNotification.StateChanged(e.GroupId, e.Job.Owner, job, e.From ?? job.State, e.To ?? job.State, ""),
                "progress" => new QmgrNotification.Progress(e.GroupId, e.Job.Owner, job),
                "modified" => new QmgrNotification.Modified(e.GroupId, e.Job.Owner, job, Enum.TryParse<JobProperty>(e.Property, out var p) ? p : JobProperty.DisplayName),
                "file-transferred" => new QmgrNotification.FileTransferred(e.GroupId, e.Job.Owner, job, e.FileIndex ?? 0),
                _ => null,
            };
        }
    }
}
