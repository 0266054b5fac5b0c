using Akka.Configuration;
using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Embedding;

/// <summary>
/// Upload and upload-reply jobs (BITS BG_JOB_TYPE_UPLOAD / _UPLOAD_REPLY) through the typed API of a real embedded node
/// on SQLite, against <see cref="BitsUploadServer"/> speaking the BITS Upload Protocol on loopback. Fragments are
/// 16 KiB (<c>qmgr.transfer.checkpoint-bytes</c>).
/// </summary>
public sealed class UploadSpecs : IAsyncLifetime, IDisposable
{
    private const int Fragment = 16 * 1024;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly Config Overrides = ConfigurationFactory.ParseString("qmgr.transfer.checkpoint-bytes = 16384");
    private readonly TempDirectory _dir = new();
    private BitsUploadServer _server = null!;
    private HostedQmgr _node = null!;
    private IQueueManager _alice = null!;

    public async Task InitializeAsync()
    {
        _server = await BitsUploadServer.StartAsync();
        _node = HostedQmgr.Start(_dir.File("data"), Overrides);
        _alice = QueueManager.Create(_node.System, "alice");
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        await _server.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();

    private static CancellationToken Within() => new CancellationTokenSource(Deadline).Token;

    private async Task<(IJob Job, string Source, byte[] Content)> UploadJobAsync(JobType type, Uri url, int length, string name = "upload.bin")
    {
        var content = LoopbackFileServer.Content(length, length);
        var source = _dir.File(name);
        await File.WriteAllBytesAsync(source, content);
        var group = await _alice.CreateGroupAsync("uploads");
        var job = await group.CreateJobAsync("upload", type);
        await job.AddFilesAsync([(url.AbsoluteUri, source)]);
        return (job, source, content);
    }

    private static Task<Job> SettledAsync(IJob job) =>
        job.WaitAsync(j => j.State is JobState.Transferred or JobState.Error or JobState.Acknowledged or JobState.Cancelled, Within());

    [Fact]
    public async Task An_upload_job_sends_its_file_in_fragments_and_the_server_receives_it_byte_exact()
    {
        // arrange
        var url = _server.Accept("/in/report.bin");
        var (job, source, content) = await UploadJobAsync(JobType.Upload, url, 100_000);
        await job.SetCustomHeadersAsync("X-Upload-Tenant: blue");

        // act
        await job.ResumeAsync();
        var transferred = await SettledAsync(job);
        var hr = await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, transferred.State);
        Assert.Equal(JobType.Upload, transferred.Type);
        Assert.Equal((100_000L, 100_000L), (transferred.Files[0].BytesTotal!.Value, transferred.Files[0].BytesTransferred));
        Assert.Equal(content, _server.Uploaded("/in/report.bin"));
        Assert.Equal(0, hr);
        Assert.Equal(JobState.Acknowledged, (await job.GetAsync()).State);
        Assert.Equal(content, File.ReadAllBytes(source)); // the source is read, never written
        var packets = _server.Requests.Where(r => r.Path == "/in/report.bin").Select(r => r.PacketType).ToList();
        Assert.Equal(["Ping", "Create-Session", .. Enumerable.Repeat("Fragment", 7), "Close-Session"], packets);
        var session = Assert.Single(_server.Packets("Create-Session"));
        Assert.Contains("{7df0354d-249b-430f-820d-3d2a9bef4931}", session.Headers["BITS-Supported-Protocols"]);
        var fragments = _server.Packets("Fragment");
        Assert.Equal(Enumerable.Range(0, 7).Select(i => (long?)i * Fragment), fragments.Select(f => f.RangeStart));
        Assert.Equal($"bytes {6 * Fragment}-99999/100000", fragments[^1].ContentRange);
        Assert.Single(fragments.Select(f => f.SessionId).Distinct());
        Assert.Equal("upload.bin", fragments[0].ContentName);
        Assert.Equal(fragments[0].SessionId, _server.Packets("Close-Session").Single().SessionId);
        Assert.All(_server.Requests, r => Assert.Equal("blue", r.Headers["X-Upload-Tenant"])); // custom headers as for downloads
    }

