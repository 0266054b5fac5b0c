using System.Collections.Concurrent;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;
using BackendSampleApp;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>The typed async API a backend embeds: queue manager, groups, jobs, owners, notifications and callbacks.</summary>
public sealed class EmbeddingApiSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _server = null!;
    private HostedQmgr _node = null!;
    private IQueueManager _alice = null!;

    public async Task InitializeAsync()
    {
        _server = await LoopbackFileServer.StartAsync();
        _node = HostedQmgr.Start(_dir.File("data"));
        _alice = QueueManager.Create(_node.System, "alice");
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        await _server.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_backend_sample_downloads_a_file_through_its_own_host()
    {
        // arrange
        var content = LoopbackFileServer.Content(100_000, 41);
        var url = _server.Add("/report.csv", content);

        // act
        var job = await BackendSample.DownloadAsync(_dir.File("sample-data"), url, _dir.File("report.csv"), new CancellationTokenSource(Deadline).Token);

        // assert
        Assert.Equal(JobState.Acknowledged, job.State);
        Assert.Equal(content, File.ReadAllBytes(_dir.File("report.csv")));
        Assert.Equal(Environment.UserName, new Journal(_dir.File("sample-data")).Groups().Single().Owner);
    }

    [Fact]
    public async Task Owners_see_only_their_groups_and_administrators_see_and_change_all()
    {
        // arrange
        var bob = _alice.ForCaller("bob");
        var admin = _alice.ForCaller("root", isAdministrator: true);
        var aliceGroup = await _alice.CreateGroupAsync("alice's");
        var bobGroup = await bob.CreateGroupAsync("bob's");
        var bobJob = await bobGroup.CreateJobAsync("b");

        // act
        var aliceSees = (await _alice.EnumGroupsAsync()).Select(g => g.Id).ToList();
        var adminSees = (await admin.EnumGroupsAsync()).Select(g => g.Id).ToList();
        var aliceOpensBob = await Assert.ThrowsAsync<QmgrException>(() => _alice.GetGroupAsync(bobGroup.Id));
        var adminJob = await (await admin.GetGroupAsync(bobGroup.Id)).GetJobAsync(bobJob.Id);
        await adminJob.SetPropertyAsync(JobProperty.Description, "set by an administrator");

        // assert
        Assert.Equal([aliceGroup.Id], aliceSees);
        Assert.Equal([aliceGroup.Id, bobGroup.Id], adminSees);
        Assert.Equal(HResults.BG_E_NOT_FOUND, aliceOpensBob.HResult);
        Assert.Equal("set by an administrator", (await bobJob.GetAsync()).Description);
        Assert.Equal("bob", (await bobGroup.GetStateAsync()).Owner);
    }

    [Fact]
    public async Task Refused_calls_throw_with_the_BITS_hresult_and_change_nothing()
    {
        // arrange
        var group = await _alice.CreateGroupAsync("errors");
        var job = await group.CreateJobAsync("empty");

        // act
        var empty = await Assert.ThrowsAsync<QmgrException>(() => job.ResumeAsync());
        var tooLong = await Assert.ThrowsAsync<QmgrException>(() => job.SetPropertyAsync(JobProperty.DisplayName, new string('x', 300)));
        var badPriority = await Assert.ThrowsAsync<QmgrException>(() => group.SetPropertyAsync(GroupProperty.Priority, "urgent"));
        await job.CancelAsync();
        var afterCancel = await Assert.ThrowsAsync<QmgrException>(() => job.SuspendAsync());

        // assert
        Assert.Equal(HResults.BG_E_EMPTY, empty.HResult);
        Assert.Equal(HResults.BG_E_STRING_TOO_LONG, tooLong.HResult);
        Assert.Equal(HResults.E_NOTIMPL, badPriority.HResult);
        Assert.Equal(HResults.BG_E_INVALID_STATE, afterCancel.HResult);
        Assert.Equal("empty", (await job.GetAsync()).DisplayName);
        Assert.Empty(await group.EnumJobsAsync()); // cancelled jobs leave enumerations
    }

    [Fact]
    public async Task Cancelling_a_group_cancels_its_unfinished_jobs_and_the_group_is_gone()
    {
        // arrange
        var group = await _alice.CreateGroupAsync("to cancel");
        var job = await group.CreateJobAsync("slow");
        await job.AddFilesAsync([(_server.Add("/gc.bin", LoopbackFileServer.Content(500_000, 44), new LoopbackFileOptions { TrickleBytesPerSecond = 100_000 }).ToString(), _dir.File("gc.bin"))]);
        await job.ResumeAsync();
        var running = await job.WaitAsync(j => j.BytesTransferred > 0, new CancellationTokenSource(Deadline).Token);

        // act
        await group.CancelAsync();
        var reopen = await Assert.ThrowsAsync<QmgrException>(() => _alice.GetGroupAsync(group.Id));
        var reuse = await Assert.ThrowsAsync<QmgrException>(() => _alice.CreateGroupAsync("again", groupId: group.Id));

        // assert
        Assert.Equal(HResults.BG_E_NOT_FOUND, reopen.HResult);
        Assert.Equal(HResults.E_INVALIDARG, reuse.HResult);
        Assert.Equal(JobState.Cancelled, (await job.GetAsync()).State);
        Assert.False(File.Exists(running.Files[0].TempName));
        Assert.DoesNotContain(group.Id, (await _alice.EnumGroupsAsync()).Select(g => g.Id));
    }

    [Fact]
    public async Task Notifications_stream_state_changes_and_progress_of_the_callers_jobs_only()
    {
        // arrange
        var seen = new ConcurrentQueue<QmgrNotification>();
        using var subscription = _alice.Notifications.Subscribe(new Observer(seen.Enqueue));
        var others = await _alice.ForCaller("bob").CreateGroupAsync("bob's");
        await (await others.CreateJobAsync("b")).SetPropertyAsync(JobProperty.Description, "not for alice");
        var content = LoopbackFileServer.Content(600_000, 42);
        var group = await _alice.CreateGroupAsync("watched");
        var job = await group.CreateJobAsync("w", new JobOptions(AutoComplete: true));
        await job.AddFilesAsync([(_server.Add("/w.bin", content, new LoopbackFileOptions { TrickleBytesPerSecond = 1_000_000 }).ToString(), _dir.File("w.bin"))]);

        // act
        await job.ResumeAsync();
        await job.WaitAsync(j => j.State == JobState.Acknowledged, new CancellationTokenSource(Deadline).Token);
        await AwaitAsync(() => seen.OfType<QmgrNotification.StateChanged>().Any(s => s.To == JobState.Acknowledged));

        // assert
        Assert.All(seen, n => Assert.Equal("alice", n.Owner));
        var states = seen.OfType<QmgrNotification.StateChanged>().Where(s => s.Job.Id == job.Id).Select(s => s.To).ToList();
        Assert.Equal([JobState.Queued, JobState.Connecting, JobState.Transferring, JobState.Transferred, JobState.Acknowledged], states);
        Assert.Contains(seen, n => n is QmgrNotification.Progress p && p.Job.BytesTransferred > 0 && p.Job.BytesTransferred < content.Length);
        Assert.Single(seen.OfType<QmgrNotification.FileTransferred>());
    }

    [Fact]
    public async Task Callbacks_honour_notify_flags_and_a_late_callback_still_hears_of_an_error()
    {
        // arrange: one job transfers with only JobTransferred selected; one fails before any callback is set
        var group = await _alice.CreateGroupAsync("callbacks");
        var ok = await group.CreateJobAsync("ok");
        await ok.SetPropertyAsync(JobProperty.NotifyFlags, ((int)NotifyFlags.JobTransferred).ToString());
        await ok.AddFilesAsync([(_server.Add("/ok.bin", LoopbackFileServer.Content(1000, 43)).ToString(), _dir.File("ok.bin"))]);
        var okCalls = new Recorder();
        await ok.SetNotifyInterfaceAsync(okCalls);
        var failing = await group.CreateJobAsync("failing");
        await failing.AddFilesAsync([(_server.UrlOf("/missing").ToString(), _dir.File("missing.bin"))]);
        await failing.ResumeAsync();
        await failing.WaitAsync(j => j.State == JobState.Error, new CancellationTokenSource(Deadline).Token);

        // act
        await ok.ResumeAsync();
        await ok.WaitAsync(j => j.State == JobState.Transferred, new CancellationTokenSource(Deadline).Token);
        var lateCalls = new Recorder();
        await failing.SetNotifyInterfaceAsync(lateCalls);
        await AwaitAsync(() => okCalls.Calls.Contains("transferred"));

        // assert
        Assert.Equal(["transferred"], okCalls.Calls); // no JobModification or FileTransferred: not selected
        Assert.Equal(["error 404"], lateCalls.Calls);
    }

    [Fact]
    public async Task Credentials_and_custom_headers_are_never_stored_or_logged_in_clear()
    {
        // arrange
        const string password = "correct horse battery staple 7f3a";
        const string header = "X-Qmgr-Secret: token-5b9e1c";
        var group = await _alice.CreateGroupAsync("secrets");
        var job = await group.CreateJobAsync("s");

        // act
        await job.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Basic, "alice", password);
        await job.SetCustomHeadersAsync(header);
        var tooLong = await Assert.ThrowsAsync<QmgrException>(() => job.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Basic, new string('u', 301), "p"));
        var noPassword = await Assert.ThrowsAsync<QmgrException>(() => job.SetCredentialsAsync(AuthTarget.Proxy, AuthScheme.Basic, "alice", ""));
        var stored = await job.GetAsync();

        // assert: the journal and the logs hold ciphertext only; the key ring lives in the data directory
        Assert.Equal(HResults.BG_E_USERNAME_TOO_LARGE, tooLong.HResult);
        Assert.Equal(HResults.E_INVALIDARG, noPassword.HResult);
        var credential = Assert.Single(stored.Credentials);
        Assert.Equal((AuthTarget.Server, AuthScheme.Basic), (credential.Target, credential.Scheme));
        Assert.DoesNotContain(password, credential.Protected);
        var dataFiles = Directory.EnumerateFiles(_node.DataDirectory, "*", SearchOption.AllDirectories)
            .Select(f => { using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite); using var r = new StreamReader(s); return r.ReadToEnd(); })
            .ToList();
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(_node.DataDirectory, "keys")));
        Assert.DoesNotContain(dataFiles, text => text.Contains(password) || text.Contains("token-5b9e1c"));
        Assert.Contains(new Journal(_node.DataDirectory).Events(), e => e is Qmgr.Groups.GroupEvents.JobCredentialsSet);
    }

    [Fact]
    public async Task Basic_credentials_and_custom_headers_reach_the_server_and_a_job_without_them_gets_401()
    {
        // arrange
        var content = LoopbackFileServer.Content(20_000, 45);
        var expected = "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("alice:s3cret:with:colons"));
        var url = _server.Add("/private.bin", content, new LoopbackFileOptions { RequireAuthorization = expected });
        var group = await _alice.CreateGroupAsync("auth");
        var withCredentials = await group.CreateJobAsync("with", new JobOptions(AutoComplete: true));
        await withCredentials.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Basic, "alice", "s3cret:with:colons");
        await withCredentials.SetCustomHeadersAsync("X-Tenant: blue\r\nX-Trace: 42");
        await withCredentials.AddFilesAsync([(url.ToString(), _dir.File("private.bin"))]);
        var without = await group.CreateJobAsync("without");
        await without.AddFilesAsync([(url.ToString(), _dir.File("denied.bin"))]);

        // act
        await withCredentials.ResumeAsync();
        await without.ResumeAsync();
        var done = await withCredentials.WaitAsync(j => j.State is JobState.Acknowledged or JobState.Error, new CancellationTokenSource(Deadline).Token);
        var denied = await without.WaitAsync(j => j.State is JobState.Error, new CancellationTokenSource(Deadline).Token);

        // assert
        Assert.Equal(JobState.Acknowledged, done.State);
        Assert.Equal(content, File.ReadAllBytes(_dir.File("private.bin")));
        Assert.Equal(401, denied.Error!.HttpStatus);
        Assert.Contains(_server.RequestsFor("/private.bin"), r => r.Authorization == expected
            && r.Headers.GetValueOrDefault("X-Tenant") == "blue" && r.Headers.GetValueOrDefault("X-Trace") == "42");
    }

    [Fact]
    public async Task Override_proxy_settings_send_the_transfer_through_the_proxy_and_bad_settings_are_refused()
    {
        // arrange: the loopback server plays the proxy for a host that does not resolve
        var content = LoopbackFileServer.Content(40_000, 46);
        _server.Add("/via-proxy.bin", content);
        var group = await _alice.CreateGroupAsync("proxied");
        var job = await group.CreateJobAsync("p", new JobOptions(AutoComplete: true));
        var proxy = $"127.0.0.1:{_server.BaseAddress.Port}";

        // act
        var listWithoutOverride = await Assert.ThrowsAsync<QmgrException>(() => job.SetProxySettingsAsync(new ProxySettings(ProxyUsage.NoProxy, proxy, null)));
        var overrideWithoutList = await Assert.ThrowsAsync<QmgrException>(() => job.SetProxySettingsAsync(new ProxySettings(ProxyUsage.Override, null, null)));
        await job.SetProxySettingsAsync(new ProxySettings(ProxyUsage.Override, proxy, "<local> *.example.internal"));
        await job.AddFilesAsync([("http://files.qmgr-test.invalid/via-proxy.bin", _dir.File("via-proxy.bin"))]);
        await job.ResumeAsync();
        var done = await job.WaitAsync(j => j.State is JobState.Acknowledged or JobState.Error, new CancellationTokenSource(Deadline).Token);

        // assert
        Assert.Equal(HResults.E_INVALIDARG, listWithoutOverride.HResult);
        Assert.Equal(HResults.E_INVALIDARG, overrideWithoutList.HResult);
        Assert.Equal(JobState.Acknowledged, done.State);
        Assert.Equal(content, File.ReadAllBytes(_dir.File("via-proxy.bin")));
        Assert.StartsWith("http://files.qmgr-test.invalid/", _server.RequestsFor("/via-proxy.bin").First().RawTarget); // absolute-form: a proxy request
    }

    [Fact]
    public async Task A_failed_job_is_fixed_with_SetRemoteName_or_ReplaceRemotePrefix_and_resumed()
    {
        // arrange: two jobs pointing at a moved file
        var content = LoopbackFileServer.Content(10_000, 47);
        _server.Add("/new/moved.bin", content);
        var group = await _alice.CreateGroupAsync("moved");
        var one = await group.CreateJobAsync("one", new JobOptions(AutoComplete: true));
        var two = await group.CreateJobAsync("two", new JobOptions(AutoComplete: true));
        await one.AddFilesAsync([(_server.UrlOf("/old/moved.bin").ToString(), _dir.File("one.bin"))]);
        await two.AddFilesAsync([(_server.UrlOf("/old/moved.bin").ToString(), _dir.File("two.bin"))]);
        await one.ResumeAsync();
        await one.WaitAsync(j => j.State == JobState.Error, new CancellationTokenSource(Deadline).Token);

        // act
        var badUrl = await Assert.ThrowsAsync<QmgrException>(() => one.SetRemoteNameAsync(0, "ftp://elsewhere/x"));
        await one.SetRemoteNameAsync(0, _server.UrlOf("/new/moved.bin").ToString());
        await one.ResumeAsync();
        var noMatch = await two.ReplaceRemotePrefixAsync("https://nowhere/", "http://x/");
        var replaced = await two.ReplaceRemotePrefixAsync(_server.UrlOf("/old/").ToString(), _server.UrlOf("/new/").ToString());
        await two.ResumeAsync();
        var doneOne = await one.WaitAsync(j => j.State is JobState.Acknowledged or JobState.Error, new CancellationTokenSource(Deadline).Token);
        var doneTwo = await two.WaitAsync(j => j.State is JobState.Acknowledged or JobState.Error, new CancellationTokenSource(Deadline).Token);

        // assert
        Assert.Equal(HResults.E_INVALIDARG, badUrl.HResult);
        Assert.False(noMatch);
        Assert.True(replaced);
        Assert.Equal(JobState.Acknowledged, doneOne.State);
        Assert.Equal(JobState.Acknowledged, doneTwo.State);
        Assert.Equal(content, File.ReadAllBytes(_dir.File("one.bin")));
        Assert.Equal(content, File.ReadAllBytes(_dir.File("two.bin")));
    }

    [Fact]
    public async Task An_administrator_takes_ownership_and_the_old_owners_secrets_are_removed()
    {
        // arrange
        var bob = _alice.ForCaller("bob");
        var group = await bob.CreateGroupAsync("bob's");
        var job = await group.CreateJobAsync("j");
        await job.SetCredentialsAsync(AuthTarget.Server, AuthScheme.Basic, "bob", "hunter2");
        await job.SetCustomHeadersAsync("X-Bob: 1");
        var admin = _alice.ForCaller("root", isAdministrator: true);

        // act
        var notAdmin = await Assert.ThrowsAsync<QmgrException>(async () => await (await _alice.ForCaller("bob").GetGroupAsync(group.Id)).TakeOwnershipAsync());
        await (await admin.GetGroupAsync(group.Id)).TakeOwnershipAsync();
        var bobReopens = await Assert.ThrowsAsync<QmgrException>(() => bob.GetGroupAsync(group.Id));
        var asRoot = await _alice.ForCaller("root").GetGroupAsync(group.Id);
        var state = (await asRoot.GetStateAsync()).FindJob(job.Id)!;

        // assert
        Assert.Equal(HResults.E_ACCESSDENIED, notAdmin.HResult);
        Assert.Equal(HResults.BG_E_NOT_FOUND, bobReopens.HResult);
        Assert.Equal("root", (await asRoot.GetStateAsync()).Owner);
        Assert.Empty(state.Credentials);
        Assert.Null(state.ProtectedCustomHeaders);
    }

    [Fact]
    public async Task The_notify_command_line_runs_on_transferred_and_on_error_as_the_flags_select()
    {
        // arrange: one job that transfers, one that fails; each writes a marker file from its notify command
        var group = await _alice.CreateGroupAsync("cmdline");
        var ok = await group.CreateJobAsync("ok");
        var failing = await group.CreateJobAsync("failing");
        var silent = await group.CreateJobAsync("silent");
        await ok.AddFilesAsync([(_server.Add("/cmd.bin", LoopbackFileServer.Content(1000, 48)).ToString(), _dir.File("cmd.bin"))]);
        await failing.AddFilesAsync([(_server.UrlOf("/cmd-missing").ToString(), _dir.File("missing.bin"))]);
        await silent.AddFilesAsync([(_server.UrlOf("/cmd-missing-2").ToString(), _dir.File("missing2.bin"))]);
        NotifyCommandLine Marker(string name) => new("/bin/sh", $"-c \"echo done > '{_dir.File(name)}'\"");
        var relative = await Assert.ThrowsAsync<QmgrException>(() => ok.SetNotifyCmdLineAsync(new NotifyCommandLine("sh", null)));
        await ok.SetNotifyCmdLineAsync(Marker("ok.marker"));
        await failing.SetNotifyCmdLineAsync(Marker("failing.marker"));
        await silent.SetNotifyCmdLineAsync(Marker("silent.marker"));
        await silent.SetPropertyAsync(JobProperty.NotifyFlags, ((int)NotifyFlags.JobTransferred).ToString()); // errors not selected

        // act: the silent job fails first, so a wrongly started command of its own has the others' whole run to show
        await silent.ResumeAsync();
        await silent.WaitAsync(j => j.State == JobState.Error, new CancellationTokenSource(Deadline).Token);
        foreach (var job in new[] { ok, failing }) await job.ResumeAsync();
        await AwaitAsync(() => File.Exists(_dir.File("ok.marker")) && File.Exists(_dir.File("failing.marker")));

        // assert
        Assert.Equal(HResults.E_INVALIDARG, relative.HResult);
        Assert.Equal(JobState.Transferred, (await ok.GetAsync()).State);
        Assert.Equal(JobState.Error, (await failing.GetAsync()).State);
        Assert.False(File.Exists(_dir.File("silent.marker")));
    }

    [Fact]
    public async Task Redirect_policy_disallow_fails_on_a_redirect_and_allow_report_records_the_final_url()
    {
        // arrange
        var content = LoopbackFileServer.Content(5000, 49);
        var target = _server.Add("/final.bin", content);
        var hop = _server.Add("/hop.bin", [], new LoopbackFileOptions { RedirectTo = "/final.bin" });
        var group = await _alice.CreateGroupAsync("redirects");
        var disallow = await group.CreateJobAsync("disallow");
        var report = await group.CreateJobAsync("report");
        await disallow.SetPropertyAsync(JobProperty.SecurityFlags, "512");
        await report.SetPropertyAsync(JobProperty.SecurityFlags, "256");
        var undefinedPolicy = await Assert.ThrowsAsync<QmgrException>(() => report.SetPropertyAsync(JobProperty.SecurityFlags, "1024")); // 0x400
        await disallow.AddFilesAsync([(hop.ToString(), _dir.File("disallowed.bin"))]);
        await report.AddFilesAsync([(hop.ToString(), _dir.File("reported.bin"))]);

        // act
        await disallow.ResumeAsync();
        await report.ResumeAsync();
        var failed = await disallow.WaitAsync(j => j.State is JobState.Error or JobState.Transferred, new CancellationTokenSource(Deadline).Token);
        var done = await report.WaitAsync(j => j.State is JobState.Error or JobState.Transferred, new CancellationTokenSource(Deadline).Token);

        // assert
        Assert.Equal(HResults.E_NOTIMPL, undefinedPolicy.HResult);
        Assert.Equal(JobState.Error, failed.State);
        Assert.Equal(302, failed.Error!.HttpStatus);
        Assert.Equal(JobState.Transferred, done.State);
        Assert.Equal(target.AbsoluteUri, done.Files[0].RemoteName);
    }

    private static async Task AwaitAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        while (!condition()) await Task.Delay(50, timeout.Token);
    }

    private sealed class Observer(Action<QmgrNotification> onNext) : IObserver<QmgrNotification>
    {
        public void OnNext(QmgrNotification value) => onNext(value);
        public void OnError(Exception error) { }
        public void OnCompleted() { }
    }

    private sealed class Recorder : IJobCallback
    {
        private readonly ConcurrentQueue<string> _calls = new();
        public IReadOnlyList<string> Calls => _calls.ToArray();
        public Task JobTransferredAsync(IJob job, Job state) { _calls.Enqueue("transferred"); return Task.CompletedTask; }
        public Task JobErrorAsync(IJob job, Job state, JobError error) { _calls.Enqueue($"error {error.HttpStatus}"); return Task.CompletedTask; }
        public Task JobModificationAsync(IJob job, Job state) { _calls.Enqueue("modification"); return Task.CompletedTask; }
        public Task FileTransferredAsync(IJob job, Job state, int fileIndex) { _calls.Enqueue($"file {fileIndex}"); return Task.CompletedTask; }
    }
}
