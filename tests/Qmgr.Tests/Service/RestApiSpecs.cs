using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Qmgr.Client;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Service;

/// <summary>
/// The REST API as a script or another program sees it: every verb over raw HTTP against a running service (real
/// Kestrel, real SQLite, loopback file server), its security rules, and its RFC 9457 problems.
/// </summary>
public sealed class RestApiSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _files = null!;
    private ServiceNode _service = null!;
    private HttpClient _alice = null!;
    private HttpClient _bob = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _files = await LoopbackFileServer.StartAsync();
        Directory.CreateDirectory(_dir.File("allowed"));
        _service = await ServiceNode.StartAsync(_dir.File("data"), $"qmgr.paths.allowed-roots = [\"{_dir.File("allowed")}\"]\n");
        _alice = _service.Http(ServiceNode.AliceToken);
        _bob = _service.Http(ServiceNode.BobToken);
        _admin = _service.Http(_service.AdminToken);
    }

    public async Task DisposeAsync()
    {
        foreach (var http in new[] { _alice, _bob, _admin }) http.Dispose();
        await _service.DisposeAsync();
        await _files.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();

    private string Allowed(string name) => Path.Combine(_dir.File("allowed"), name);

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response)
    {
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<T>(ApiJson.Options))!;
    }

    private static async Task NoContentAsync(Task<HttpResponseMessage> call)
    {
        using var response = await call;
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task A_group_resource_names_the_node_running_the_group()
    {
        // arrange
        var (group, _) = await NewJobAsync(_alice, "located");
        var node = Akka.Cluster.Cluster.Get(_service.System).SelfAddress.ToString();

        // act
        using var read = JsonDocument.Parse(await _alice.GetStringAsync($"api/v1/groups/{group.Id}"));
        var listed = await ReadAsync<List<GroupResource>>(await _alice.GetAsync("api/v1/groups"));

        // assert: the service's own node (a cluster of one), in the created, read and listed resource
        Assert.StartsWith("akka.tcp://qmgr@127.0.0.1:", node);
        Assert.Equal(node, group.Node);
        Assert.Equal(node, read.RootElement.GetProperty("node").GetString());
        Assert.Equal(node, listed.Single().Node);
    }

    /// <summary>Asserts a problem answer: status, the BITS code extension, and a detail containing <paramref name="detailPart"/>.</summary>
    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, int hresult, string? detailPart = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal(hresult, problem.GetProperty("hresult").GetInt32());
        Assert.Equal($"0x{hresult:X8}", problem.GetProperty("code").GetString());
        Assert.Equal("GeneralQueueManager", problem.GetProperty("errorContext").GetString());
        if (detailPart is not null) Assert.Contains(detailPart, problem.GetProperty("detail").GetString());
        return problem;
    }

    private async Task<(GroupResource Group, JobResource Job)> NewJobAsync(HttpClient http, string name, CreateJobRequest? job = null)
    {
        var group = await ReadAsync<GroupResource>(await http.PostAsJsonAsync("api/v1/groups", new CreateGroupRequest(name), ApiJson.Options));
        var created = await ReadAsync<JobResource>(await http.PostAsJsonAsync($"api/v1/groups/{group.Id}/jobs", job ?? new CreateJobRequest(name), ApiJson.Options));
        return (group, created);
    }

    private async Task<JobResource> WaitAsync(HttpClient http, Guid jobId, Func<JobResource, bool> condition)
    {
        using var qm = await HttpQueueManager.ConnectAsync(_service.BaseAddress, http.DefaultRequestHeaders.Authorization!.Parameter);
        await foreach (var e in qm.EventsAsync(jobId: jobId, cancellationToken: new CancellationTokenSource(Deadline).Token))
            if (condition(e.Job)) return e.Job;
        throw new TimeoutException("the event stream ended");
    }

    [Fact]
    public async Task Every_api_endpoint_answers_401_without_a_token_or_with_an_unknown_one_and_health_needs_none()
    {
        using var anonymous = _service.Http(null);
        using var wrong = _service.Http("not-a-token");
        foreach (var path in new[] { "api/v1/me", "api/v1/groups", "api/v1/jobs", $"api/v1/jobs/{Guid.NewGuid()}", "api/v1/events" })
        {
            var problem = await ProblemAsync(await anonymous.GetAsync(path), HttpStatusCode.Unauthorized, unchecked((int)0x80070005), "bearer token");
            await ProblemAsync(await wrong.GetAsync(path), HttpStatusCode.Unauthorized, unchecked((int)0x80070005), "unknown bearer token");
            Assert.Equal(401, problem.GetProperty("status").GetInt32());
        }
        await ProblemAsync(await anonymous.PostAsJsonAsync("api/v1/groups", new CreateGroupRequest("x"), ApiJson.Options), HttpStatusCode.Unauthorized, unchecked((int)0x80070005));

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("health/live")).StatusCode);
        Assert.Equal("Healthy", await anonymous.GetStringAsync("health/ready"));
        Assert.Empty(await ReadAsync<List<GroupResource>>(await _admin.GetAsync("api/v1/groups")));
    }

    [Fact]
    public async Task A_token_acts_for_its_owner_and_the_data_directory_token_is_the_administrator()
    {
        Assert.Equal(new CallerResource("alice", false), await ReadAsync<CallerResource>(await _alice.GetAsync("api/v1/me")));
        Assert.Equal(new CallerResource(Environment.UserName, true), await ReadAsync<CallerResource>(await _admin.GetAsync("api/v1/me")));
        // an administrator token may act as its own owner without administrator rights (the CLI does, so limits apply)
        using var asSelf = new HttpRequestMessage(HttpMethod.Get, "api/v1/me") { Headers = { { "X-Qmgr-Caller", Environment.UserName } } };
        Assert.Equal(new CallerResource(Environment.UserName, false), await ReadAsync<CallerResource>(await _admin.SendAsync(asSelf)));
        var tokenFile = ServiceEndpointFile("api-token");
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
    }

    private string ServiceEndpointFile(string name) => Path.Combine(_service.DataDir.Path, name);

    [Fact]
    public async Task Another_owners_group_and_job_are_404_for_every_verb_and_an_administrator_reaches_them()
    {
        var (group, job) = await NewJobAsync(_alice, "alice's");
        const int NotFound = unchecked((int)0x80200001);

        await ProblemAsync(await _bob.GetAsync($"api/v1/groups/{group.Id}"), HttpStatusCode.NotFound, NotFound);
        await ProblemAsync(await _bob.DeleteAsync($"api/v1/groups/{group.Id}"), HttpStatusCode.NotFound, NotFound);
        await ProblemAsync(await _bob.GetAsync($"api/v1/jobs/{job.Id}"), HttpStatusCode.NotFound, NotFound);
        await ProblemAsync(await _bob.PostAsync($"api/v1/jobs/{job.Id}/cancel", null), HttpStatusCode.NotFound, NotFound);
        await ProblemAsync(await _bob.PutAsJsonAsync($"api/v1/jobs/{job.Id}/properties/DisplayName", new SetPropertyRequest("mine"), ApiJson.Options), HttpStatusCode.NotFound, NotFound);
        await ProblemAsync(await _bob.GetAsync($"api/v1/events?job={job.Id}"), HttpStatusCode.NotFound, NotFound);
        Assert.Empty(await ReadAsync<List<GroupResource>>(await _bob.GetAsync("api/v1/groups")));

        // the administrator sees it, and may act for bob (who still cannot reach alice's group)
        Assert.Equal("alice", (await ReadAsync<JobResource>(await _admin.GetAsync($"api/v1/jobs/{job.Id}"))).Owner);
        using var asBob = new HttpRequestMessage(HttpMethod.Get, $"api/v1/groups/{group.Id}") { Headers = { { "X-Qmgr-Caller", "bob" } } };
        await ProblemAsync(await _admin.SendAsync(asBob), HttpStatusCode.NotFound, NotFound);
        using var bobAsAlice = new HttpRequestMessage(HttpMethod.Get, $"api/v1/groups/{group.Id}") { Headers = { { "X-Qmgr-Caller", "alice" } } };
        await ProblemAsync(await _bob.SendAsync(bobAsAlice), HttpStatusCode.Forbidden, unchecked((int)0x80070005), "administrator");

        Assert.Equal("alice's", (await ReadAsync<JobResource>(await _alice.GetAsync($"api/v1/jobs/{job.Id}"))).DisplayName);
    }

    [Fact]
    public async Task Bad_input_is_a_400_problem_naming_what_was_wrong_and_changes_nothing()
    {
        var (group, job) = await NewJobAsync(_alice, "bad input");
        const int InvalidArg = unchecked((int)0x80070057);
        var url = _files.Add("/ok.bin", LoopbackFileServer.Content(1000, 1)).AbsoluteUri;

        // a target outside qmgr.paths.allowed-roots
        await ProblemAsync(await _alice.PostAsJsonAsync($"api/v1/jobs/{job.Id}/files", new AddFilesRequest([new AddFileRequest(url, _dir.File("outside.bin"))]), ApiJson.Options),
            HttpStatusCode.BadRequest, unchecked((int)0x80070005), "outside.bin");
        // a relative path, an escaping one, a bad URL
        await ProblemAsync(await _alice.PostAsJsonAsync($"api/v1/jobs/{job.Id}/files", new AddFilesRequest([new AddFileRequest(url, "relative.bin")]), ApiJson.Options), HttpStatusCode.BadRequest, InvalidArg);
        await ProblemAsync(await _alice.PostAsJsonAsync($"api/v1/jobs/{job.Id}/files", new AddFilesRequest([new AddFileRequest(url, Allowed("../escape.bin"))]), ApiJson.Options), HttpStatusCode.BadRequest, unchecked((int)0x80070005));
        await ProblemAsync(await _alice.PostAsJsonAsync($"api/v1/jobs/{job.Id}/files", new AddFilesRequest([new AddFileRequest("ftp://host/x", Allowed("x.bin"))]), ApiJson.Options), HttpStatusCode.BadRequest, InvalidArg);
        // a malformed body, an unknown property, an id that is not a GUID, an undefined priority
        using var malformed = new StringContent("{\"displayName\": ", System.Text.Encoding.UTF8, "application/json");
        await ProblemAsync(await _alice.PostAsync("api/v1/groups", malformed), HttpStatusCode.BadRequest, InvalidArg, "malformed JSON body");
        using var empty = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        await ProblemAsync(await _alice.PostAsync("api/v1/groups", empty), HttpStatusCode.BadRequest, InvalidArg, "displayName is required");
        using var notJson = new StringContent("{\"displayName\": \"x\"}", System.Text.Encoding.UTF8, "text/plain");
        await ProblemAsync(await _alice.PostAsync("api/v1/groups", notJson), HttpStatusCode.UnsupportedMediaType, InvalidArg, "Content-Type: application/json");
        await ProblemAsync(await _alice.PutAsJsonAsync($"api/v1/jobs/{job.Id}/properties/Colour", new SetPropertyRequest("red"), ApiJson.Options), HttpStatusCode.BadRequest, InvalidArg, "unknown job property Colour");
        await ProblemAsync(await _alice.GetAsync("api/v1/groups/not-a-guid"), HttpStatusCode.BadRequest, InvalidArg, "not-a-guid");
        using var badPriority = new StringContent("{\"displayName\": \"x\", \"priority\": \"Urgent\"}", System.Text.Encoding.UTF8, "application/json");
        await ProblemAsync(await _alice.PostAsync($"api/v1/groups/{group.Id}/jobs", badPriority), HttpStatusCode.BadRequest, InvalidArg);
        // an oversize body
        using var huge = new StringContent(JsonSerializer.Serialize(new CreateGroupRequest(new string('x', 2_000_000))), System.Text.Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await _alice.PostAsync("api/v1/groups", huge)).StatusCode);

        var after = await ReadAsync<GroupResource>(await _alice.GetAsync($"api/v1/groups/{group.Id}"));
        Assert.Single(after.Jobs);
        Assert.Empty(after.Jobs[0].Files);
        Assert.Single(await ReadAsync<List<GroupResource>>(await _alice.GetAsync("api/v1/groups")));
        Assert.Empty(Directory.GetFiles(_dir.File("allowed")));
    }

    /// <summary>C48 of the fault corpus: 401 without a token; a target outside the caller's roots — directly, through
    /// "..", or through a symlink inside a root that points outside — is a 400 problem and nothing is written there.</summary>
    [Fact]
    public async Task C48_api_caller_cannot_write_outside_allowed_roots()
    {
        var (_, job) = await NewJobAsync(_alice, "c48");
        var url = _files.Add("/authorized_keys", System.Text.Encoding.ASCII.GetBytes("ssh-ed25519 AAAA attacker\n")).AbsoluteUri;
        var outside = Directory.CreateDirectory(_dir.File("home-ssh")).FullName;
        Directory.CreateSymbolicLink(Allowed("link"), outside);
        using var anonymous = _service.Http(null);

        await ProblemAsync(await anonymous.PostAsJsonAsync($"api/v1/jobs/{job.Id}/files", new AddFilesRequest([new AddFileRequest(url, Allowed("x"))]), ApiJson.Options),
            HttpStatusCode.Unauthorized, unchecked((int)0x80070005));
        foreach (var target in new[] { Path.Combine(outside, "authorized_keys"), Allowed("../home-ssh/authorized_keys"), Allowed("link/authorized_keys") })
            await ProblemAsync(await _alice.PostAsJsonAsync($"api/v1/jobs/{job.Id}/files", new AddFilesRequest([new AddFileRequest(url, target)]), ApiJson.Options),
                HttpStatusCode.BadRequest, unchecked((int)0x80070005));

        Assert.Empty((await ReadAsync<JobResource>(await _alice.GetAsync($"api/v1/jobs/{job.Id}"))).Files);
        Assert.Empty(Directory.GetFileSystemEntries(outside));
        Assert.Empty(_files.RequestsFor("/authorized_keys"));
    }

    [Fact]
    public async Task Create_add_files_resume_watch_and_complete_through_the_api()
    {
        var contents = Enumerable.Range(0, 3).Select(i => LoopbackFileServer.Content(30_000 + i, 20 + i)).ToArray();
        var (group, job) = await NewJobAsync(_alice, "three files");
        var files = contents.Select((c, i) => new AddFileRequest(_files.Add($"/api{i}.bin", c).AbsoluteUri, Allowed($"api{i}.bin"))).ToList();
        await NoContentAsync(_alice.PostAsJsonAsync($"api/v1/jobs/{job.Id}/files", new AddFilesRequest(files), ApiJson.Options));
        Assert.Equal(3, (await ReadAsync<List<FileResource>>(await _alice.GetAsync($"api/v1/jobs/{job.Id}/files"))).Count);

        // the event stream of the job: a snapshot first, then every state change in order
        using var qm = await HttpQueueManager.ConnectAsync(_service.BaseAddress, ServiceNode.AliceToken);
        var states = new List<JobState>();
        var events = Task.Run(async () =>
        {
            await foreach (var e in qm.EventsAsync(jobId: job.Id, cancellationToken: new CancellationTokenSource(Deadline).Token))
            {
                if (e.Kind == "snapshot") { states.Add(e.Job.State); await NoContentAsync(_alice.PostAsync($"api/v1/jobs/{job.Id}/resume", null)); }
                if (e.Kind == "state") states.Add(e.To!.Value);
                if (e.To == JobState.Transferred) return;
            }
        });
        await events.WaitAsync(Deadline);
        Assert.Equal([JobState.Suspended, JobState.Queued, JobState.Connecting, JobState.Transferring, JobState.Transferred], states);

        var completeText = await (await _alice.PostAsync($"api/v1/jobs/{job.Id}/complete", null)).Content.ReadAsStringAsync();
        Assert.Contains("\"hresult\":0", completeText);
        var complete = JsonSerializer.Deserialize<CompleteResponse>(completeText, ApiJson.Options)!;
        Assert.Equal(new CompleteResponse(0, false), complete);
        for (var i = 0; i < 3; i++) Assert.Equal(contents[i], File.ReadAllBytes(Allowed($"api{i}.bin")));
        var done = await ReadAsync<JobResource>(await _alice.GetAsync($"api/v1/jobs/{job.Id}"));
        Assert.Equal(JobState.Acknowledged, done.State);
        Assert.Empty(await ReadAsync<List<JobResource>>(await _alice.GetAsync($"api/v1/groups/{group.Id}/jobs")));
        Assert.Single(await ReadAsync<List<JobResource>>(await _alice.GetAsync("api/v1/jobs?includeFinal=true")));

        // the node's metrics, in the Prometheus text format, behind a token
        using var anonymous = _service.Http(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("metrics")).StatusCode);
        var metrics = await _admin.GetStringAsync("metrics");
        var bytes = metrics.Split('\n').Where(l => l.StartsWith("qmgr_transfer_bytes", StringComparison.Ordinal)).ToList();
        Assert.True(bytes.Count > 0, metrics);
        Assert.True(double.Parse(bytes[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= contents.Sum(c => c.Length), bytes[0]);
        Assert.Contains("qmgr_journal_write_duration", metrics);
        Assert.Contains("qmgr_jobs", metrics);
    }

    [Fact]
    public async Task Job_verbs_properties_and_the_error_record_over_http()
    {
        var (group, job) = await NewJobAsync(_alice, "verbs");
        var path = $"api/v1/jobs/{job.Id}";
        var missing = _files.Add("/missing.bin", [], new LoopbackFileOptions { StatusOverride = 404 }).AbsoluteUri;

        await NoContentAsync(_alice.PutAsJsonAsync($"{path}/properties/description", new SetPropertyRequest("nightly"), ApiJson.Options));
        await NoContentAsync(_alice.PutAsJsonAsync($"{path}/properties/MinimumRetryDelay", new SetPropertyRequest("60"), ApiJson.Options));
        await NoContentAsync(_alice.PutAsJsonAsync($"api/v1/groups/{group.Id}/properties/maxbytespersecond", new SetPropertyRequest("65536"), ApiJson.Options));
        await NoContentAsync(_alice.PostAsync($"{path}/foreground", null));
        var job1 = await ReadAsync<JobResource>(await _alice.GetAsync(path));
        Assert.Equal(("nightly", 60L, JobPriority.Foreground), (job1.Description, job1.MinimumRetryDelaySeconds, job1.Priority));
        Assert.Equal(65536, (await ReadAsync<GroupResource>(await _alice.GetAsync($"api/v1/groups/{group.Id}"))).MaxBytesPerSecond);

        // no error record yet; resume without files is refused (BG_E_EMPTY)
        await ProblemAsync(await _alice.GetAsync($"{path}/error"), HttpStatusCode.NotFound, unchecked((int)0x8020000F));
        await ProblemAsync(await _alice.PostAsync($"{path}/resume", null), HttpStatusCode.Conflict, unchecked((int)0x80200003));

        await NoContentAsync(_alice.PostAsJsonAsync($"{path}/files", new AddFilesRequest([new AddFileRequest(missing, Allowed("missing.bin"))]), ApiJson.Options));
        await NoContentAsync(_alice.PutAsJsonAsync($"{path}/files/0/remote-name", new RemoteNameRequest(missing + "?v=2"), ApiJson.Options));
        await NoContentAsync(_alice.PostAsync($"{path}/suspend", null));
        await NoContentAsync(_alice.PostAsync($"{path}/resume", null));
        var failed = await WaitAsync(_alice, job.Id, j => j.State == JobState.Error);
        Assert.EndsWith("?v=2", failed.Files[0].RemoteName);

        var error = await ReadAsync<ErrorResource>(await _alice.GetAsync($"{path}/error"));
        Assert.Equal((404, "RemoteFile", 0), (error.HttpStatus, error.Context.ToString(), error.FileIndex));

        await NoContentAsync(_alice.DeleteAsync(path));
        Assert.Equal(JobState.Cancelled, (await ReadAsync<JobResource>(await _alice.GetAsync(path))).State);
        await NoContentAsync(_alice.DeleteAsync($"api/v1/groups/{group.Id}"));
        await ProblemAsync(await _alice.GetAsync($"api/v1/groups/{group.Id}"), HttpStatusCode.NotFound, unchecked((int)0x80200001));
    }

    [Fact]
    public async Task Credentials_and_custom_headers_are_write_only_and_never_on_the_wire()
    {
        var (group, job) = await NewJobAsync(_alice, "secrets");
        const string Password = "s3cret-Pa55word";
        const string Header = "X-Api-Key: k3y-that-must-not-leak";

        await NoContentAsync(_alice.PutAsJsonAsync($"api/v1/jobs/{job.Id}/credentials", new JobCredentialsRequest(AuthTarget.Server, AuthScheme.Basic, "alice", Password), ApiJson.Options));
        await NoContentAsync(_alice.PutAsJsonAsync($"api/v1/jobs/{job.Id}/custom-headers", new CustomHeadersRequest(Header), ApiJson.Options));
        await NoContentAsync(_alice.PostAsync($"api/v1/jobs/{job.Id}/custom-headers/write-only", null));
        await NoContentAsync(_alice.PutAsJsonAsync($"api/v1/groups/{group.Id}/credentials", new GroupCredentialsRequest("alice", Password), ApiJson.Options));

        foreach (var path in new[] { $"api/v1/jobs/{job.Id}", $"api/v1/groups/{group.Id}", "api/v1/groups", "api/v1/jobs" })
        {
            var text = await _alice.GetStringAsync(path);
            Assert.DoesNotContain(Password, text);
            Assert.DoesNotContain("k3y-that-must-not-leak", text);
            Assert.DoesNotContain("CfDJ8", text); // Data Protection ciphertext
        }
        var read = await ReadAsync<JobResource>(await _alice.GetAsync($"api/v1/jobs/{job.Id}"));
        Assert.Equal((true, true), (read.HasCustomHeaders, read.CustomHeadersWriteOnly));
        Assert.Equal([new CredentialsKey(AuthTarget.Server, AuthScheme.Basic)], read.Credentials);
        Assert.True((await ReadAsync<GroupResource>(await _alice.GetAsync($"api/v1/groups/{group.Id}"))).HasCredentials);

        await NoContentAsync(_alice.DeleteAsync($"api/v1/jobs/{job.Id}/credentials/server/basic"));
        Assert.Empty((await ReadAsync<JobResource>(await _alice.GetAsync($"api/v1/jobs/{job.Id}"))).Credentials);
        foreach (var log in Directory.EnumerateFiles(_service.DataDir.Path, "*.log", SearchOption.AllDirectories))
            Assert.DoesNotContain(Password, File.ReadAllText(log));
    }

    [Fact]
    public async Task Group_verbs_suspend_resume_and_take_ownership()
    {
        var (group, job) = await NewJobAsync(_alice, "group verbs");
        var url = _files.Add("/g.bin", LoopbackFileServer.Content(200_000, 3), new LoopbackFileOptions { TrickleBytesPerSecond = 100_000 }).AbsoluteUri;
        await NoContentAsync(_alice.PostAsJsonAsync($"api/v1/jobs/{job.Id}/files", new AddFilesRequest([new AddFileRequest(url, Allowed("g.bin"))]), ApiJson.Options));

        await NoContentAsync(_alice.PostAsync($"api/v1/groups/{group.Id}/resume", null));
        await WaitAsync(_alice, job.Id, j => j.BytesTransferred > 0);
        await NoContentAsync(_alice.PostAsync($"api/v1/groups/{group.Id}/suspend", null));
        Assert.Equal(JobState.Suspended, (await ReadAsync<JobResource>(await _alice.GetAsync($"api/v1/jobs/{job.Id}"))).State);

        await ProblemAsync(await _alice.PostAsync($"api/v1/groups/{group.Id}/take-ownership", null), HttpStatusCode.Forbidden, unchecked((int)0x80070005));
        await NoContentAsync(_admin.PostAsync($"api/v1/groups/{group.Id}/take-ownership", null));
        Assert.Equal(Environment.UserName, (await ReadAsync<GroupResource>(await _admin.GetAsync($"api/v1/groups/{group.Id}"))).Owner);
        await ProblemAsync(await _alice.GetAsync($"api/v1/groups/{group.Id}"), HttpStatusCode.NotFound, unchecked((int)0x80200001));
    }

    [Fact]
    public async Task The_openapi_document_is_3_1_and_lists_every_resource()
    {
        using var anonymous = _service.Http(null);
        using var doc = JsonDocument.Parse(await anonymous.GetStringAsync("openapi/v1.json"));
        Assert.StartsWith("3.1", doc.RootElement.GetProperty("openapi").GetString());
        var paths = doc.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        foreach (var expected in new[] { "/api/v1/groups", "/api/v1/groups/{groupId}", "/api/v1/groups/{groupId}/jobs", "/api/v1/jobs/{jobId}",
                     "/api/v1/jobs/{jobId}/files", "/api/v1/jobs/{jobId}/complete", "/api/v1/jobs/{jobId}/properties/{property}", "/api/v1/events", "/api/v1/me" })
            Assert.Contains(expected, paths);
        // what a linter checks: a bearer scheme on every API operation and none on health, unique operation ids
        var root = doc.RootElement;
        Assert.Equal("bearer", root.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer").GetProperty("scheme").GetString());
        var operations = root.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(o => (Path: p.Name, Operation: o.Value))).ToList();
        foreach (var (path, operation) in operations)
            Assert.Equal(path.StartsWith("/api/") ? 1 : 0, operation.GetProperty("security").GetArrayLength());
        var ids = operations.Select(o => o.Operation.GetProperty("operationId").GetString()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("scalar/v1")).StatusCode);
    }
}