    [Fact]
    public async Task A_416_answer_moves_the_upload_to_the_offset_the_server_holds()
    {
        // arrange: before the fourth fragment the server has kept only 20,000 bytes
        var url = _server.Accept("/in/rollback.bin", new BitsUploadOptions { RollBackBefore = new Dictionary<int, long> { [3] = 20_000 } });
        var (job, _, content) = await UploadJobAsync(JobType.Upload, url, 100_000);

        // act
        await job.ResumeAsync();
        var settled = await SettledAsync(job);

        // assert
        Assert.Equal(JobState.Transferred, settled.State);
        Assert.Equal(content, _server.Uploaded("/in/rollback.bin"));
        var fragments = _server.Packets("Fragment");
        Assert.Equal(416, fragments[3].Status);
        Assert.Equal([0L, Fragment, 2 * Fragment, 3 * Fragment, 20_000L, 20_000L + Fragment], fragments.Take(6).Select(f => f.RangeStart!.Value));
        Assert.Single(_server.Packets("Create-Session"));
    }

    [Fact]
    public async Task An_interrupted_fragment_resumes_from_the_offset_the_server_acknowledged()
    {
        // arrange: the third fragment (bytes 32768-49151) is cut after 5,000 bytes
        var url = _server.Accept("/in/cut.bin", new BitsUploadOptions { CutFragmentAfter = new Dictionary<int, long> { [2] = 5_000 } });
        var (job, _, content) = await UploadJobAsync(JobType.Upload, url, 100_000);

        // act
        await job.ResumeAsync();
        var settled = await SettledAsync(job);

        // assert
        Assert.Equal(JobState.Transferred, settled.State);
        Assert.Equal(content, _server.Uploaded("/in/cut.bin"));
        var fragments = _server.Packets("Fragment");
        Assert.Equal(0, fragments[2].Status); // cut
        Assert.Equal([0L, Fragment, 2 * Fragment, 2 * Fragment, 3 * Fragment], fragments.Take(5).Select(f => f.RangeStart!.Value));
        Assert.Single(_server.Packets("Create-Session"));
        Assert.Single(fragments.Select(f => f.SessionId).Distinct());
    }

    [Fact]
    public async Task A_node_restart_continues_the_upload_session_at_the_acknowledged_offset()
    {
        // arrange: the fourth fragment is held until the node is gone
        var url = _server.Accept("/in/restart.bin", new BitsUploadOptions { HoldFragment = 3 });
        var (job, _, content) = await UploadJobAsync(JobType.Upload, url, 100_000);
        await job.ResumeAsync();
        await _server.HeldFragmentArrived.WaitAsync(Deadline);
        await job.WaitAsync(j => j.Files[0].BytesTransferred == 3 * Fragment, Within());

        // act: stop the node, start another on the same data directory
        await _node.DisposeAsync();
        _server.Release();
        _node = HostedQmgr.Start(_dir.File("data"), Overrides);
        var again = await (await QueueManager.Create(_node.System, "alice").GetGroupAsync(job.GroupId)).GetJobAsync(job.Id);
        var settled = await SettledAsync(again);

        // assert: one session from start to end, no fragment from byte 0 after the restart
        Assert.Equal(JobState.Transferred, settled.State);
        Assert.Equal(content, _server.Uploaded("/in/restart.bin"));
        var created = Assert.Single(_server.Packets("Create-Session"));
        var fragments = _server.Packets("Fragment");
        Assert.Single(fragments, f => f.RangeStart == 0);
        Assert.All(fragments, f => Assert.Equal(fragments[0].SessionId, f.SessionId));
        Assert.Contains(fragments, f => f.RangeStart == 3 * Fragment && f.Status == 200);
        Assert.True(created.Headers.ContainsKey("BITS-Supported-Protocols"));
        var journal = new Journal(_dir.File("data"));
        Assert.Equal(fragments[0].SessionId, Assert.Single(journal.Events<UploadSessionCreated>()).SessionId);
        Assert.Contains(journal.Events<JobStateChanged>(), s => s.Cause == "recovered after restart");
    }

