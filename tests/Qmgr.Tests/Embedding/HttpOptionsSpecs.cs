using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// BITS <c>IBackgroundCopyJobHttpOptions2</c> (SetHttpMethod / GetHttpMethod) and <c>IBackgroundCopyJobHttpOptions3</c>
/// (SetServerCertificateValidationInterface, MakeCustomHeadersWriteOnly) on a real node against loopback servers:
/// the method the server sees, each rule's HRESULT, the callback asked during the TLS handshake, write-only headers.
/// </summary>
public sealed class HttpOptionsSpecs() : EmbeddedNodeSpecs("alice")
{
    [Fact]
    public async Task A_custom_http_method_is_sent_as_given_forces_foreground_and_locks_the_priority()
    {
        // arrange
        var content = LoopbackFileServer.Content(30_000, 31);
        var url = Server.Add("/post.bin", content).ToString();
        var group = await Qm.CreateGroupAsync("post");
        var job = await group.CreateJobAsync("post");
        var plain = await NewJobAsync("plain");
        var dynamic = await NewJobAsync("dynamic");
        await dynamic.SetPropertyAsync(JobProperty.DynamicContent, "true");

        // act
        var before = await job.GetHttpMethodAsync();
        await job.SetHttpMethodAsync("POST");
        var priorityRefused = await RefusedAsync(() => job.SetPropertyAsync(JobProperty.Priority, "Normal"));
        var dynamicRefused = await RefusedAsync(() => job.SetPropertyAsync(JobProperty.DynamicContent, "true"));
        await group.SetPropertyAsync(GroupProperty.Priority, "Low"); // a group priority leaves the locked job alone
        await job.SetPropertyAsync(JobProperty.Priority, "Foreground"); // the locked value itself is fine
        var notAToken = await RefusedAsync(() => job.SetHttpMethodAsync("PO ST"));
        await plain.SetHttpMethodAsync("GET"); // the default: nothing happens
        var onDynamic = await RefusedAsync(() => dynamic.SetHttpMethodAsync("POST"));
        await job.AddFilesAsync([(url, Dir.File("post.bin"))]);
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        var afterResume = await RefusedAsync(() => job.SetHttpMethodAsync("PUT"));

        // assert
        Assert.Equal("GET", before);
        Assert.Equal("POST", await job.GetHttpMethodAsync());
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Equal(JobPriority.Foreground, done.Priority);
        Assert.Equal(["POST"], Server.RequestsFor("/post.bin").Select(r => r.Method));
        Assert.Equal(content, File.ReadAllBytes(done.Files[0].TempName));
        Assert.Equal(HResults.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, priorityRefused);
        Assert.Equal(HResults.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, dynamicRefused);
        Assert.Equal(HResults.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, onDynamic);
        Assert.Equal(HResults.E_INVALIDARG, notAToken);
        Assert.Equal(HResults.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, afterResume);
        var plainJob = await plain.GetAsync();
        Assert.Equal(("GET", JobPriority.Normal), (await plain.GetHttpMethodAsync(), plainJob.Priority));
        var journal = new Journal(DataDir).Events<GroupEvents.JobPropertyChanged>();
        Assert.Contains(journal, e => e.JobId == job.Id && e is { Property: JobProperty.HttpMethod, Value: "POST" });
        Assert.Contains(journal, e => e.JobId == job.Id && e is { Property: JobProperty.Priority, Value: "Foreground" });
        Assert.DoesNotContain(journal, e => e.JobId == plain.Id);
    }

