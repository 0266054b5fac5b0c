using System.Security.Cryptography;
using Qmgr.Groups;
using Qmgr.Host;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.EndToEnd;

/// <summary>
/// The real <c>qmgr</c> executable against a loopback Kestrel server, on the SQLite journal in a fresh data
/// directory: downloads, exit codes, the data-directory lock, and recovery after SIGKILL.
/// </summary>
public sealed class TransferCliSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _server = null!;

    private string DataDir => _dir.File("data");
    private Journal Journal => new(DataDir);

    public async Task InitializeAsync() => _server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Transfer_downloads_every_file_byte_exact_completes_the_job_and_exits_zero()
    {
        // arrange
        var a = LoopbackFileServer.Content(3 * 1024 * 1024 + 17, seed: 1);
        var b = LoopbackFileServer.Content(1000, seed: 2);
        var urlA = _server.Add("/a.bin", a);
        var urlB = _server.Add("/b.bin", b, new LoopbackFileOptions { SendETag = false, SendLastModified = false });
        var outDir = _dir.Sub("out");

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, "--display-name", "two files",
            urlA.ToString(), Path.Combine(outDir, "a.bin"), urlB.ToString(), Path.Combine(outDir, "b.bin"));

        // assert
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(SHA256.HashData(a), SHA256.HashData(File.ReadAllBytes(Path.Combine(outDir, "a.bin"))));
        Assert.Equal(b, File.ReadAllBytes(Path.Combine(outDir, "b.bin")));
        Assert.Equal(["a.bin", "b.bin"], Directory.GetFiles(outDir).Select(Path.GetFileName).Order()); // no temp file left
        var group = Assert.Single(Journal.Groups());
        Assert.Equal("two files", group.DisplayName);
        var job = Assert.Single(group.Jobs);
        Assert.Equal(JobState.Acknowledged, job.State);
        Assert.True(job.Options.AutoComplete);
        Assert.All(job.Files, f => Assert.True(f.Completed));
        Assert.Equal(2, Journal.Events<FileTransferred>().Count);
    }

    [Fact]
    public async Task Relative_file_is_stored_absolute_and_list_reports_the_group_without_the_lock()
    {
        // arrange
        var content = LoopbackFileServer.Content(4096, seed: 3);
        var url = _server.Add("/rel.bin", content);
        var outDir = _dir.Sub("rel");
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(outDir, "rel.bin"));

        // act
        var transfer = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, url.ToString(), relative);
        using var held = DataDirectory.Resolve(DataDir).TryLock(out _); // list must not need the lock
        var list = await QmgrProcess.RunAsync(Deadline, "list", "--all", "--data-dir", DataDir, "--json");

        // assert
        Assert.True(transfer.ExitCode == 0, transfer.ToString());
        Assert.NotNull(held);
        Assert.Equal(Path.Combine(outDir, "rel.bin"), Journal.Events<FilesAdded>().Single().Files.Single().LocalName);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("\"state\": \"Acknowledged\"", list.Stdout);
        Assert.Contains("\"bytesTransferred\": 4096", list.Stdout);
    }

    [Fact]
    public async Task Not_found_puts_the_job_in_error_with_status_and_context_and_exits_one()
    {
        // arrange
        var url = _server.UrlOf("/missing.bin");
        var target = Path.Combine(_dir.Sub("out"), "missing.bin");

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, url.ToString(), target);

        // assert
        Assert.True(result.ExitCode == 1, result.ToString());
        var reason = Assert.Single(result.Stderr.Split('\n'), l => l.StartsWith("qmgr: http", StringComparison.Ordinal));
        Assert.Contains("HTTP 404", reason);
        Assert.Contains("0x80190194", reason);
        Assert.Contains("job state Error", reason);
        var job = Journal.Groups().Single().Jobs.Single();
        Assert.Equal(JobState.Error, job.State);
        Assert.Equal(404, job.Error!.HttpStatus);
        Assert.Equal(ErrorContext.RemoteFile, job.Error.Context);
        Assert.Equal(unchecked((int)0x80190194), job.Error.HResult);
        Assert.False(File.Exists(target));
        // the job stays in Error (it may be fixed and resumed); its temp file held no byte, so none is left beside the
        // target (a Resume creates it again)
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(target)!));
    }

    [Fact]
    public async Task Cancel_errors_removes_failed_jobs_and_their_temp_files_so_serve_exits_zero()
    {
        // arrange: a 404 leaves a job in Error (its temp file, which held no byte, is already gone)
        var target = Path.Combine(_dir.Sub("out"), "gone.bin");
        var failed = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, _server.UrlOf("/gone.bin").ToString(), target);
        Assert.True(failed.ExitCode == 1, failed.ToString());
        var job = Journal.Groups().Single().Jobs.Single();
        Assert.Equal(JobState.Error, job.State);
        var stillFailing = await QmgrProcess.RunAsync(Deadline, "serve", "--data-dir", DataDir, "--urls", "http://127.0.0.1:0", "--exit-when-idle");
        Assert.True(stillFailing.ExitCode == 1, stillFailing.ToString());

        // act
        var unknown = await QmgrProcess.RunAsync(Deadline, "cancel", "--data-dir", DataDir, Guid.NewGuid().ToString());
        var cancel = await QmgrProcess.RunAsync(Deadline, "cancel", "--data-dir", DataDir, "--errors");
        var serve = await QmgrProcess.RunAsync(Deadline, "serve", "--data-dir", DataDir, "--urls", "http://127.0.0.1:0", "--exit-when-idle");

        // assert: an unknown id is a usage error that cancels nothing; --errors cancels the failed job (BITS T19)
        Assert.True(unknown.ExitCode == 2, unknown.ToString());
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Contains($"cancelled job {job.Id:D}", cancel.Stdout);
        Assert.Equal(JobState.Cancelled, Journal.Groups().Single().Jobs.Single().State);
        Assert.False(File.Exists(job.Files.Single().TempName));
        Assert.True(serve.ExitCode == 0, serve.ToString());
    }

    [Fact]
    public async Task Second_process_on_a_locked_data_directory_exits_three_naming_the_holder()
    {
        // arrange
        var url = _server.Add("/x.bin", LoopbackFileServer.Content(10, seed: 4));
        using var held = DataDirectory.Resolve(DataDir).TryLock(out _);

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, url.ToString(), _dir.File("x.bin"));

        // assert
        Assert.NotNull(held);
        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains($"in use by another qmgr process (pid {Environment.ProcessId})", result.Stderr);
        Assert.False(File.Exists(_dir.File("x.bin")));
    }

    [Theory]
    [InlineData("not-a-url", "x.bin", "not an absolute http or https URL")]
    [InlineData("ftp://127.0.0.1/x", "x.bin", "not an absolute http or https URL")]
    [InlineData("http://127.0.0.1:9/x", "no-such-dir/x.bin", "directory does not exist")]
    [InlineData("http://127.0.0.1:9/x", "existing.bin", "exists (use --overwrite")]
    public async Task Bad_input_exits_two_with_a_one_line_reason_and_touches_nothing(string url, string file, string reason)
    {
        // arrange
        File.WriteAllText(_dir.File("existing.bin"), "keep me");

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, url, _dir.File(file));

        // assert
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(reason, Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal("keep me", File.ReadAllText(_dir.File("existing.bin")));
        Assert.Empty(Journal.Events());
    }

    [Fact]
    public async Task Overwrite_replaces_an_existing_file_only_on_complete()
    {
        // arrange
        var content = LoopbackFileServer.Content(2048, seed: 5);
        var url = _server.Add("/o.bin", content);
        File.WriteAllText(_dir.File("o.bin"), "old");

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, "--overwrite", url.ToString(), _dir.File("o.bin"));

        // assert
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(content, File.ReadAllBytes(_dir.File("o.bin")));
    }

    [Fact]
    public async Task Sigkilled_transfer_is_finished_by_serve_resuming_exactly_at_the_last_journaled_checkpoint()
    {
        // arrange: 6 MiB at a persisted group cap of 1 MiB/s, so the first checkpoint (1 s) lands long before the end
        var content = LoopbackFileServer.Content(6 * 1024 * 1024, seed: 6);
        var url = _server.Add("/big.bin", content);
        var target = Path.Combine(_dir.Sub("out"), "big.bin");
        using var transfer = await StartThrottledUntilCheckpointAsync(url, target);

        // act: SIGKILL once a checkpoint > 0 is journaled, then append junk past it
        transfer.Kill();
        var checkpoint = Journal.Events<FileProgressCheckpointed>().Last().BytesTransferred;
        var temp = Journal.Events<FilesAdded>().Single().Files.Single().TempName;
        Assert.True(File.Exists(temp));
        Assert.True(new FileInfo(temp).Length >= checkpoint);
        await using (var junk = new FileStream(temp, FileMode.Append)) junk.Write(new byte[100_000].Select(_ => (byte)0xAB).ToArray());
        var requestsBefore = _server.RequestsFor("/big.bin").Count;
        var serve = await QmgrProcess.RunAsync(Deadline, "serve", "--data-dir", DataDir, "--urls", "http://127.0.0.1:0", "--exit-when-idle");

        // assert
        Assert.True(serve.ExitCode == 0, serve.ToString());
        Assert.True(checkpoint > 0 && checkpoint < content.Length);
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(File.ReadAllBytes(target)));
        Assert.False(File.Exists(temp));
        var resumed = _server.RequestsFor("/big.bin").Skip(requestsBefore).First();
        Assert.Equal($"bytes={checkpoint}-", resumed.Range);
        Assert.Equal(206, resumed.Status);
        Assert.NotNull(resumed.IfRange);
        var job = Journal.Groups().Single().Jobs.Single();
        Assert.Equal(JobState.Acknowledged, job.State);
        Assert.Contains(Journal.Events<JobStateChanged>(), s => s.To == JobState.Queued && s.Cause == "recovered after restart");
    }

    [Fact]
    public async Task Sha256_of_the_right_file_completes_and_a_wrong_or_html_body_fails_leaving_no_final_file()
    {
        // arrange
        var content = LoopbackFileServer.Content(300_000, seed: 9);
        var good = _server.Add("/good.bin", content);
        var portal = _server.Add("/portal.bin", "<html>log in first</html>"u8.ToArray(), new LoopbackFileOptions { ContentType = "text/html" });
        var hash = Convert.ToHexStringLower(SHA256.HashData(content));
        var outDir = _dir.Sub("out");

        // act
        var ok = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, "--sha256", hash, good.ToString(), Path.Combine(outDir, "good.bin"));
        var html = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, "--sha256", hash, portal.ToString(), Path.Combine(outDir, "portal.bin"));
        var wrong = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, "--sha256", new string('0', 64), good.ToString(), Path.Combine(outDir, "wrong.bin"));

        // assert
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Equal(content, File.ReadAllBytes(Path.Combine(outDir, "good.bin")));
        Assert.True(html.ExitCode == 1, html.ToString());
        Assert.True(wrong.ExitCode == 1, wrong.ToString());
        Assert.Contains("0x80070017", html.Stderr);
        Assert.Contains("differs from the expected SHA-256", wrong.Stderr);
        Assert.False(File.Exists(Path.Combine(outDir, "portal.bin")));
        Assert.False(File.Exists(Path.Combine(outDir, "wrong.bin")));
    }

    [Fact]
    public async Task Interrupt_cancels_the_job_removes_its_temp_file_and_exits_130()
    {
        // arrange
        var content = LoopbackFileServer.Content(4 * 1024 * 1024, seed: 8);
        var url = _server.Add("/int.bin", content);
        var target = Path.Combine(_dir.Sub("out"), "int.bin");
        using var transfer = await StartThrottledUntilCheckpointAsync(url, target);
        var temp = Journal.Events<FilesAdded>().Single().Files.Single().TempName;

        // act: SIGINT, as Ctrl+C on a terminal
        using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", transfer.Id.ToString()])) await kill.WaitForExitAsync();
        var result = await transfer.WaitAsync(Deadline);

        // assert
        Assert.True(result.ExitCode == 130, result.ToString());
        Assert.Contains("interrupted", result.Stderr);
        Assert.Equal(JobState.Cancelled, Journal.Groups().Single().Jobs.Single().State);
        Assert.False(File.Exists(temp));
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task Sigterm_stops_transfer_leaving_the_job_for_serve_and_stops_serve_gracefully()
    {
        // arrange
        var content = LoopbackFileServer.Content(3 * 1024 * 1024, seed: 10);
        var url = _server.Add("/term.bin", content);
        var target = Path.Combine(_dir.Sub("out"), "term.bin");
        using var transfer = await StartThrottledUntilCheckpointAsync(url, target);

        // act: SIGTERM the transfer, finish with serve, then SIGTERM an idle serve
        await SignalAsync("TERM", transfer.Id);
        var stopped = await transfer.WaitAsync(Deadline);
        var left = Journal.Groups().Single().Jobs.Single().State;
        var finish = await QmgrProcess.RunAsync(Deadline, "serve", "--data-dir", DataDir, "--urls", "http://127.0.0.1:0", "--exit-when-idle");
        using var serve = QmgrProcess.Start("serve", "--data-dir", DataDir, "--urls", "http://127.0.0.1:0");
        await Journal.WaitForAsync(_ => File.Exists(Path.Combine(DataDir, "qmgr.pid")) && File.ReadAllText(Path.Combine(DataDir, "qmgr.pid")) == serve.Id.ToString() ? "held" : null, Deadline);
        await SignalAsync("TERM", serve.Id);
        var served = await serve.WaitAsync(Deadline);

        // assert
        Assert.True(stopped.ExitCode == 130, stopped.ToString());
        Assert.Contains("stays in", stopped.Stderr);
        Assert.NotEqual(JobState.Cancelled, left);
        Assert.True(finish.ExitCode == 0, finish.ToString());
        Assert.Equal(content, File.ReadAllBytes(target));
        Assert.True(served.ExitCode == 0, served.ToString());
        Assert.False(File.Exists(Path.Combine(DataDir, "qmgr.pid")));
    }

    /// <summary>Starts `qmgr transfer` at a persisted 1 MiB/s group cap and returns once a checkpoint &gt; 0 is journaled.</summary>
    private async Task<QmgrProcess> StartThrottledUntilCheckpointAsync(Uri url, string target)
    {
        var transfer = QmgrProcess.Start("transfer", "--data-dir", DataDir, "--max-bandwidth", "1048576", url.ToString(), target);
        await Journal.WaitForAsync(events => events.OfType<FileProgressCheckpointed>().FirstOrDefault(c => c.BytesTransferred > 0), Deadline);
        return transfer;
    }

    private static async Task SignalAsync(string signal, int pid)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", pid.ToString()]);
        await kill.WaitForExitAsync();
    }

    [Fact]
    public async Task Resume_answered_with_200_restarts_the_file_from_zero_and_journals_why()
    {
        // arrange: first run honours ranges and is killed after a checkpoint; then the server ignores Range
        var content = LoopbackFileServer.Content(4 * 1024 * 1024, seed: 7);
        var url = _server.Add("/r.bin", content);
        var target = Path.Combine(_dir.Sub("out"), "r.bin");
        using (var transfer = await StartThrottledUntilCheckpointAsync(url, target))
        {
            transfer.Kill();
        }
        var checkpoint = Journal.Events<FileProgressCheckpointed>().Last().BytesTransferred;
        _server.Add("/r.bin", content, new LoopbackFileOptions { HonourRange = false });
        var requestsBefore = _server.RequestsFor("/r.bin").Count;

        // act
        var serve = await QmgrProcess.RunAsync(Deadline, "serve", "--data-dir", DataDir, "--urls", "http://127.0.0.1:0", "--exit-when-idle");

        // assert
        Assert.True(serve.ExitCode == 0, serve.ToString());
        var resumed = _server.RequestsFor("/r.bin").Skip(requestsBefore).First();
        Assert.Equal($"bytes={checkpoint}-", resumed.Range);
        Assert.Equal(200, resumed.Status);
        var restart = Assert.Single(Journal.Events<FileRestarted>());
        Assert.Equal(FileRestartReason.RangeIgnored, restart.Reason);
        Assert.Equal(content, File.ReadAllBytes(target));
    }
}