    [Fact]
    public async Task An_upload_reply_job_gets_the_reply_into_its_reply_file_and_GetReplyData_returns_it()
    {
        // arrange
        var reply = LoopbackFileServer.Content(5_000, 7);
        var url = _server.Accept("/app/echo", new BitsUploadOptions { Reply = reply });
        var (job, source, content) = await UploadJobAsync(JobType.UploadReply, url, 40_000);
        var before = await job.GetReplyProgressAsync();
        var nameBefore = await job.GetReplyFileNameAsync();

        // act
        await job.ResumeAsync();
        var settled = await SettledAsync(job);
        var progress = await job.GetReplyProgressAsync();
        var data = await job.GetReplyDataAsync();
        var replyFile = await job.GetReplyFileNameAsync();
        var visibleBeforeComplete = File.Exists(replyFile);
        var renameRefused = await Assert.ThrowsAsync<QmgrException>(() => job.SetReplyFileNameAsync(_dir.File("other.reply")));
        await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, settled.State);
        Assert.Equal(content, _server.Uploaded("/app/echo"));
        Assert.Equal(new ReplyProgress(null, 0), before);
        Assert.Null(nameBefore);
        Assert.Equal(new ReplyProgress(5_000, 5_000), progress);
        Assert.Equal(reply, data);
        Assert.Equal(Path.GetDirectoryName(source), Path.GetDirectoryName(replyFile)); // generated beside the upload file
        Assert.False(visibleBeforeComplete);
        Assert.Equal(HResults.BG_E_INVALID_STATE, renameRefused.HResult);
        Assert.Equal(reply, File.ReadAllBytes(replyFile!));
        Assert.Equal(reply, await job.GetReplyDataAsync()); // still readable after Complete
        Assert.Contains(_server.Requests, r => r.Method == "GET" && r.Path.StartsWith("/replies/", StringComparison.Ordinal) && r.Status == 200);
        Assert.Single(_server.Packets("Close-Session"));
    }

    [Fact]
    public async Task A_reply_over_one_MiB_is_BG_E_TOO_LARGE_from_GetReplyData_and_still_lands_in_the_reply_file()
    {
        // arrange
        var reply = LoopbackFileServer.Content(1_500_000, 9);
        var url = _server.Accept("/app/big", new BitsUploadOptions { Reply = reply });
        var (job, _, _) = await UploadJobAsync(JobType.UploadReply, url, 20_000);
        var replyFile = _dir.File("answer.dat");
        await job.SetReplyFileNameAsync(replyFile);

        // act
        await job.ResumeAsync();
        var settled = await SettledAsync(job);
        var tooLarge = await Assert.ThrowsAsync<QmgrException>(() => job.GetReplyDataAsync());
        var progress = await job.GetReplyProgressAsync();
        await job.CompleteAsync();

        // assert
        Assert.Equal(JobState.Transferred, settled.State);
        Assert.Equal(HResults.BG_E_TOO_LARGE, tooLarge.HResult);
        Assert.Contains("1500000", tooLarge.Message);
        Assert.Equal(new ReplyProgress(1_500_000, 1_500_000), progress);
        Assert.Equal(replyFile, await job.GetReplyFileNameAsync());
        Assert.Equal(reply, File.ReadAllBytes(replyFile));
    }

    [Fact]
    public async Task An_upload_job_holds_exactly_one_existing_file_and_reply_members_need_an_upload_reply_job()
    {
        // arrange
        var url = _server.Accept("/in/one.bin");
        var a = _dir.File("a.bin");
        var b = _dir.File("b.bin");
        await File.WriteAllBytesAsync(a, [1, 2, 3]);
        await File.WriteAllBytesAsync(b, [4, 5, 6]);
        var group = await _alice.CreateGroupAsync("uploads");
        var job = await group.CreateJobAsync("upload", JobType.Upload);
        var download = await group.CreateJobAsync("download");

        // act
        var two = await Assert.ThrowsAsync<QmgrException>(() => job.AddFilesAsync([(url.AbsoluteUri, a), (url.AbsoluteUri, b)]));
        var missing = await Assert.ThrowsAsync<QmgrException>(() => job.AddFilesAsync([(url.AbsoluteUri, _dir.File("nowhere.bin"))]));
        await job.AddFilesAsync([(url.AbsoluteUri, a)]);
        var second = await Assert.ThrowsAsync<QmgrException>(() => job.AddFilesAsync([(url.AbsoluteUri, b)]));
        var replyOnUpload = await Assert.ThrowsAsync<QmgrException>(() => job.SetReplyFileNameAsync(_dir.File("r")));
        var replyOnDownload = await Assert.ThrowsAsync<QmgrException>(() => download.GetReplyDataAsync());

        // assert
        Assert.Equal(HResults.BG_E_TOO_MANY_FILES, two.HResult);
        Assert.Equal(HResults.E_FILE_NOT_FOUND, missing.HResult);
        Assert.Equal(HResults.BG_E_TOO_MANY_FILES, second.HResult);
        Assert.Equal(HResults.E_NOTIMPL, replyOnUpload.HResult);
        Assert.Equal(HResults.E_NOTIMPL, replyOnDownload.HResult);
        var state = await job.GetAsync();
        Assert.Equal([a], state.Files.Select(f => f.LocalName));
        Assert.Equal(JobType.Download, (await download.GetAsync()).Type);
    }

    [Fact]
    public async Task Complete_on_an_upload_job_before_Transferred_is_BG_E_INVALID_STATE()
    {
        // arrange
        var url = _server.Accept("/in/early.bin");
        var (job, _, _) = await UploadJobAsync(JobType.Upload, url, 1_000);

        // act
        var refused = await Assert.ThrowsAsync<QmgrException>(() => job.CompleteAsync());

        // assert
        Assert.Equal(HResults.BG_E_INVALID_STATE, refused.HResult);
        Assert.Equal(JobState.Suspended, (await job.GetAsync()).State);
    }

    [Fact]
    public async Task Cancel_sends_Cancel_Session_for_the_open_upload_session()
    {
        // arrange
        var url = _server.Accept("/in/cancel.bin", new BitsUploadOptions { HoldFragment = 1 });
        var (job, _, _) = await UploadJobAsync(JobType.Upload, url, 100_000);
        await job.ResumeAsync();
        await _server.HeldFragmentArrived.WaitAsync(Deadline);
        var session = (await job.WaitAsync(j => j.Upload is not null && j.Files[0].BytesTransferred == Fragment, Within())).Upload!.SessionId;

        // act
        await job.CancelAsync();
        var cancel = await _server.WaitForRequestAsync(r => r.PacketType == "Cancel-Session", Deadline);

        // assert
        Assert.Equal(session, cancel.SessionId);
        Assert.Equal(200, cancel.Status);
        Assert.Equal(session, _server.Packets("Fragment")[0].SessionId);
        Assert.Equal(JobState.Cancelled, (await job.GetAsync()).State);
        Assert.Null(_server.Uploaded("/in/cancel.bin"));
    }

    [Fact]
    public async Task A_server_application_failure_is_Error_with_context_REMOTE_APPLICATION()
    {
        // arrange
        var url = _server.Accept("/app/fails", new BitsUploadOptions { Reply = [1], ApplicationFails = true });
        var (job, _, _) = await UploadJobAsync(JobType.UploadReply, url, 20_000);

        // act
        await job.ResumeAsync();
        var settled = await SettledAsync(job);

        // assert
        Assert.Equal(JobState.Error, settled.State);
        Assert.Equal(ErrorContext.RemoteApplication, settled.Error!.Context);
        Assert.Equal(unchecked((int)0x801901F4), settled.Error.HResult);
        Assert.Equal(500, settled.Error.HttpStatus);
        Assert.Null((await job.GetReplyProgressAsync()).BytesTotal); // the failure was before the reply part
    }

    [Theory]
    [InlineData(501)]
    [InlineData(405)]
    public async Task A_server_answering_BITS_POST_with_501_or_405_does_not_speak_the_protocol_so_the_job_is_Error_at_once(int status)
    {
        // arrange
        var url = _server.Accept("/plain/upload.bin", new BitsUploadOptions { PlainStatus = status });
        var (job, _, _) = await UploadJobAsync(JobType.Upload, url, 20_000);

        // act
        await job.ResumeAsync();
        var settled = await SettledAsync(job);

        // assert
        Assert.Equal(JobState.Error, settled.State);
        Assert.Equal((ErrorContext.RemoteFile, BitsErrors.ForHttpStatus(status), (int?)status),
            (settled.Error!.Context, settled.Error.HResult, settled.Error.HttpStatus));
        Assert.Contains("does not speak the BITS Upload Protocol", settled.Error.Message);
        var ping = Assert.Single(_server.Requests); // no quick retries, no Create-Session
        Assert.Equal(("BITS_POST", "Ping", status), (ping.Method, ping.PacketType, ping.Status));
    }

    [Fact]
    public async Task A_source_file_changed_during_the_upload_is_BG_E_LOCAL_FILE_CHANGED()
    {
        // arrange
        var url = _server.Accept("/in/changing.bin", new BitsUploadOptions { HoldFragment = 1 });
        var (job, source, _) = await UploadJobAsync(JobType.Upload, url, 100_000);
        await job.ResumeAsync();
        await _server.HeldFragmentArrived.WaitAsync(Deadline);

        // act
        await File.AppendAllTextAsync(source, "appended while uploading");
        _server.Release();
        var settled = await SettledAsync(job);

        // assert
        Assert.Equal(JobState.Error, settled.State);
        Assert.Equal(BitsUploader.LocalFileChanged, settled.Error!.HResult);
        Assert.Equal(ErrorContext.LocalFile, settled.Error.Context);
        Assert.Null(_server.Uploaded("/in/changing.bin"));
    }

    [Fact]
    public async Task A_session_the_server_forgot_is_replaced_by_a_new_one_from_byte_zero()
    {
        // arrange: the server forgets the session at the third fragment
        var url = _server.Accept("/in/forgotten.bin", new BitsUploadOptions { ForgetSessionAt = new HashSet<int> { 2 } });
        var (job, _, content) = await UploadJobAsync(JobType.Upload, url, 60_000);

        // act
        await job.ResumeAsync();
        var settled = await SettledAsync(job);

        // assert
        Assert.Equal(JobState.Transferred, settled.State);
        Assert.Equal(content, _server.Uploaded("/in/forgotten.bin"));
        var sessions = _server.Packets("Create-Session");
        Assert.Equal(2, sessions.Count);
        var fragments = _server.Packets("Fragment");
        Assert.Equal([0L, Fragment, 2 * Fragment, 0L, Fragment, 2 * Fragment, 3 * Fragment], fragments.Select(f => f.RangeStart!.Value));
        Assert.NotEqual(fragments[0].SessionId, fragments[3].SessionId);
        var journal = new Journal(_dir.File("data"));
        Assert.Equal(2, journal.Events<UploadSessionCreated>().Count);
        Assert.Equal(FileRestartReason.UploadSessionLost, Assert.Single(journal.Events<FileRestarted>()).Reason);
    }
}