    [Fact]
    public async Task A_custom_http_method_job_enters_error_on_a_transient_fault_and_Resume_fetches_the_file_again_from_byte_zero()
    {
        // arrange: the first answer stalls after 70,000 bytes (they surely arrive) until the idle timeout (5 s here), a
        // transient fault that a GET job would retry and resume with Range
        var content = LoopbackFileServer.Content(200_000, 32);
        var url = Server.Add("/put.bin", content, new LoopbackFileOptions { StallAfter = new Dictionary<int, long> { [0] = 70_000 } }).ToString();
        var job = await NewJobAsync("put");
        await job.SetHttpMethodAsync("PUT");
        await job.AddFilesAsync([(url, Dir.File("put.bin"))]);

        // act
        await job.ResumeAsync();
        var failed = await WaitAsync(job, j => j.State is JobState.Error or JobState.TransientError or JobState.Transferred);
        var requestsAtError = Server.RequestsFor("/put.bin").Count;
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);

        // assert
        Assert.Equal((JobState.Error, BitsErrors.Timeout, 1), (failed.State, failed.Error!.HResult, failed.ErrorCount));
        Assert.True(failed.Files[0].BytesTransferred > 0, "the stalled answer's bytes were kept until Resume");
        Assert.Equal(1, requestsAtError); // no quick retry
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Equal([("PUT", (string?)null), ("PUT", null)], Server.RequestsFor("/put.bin").Select(r => (r.Method, r.Range)));
        Assert.Equal(FileRestartReason.CustomHttpMethod, new Journal(DataDir).Events<GroupEvents.FileRestarted>().Single(e => e.JobId == job.Id).Reason);
        Assert.Equal(content, File.ReadAllBytes(done.Files[0].TempName));
    }

    [Fact]
    public async Task A_ranged_file_of_a_custom_http_method_job_starts_again_from_its_first_range_after_an_error()
    {
        // arrange: one range of 100,000 bytes; its first answer stalls after 70,000 (they surely arrive)
        var content = LoopbackFileServer.Content(300_000, 35);
        var url = Server.Add("/ranged-post.bin", content, new LoopbackFileOptions { StallAfter = new Dictionary<int, long> { [0] = 70_000 } }).ToString();
        var job = await NewJobAsync("ranged-post");
        await job.SetHttpMethodAsync("POST");
        await job.AddFileWithRangesAsync(url, Dir.File("ranged-post.bin"), [new FileRange(100_000, 100_000)]);

        // act
        await job.ResumeAsync();
        var failed = await WaitAsync(job, j => j.State is JobState.Error or JobState.TransientError or JobState.Transferred);
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);

        // assert
        Assert.Equal(JobState.Error, failed.State);
        Assert.True(failed.Files[0].BytesTransferred > 0);
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Equal([("POST", "bytes=100000-199999"), ("POST", "bytes=100000-199999")],
            Server.RequestsFor("/ranged-post.bin").Select(r => (r.Method, r.Range)));
        Assert.Equal(FileRestartReason.CustomHttpMethod, new Journal(DataDir).Events<GroupEvents.FileRestarted>().Single(e => e.JobId == job.Id).Reason);
        Assert.Equal(content.AsSpan(100_000, 100_000).ToArray(), File.ReadAllBytes(done.Files[0].TempName));
    }

    [Fact]
    public async Task A_HEAD_job_sends_HEAD_and_transfers_an_empty_file()
    {
        // arrange
        var url = Server.Add("/head.bin", LoopbackFileServer.Content(10_000, 33)).ToString();
        var job = await NewJobAsync("head");
        await job.SetHttpMethodAsync("HEAD");
        await job.AddFilesAsync([(url, Dir.File("head.bin"))]);

        // act
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);
        var headers = await job.GetFilePropertyAsync(0, BitsFilePropertyId.HttpResponseHeaders);

        // assert
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Equal(["HEAD"], Server.RequestsFor("/head.bin").Select(r => r.Method));
        Assert.Equal((0L, 0L), (done.Files[0].BytesTotal!.Value, new FileInfo(done.Files[0].TempName).Length));
        Assert.Contains("Content-Length: 10000\r\n", headers);
    }

    [Fact]
    public async Task Custom_headers_read_back_until_made_write_only_and_are_still_sent()
    {
        // arrange
        var url = Server.Add("/headers.bin", LoopbackFileServer.Content(5_000, 34)).ToString();
        var job = await NewJobAsync("headers");

        // act
        var none = await job.GetCustomHeadersAsync();
        await job.SetCustomHeadersAsync("X-Token: secret-1\r\n");
        var readable = await job.GetCustomHeadersAsync();
        await job.MakeCustomHeadersWriteOnlyAsync();
        await job.MakeCustomHeadersWriteOnlyAsync(); // always S_OK
        var hidden = await RefusedAsync(() => job.GetCustomHeadersAsync());
        var undo = await RefusedAsync(() => job.SetPropertyAsync(JobProperty.CustomHeadersWriteOnly, "false"));
        await job.SetCustomHeadersAsync("X-Token: secret-2\r\n"); // still replaceable
        var stillHidden = await RefusedAsync(() => job.GetCustomHeadersAsync());
        await job.AddFilesAsync([(url, Dir.File("headers.bin"))]);
        await job.ResumeAsync();
        var done = await WaitAsync(job, j => j.State is JobState.Transferred or JobState.Error);

        // assert
        Assert.Null(none);
        Assert.Equal("X-Token: secret-1\r\n", readable);
        Assert.Equal((HResults.E_ACCESSDENIED, HResults.E_ACCESSDENIED, HResults.E_INVALIDARG), (hidden, stillHidden, undo));
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Equal(["secret-2"], Server.RequestsFor("/headers.bin").Select(r => r.Headers["X-Token"]));
        Assert.Single(new Journal(DataDir).Events<GroupEvents.JobPropertyChanged>(),
            e => e.JobId == job.Id && e is { Property: JobProperty.CustomHeadersWriteOnly, Value: "true" });
    }

    /// <summary>Records every call and answers <see cref="Answer"/>.</summary>
    private sealed class RecordingValidator(int answer) : IServerCertificateValidationCallback
    {
        public int Answer { get; } = answer;
        public ConcurrentQueue<(Guid JobId, int FileIndex, string Thumbprint, bool HasChain)> Calls { get; } = new();

        public int ValidateServerCertificate(IJob job, int fileIndex, X509Certificate2 certificate, X509Chain? chain)
        {
            Calls.Enqueue((job.Id, fileIndex, certificate.Thumbprint, chain is { ChainElements.Count: > 0 }));
            return Answer;
        }
    }

    private static X509Certificate2 SelfSigned()
    {
        var now = DateTimeOffset.UtcNow;
        return LoopbackFileServer.SelfSignedCertificate("127.0.0.1", now.AddDays(-1), now.AddDays(30));
    }

    private async Task<IJob> HttpsJobAsync(LoopbackFileServer https, string name, int securityFlags, IServerCertificateValidationCallback? callback)
    {
        var url = https.Add("/" + name, LoopbackFileServer.Content(20_000, name.Length)).ToString();
        var job = await NewJobAsync(name);
        await job.SetPropertyAsync(JobProperty.SecurityFlags, securityFlags.ToString());
        await job.SetPropertyAsync(JobProperty.MinimumRetryDelay, "600"); // a TransientError stays put while asserted
        if (callback is not null) await job.SetServerCertificateValidationInterfaceAsync(callback);
        await job.AddFilesAsync([(url, Dir.File(name))]);
        return job;
    }

    [Fact]
    public async Task A_server_certificate_validation_callback_is_asked_after_the_TLS_checks_and_its_refusal_is_a_transient_error()
    {
        // arrange: a self-signed HTTPS server (BG_SSL_IGNORE_UNKNOWN_CA lets it pass the TLS checks)
        using var certificate = SelfSigned();
        await using var https = await LoopbackFileServer.StartAsync(certificate);
        var accept = new RecordingValidator(0);
        var refuse = new RecordingValidator(unchecked((int)0x80040201));
        var accepted = await HttpsJobAsync(https, "accepted.bin", 0x8, accept);
        var refused = await HttpsJobAsync(https, "refused.bin", 0x8, refuse);
        var strict = await HttpsJobAsync(https, "strict.bin", 0, refuse);

        // act
        await accepted.ResumeAsync();
        var acceptedDone = await WaitAsync(accepted, j => j.State is JobState.Transferred or JobState.Error or JobState.TransientError);
        await refused.ResumeAsync();
        var refusedDone = await WaitAsync(refused, j => j.State is JobState.Transferred or JobState.Error or JobState.TransientError);
        var refusedCalls = refuse.Calls.Count;
        await strict.ResumeAsync();
        var strictDone = await WaitAsync(strict, j => j.State is JobState.Transferred or JobState.Error or JobState.TransientError);
        var whileActive = await RefusedAsync(() => refused.SetServerCertificateValidationInterfaceAsync(accept));
        await refused.SuspendAsync();
        await refused.SetServerCertificateValidationInterfaceAsync(accept); // the fix: another callback, then Resume
        await refused.ResumeAsync();
        var fixedDone = await WaitAsync(refused, j => j.State is JobState.Transferred or JobState.Error);

        // assert
        Assert.Equal(JobState.Transferred, acceptedDone.State);
        Assert.Contains((accepted.Id, 0, certificate.Thumbprint, true), accept.Calls);
        Assert.Equal(JobState.TransientError, refusedDone.State);
        Assert.Equal((ErrorContext.ServerCertificateCallback, unchecked((int)0x80040201)), (refusedDone.Error!.Context, refusedDone.Error.HResult));
        Assert.Equal(1, refusedCalls); // no quick retry of a refusal
        Assert.Single(https.RequestsFor("/refused.bin")); // refused before any request: only the fixed run asked
        Assert.Equal((JobState.Error, BitsErrors.SecureFailure), (strictDone.State, strictDone.Error!.HResult));
        Assert.DoesNotContain(refuse.Calls, c => c.JobId == strict.Id); // the TLS checks failed first
        Assert.Equal(HResults.BG_E_READ_ONLY_WHEN_JOB_ACTIVE, whileActive);
        Assert.Equal(JobState.Transferred, fixedDone.State);
        Assert.Same(accept, ServerCertificateCallbacks.For(Node.System).Get(refused.Id));
        Assert.Contains(new Journal(DataDir).Events<GroupEvents.JobPropertyChanged>(),
            e => e.JobId == refused.Id && e is { Property: JobProperty.ServerCertificateValidation, Value: "true" });
    }

    [Fact]
    public async Task A_job_that_needs_a_validation_callback_fails_on_a_node_where_none_is_registered()
    {
        // arrange: the callback is set, then the node restarts (BITS: the program that set it exited)
        using var certificate = SelfSigned();
        await using var https = await LoopbackFileServer.StartAsync(certificate);
        var callback = new RecordingValidator(0);
        var job = await HttpsJobAsync(https, "restart.bin", 0x8, callback);
        var ids = (job.GroupId, job.Id);
        await Node.DisposeAsync();
        Node = HostedQmgr.Start(DataDir);
        Qm = QueueManager.Create(Node.System, "alice");
        var again = await (await Qm.GetGroupAsync(ids.GroupId)).GetJobAsync(ids.Id);

        // act
        await again.ResumeAsync();
        var missing = await WaitAsync(again, j => j.State is JobState.Transferred or JobState.Error or JobState.TransientError);
        await again.SuspendAsync();
        await again.SetServerCertificateValidationInterfaceAsync(callback);
        await again.ResumeAsync();
        var done = await WaitAsync(again, j => j.State is JobState.Transferred or JobState.Error);

        // assert
        Assert.Equal(JobState.TransientError, missing.State);
        Assert.Equal((ErrorContext.ServerCertificateCallback, HResults.BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED), (missing.Error!.Context, missing.Error.HResult));
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Single(callback.Calls);
        Assert.Single(https.RequestsFor("/restart.bin"));
    }
}
