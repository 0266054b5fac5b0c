using System.Collections.Concurrent;
using Qmgr.Legacy;
using Qmgr.Tests.Support;
using Xunit;
using static Qmgr.Legacy.QmgrH;

namespace Qmgr.Tests.Legacy;

/// <summary>The BITS 1.0 facade moving real files from a loopback server: status, progress, cancel and callbacks.</summary>
public sealed class LegacyTransferSpecs : LegacyNode
{
    private static readonly LoopbackFileOptions Slow = new() { TrickleBytesPerSecond = 20_000 };

    [Fact]
    public async Task ResumeGroup_downloads_every_job_and_the_group_reports_complete_with_its_size_and_progress()
    {
        // arrange
        var a = LoopbackFileServer.Content(150_000, 1);
        var b = LoopbackFileServer.Content(50_000, 2);
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var first = await group.CreateJobAsync(Guid.NewGuid(), Within());
        var second = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await first.AddFilesAsync([File("a.bin", a)], Within());
        await second.AddFilesAsync([File("b.bin", b)], Within());

        // act
        await group.ResumeGroupAsync(Within());
        await UntilAsync(async () => ((await group.GetStatusAsync()).Status & QM_STATUS_GROUP_COMPLETE) != 0);
        var time = await group.GetProgressAsync(QM_PROGRESS_TIME_DONE, Within());

        // assert: files are in place without any Complete call (BITS 1.0 has none)
        await UntilAsync(() => Task.FromResult(System.IO.File.Exists(Dir.File("a.bin")) && System.IO.File.Exists(Dir.File("b.bin"))));
        Assert.Equal(a, System.IO.File.ReadAllBytes(Dir.File("a.bin")));
        Assert.Equal(b, System.IO.File.ReadAllBytes(Dir.File("b.bin")));
        Assert.Equal(QM_STATUS_GROUP_COMPLETE, (await group.GetStatusAsync(Within())).Status);
        Assert.Equal(200_000L, await group.SizeAsync(Within()));
        Assert.Equal(200_000L, await group.GetProgressAsync(QM_PROGRESS_SIZE_DONE, Within()));
        Assert.Equal(100L, await group.GetProgressAsync(QM_PROGRESS_PERCENT_DONE, Within()));
        Assert.Equal(100, await group.GetPropAsync(GROUPPROP.GROUPPROP_PROGRESSPERCENT, Within()));
        Assert.Equal(200_000L, await group.GetPropAsync(GROUPPROP.GROUPPROP_PROGRESSSIZE, Within()));
        Assert.Equal(time, await group.GetPropAsync(GROUPPROP.GROUPPROP_PROGRESSTIME, Within())); // time done stops at completion
        Assert.InRange(time, 0, 30);
        Assert.Equal((QM_STATUS_JOB_COMPLETE, 0u, 0u, 0u), await first.GetStatusAsync(Within()));
        Assert.Equal(50_000L, await second.GetProgressAsync(QM_PROGRESS_SIZE_DONE, Within()));
        Assert.Equal(100L, await second.GetProgressAsync(QM_PROGRESS_PERCENT_DONE, Within()));
    }

    [Fact]
    public async Task A_transferring_group_reports_partial_progress_and_SuspendGroup_stops_it()
    {
        // arrange
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var job = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await job.AddFilesAsync([File("slow.bin", LoopbackFileServer.Content(2_000_000, 3), Slow)], Within());
        await group.ResumeGroupAsync(Within());
        await UntilAsync(async () => await job.GetProgressAsync(QM_PROGRESS_SIZE_DONE) > 0);

        // act
        var (running, index) = await group.GetStatusAsync(Within());
        var percent = await group.GetProgressAsync(QM_PROGRESS_PERCENT_DONE, Within());
        await group.SuspendGroupAsync(Within());
        var (suspended, _) = await group.GetStatusAsync(Within());

        // assert
        Assert.Equal(QM_STATUS_GROUP_INCOMPLETE, running);
        Assert.Equal(0u, index);
        Assert.InRange(percent, 0, 99);
        Assert.Equal(2_000_000L, await group.SizeAsync(Within()));
        Assert.Equal(QM_STATUS_GROUP_SUSPENDED, suspended);
        Assert.Equal(QM_STATUS_JOB_INCOMPLETE, (await job.GetStatusAsync(Within())).Status);
    }

    [Fact]
    public async Task GetStatus_gives_the_index_of_the_job_in_progress()
    {
        // arrange
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var idle = await group.CreateJobAsync(Guid.NewGuid(), Within());
        var busy = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await busy.AddFilesAsync([File("busy.bin", LoopbackFileServer.Content(2_000_000, 4), Slow)], Within());

        // act
        await group.ResumeGroupAsync(Within());
        var (status, index) = await group.GetStatusAsync(Within());

        // assert: the first job has no file and stays suspended; the second runs
        Assert.Equal(QM_STATUS_GROUP_SUSPENDED | QM_STATUS_GROUP_INCOMPLETE, status);
        Assert.Equal(1u, index);
        Assert.Equal(QM_STATUS_JOB_INCOMPLETE, (await idle.GetStatusAsync(Within())).Status);
    }

    [Fact]
    public async Task Remote_user_and_password_authenticate_every_job_of_the_group_and_are_never_readable_or_stored_in_clear()
    {
        // arrange: the server wants Basic alice:pa55; the group's first job exists before the credentials, the second after
        var content = LoopbackFileServer.Content(30_000, 71);
        var basic = "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("alice:pa55"));
        var url = Server.Add("/auth.bin", content, new LoopbackFileOptions { RequireAuthorization = basic });
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var before = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await before.AddFilesAsync([new FILESETINFO(url.ToString(), Dir.File("before.bin"), 0)], Within());

        // act
        await group.SetPropAsync(GROUPPROP.GROUPPROP_REMOTEUSERID, "alice", Within());
        await group.SetPropAsync(GROUPPROP.GROUPPROP_REMOTEUSERPWD, "pa55", Within());
        var after = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await after.AddFilesAsync([new FILESETINFO(url.ToString(), Dir.File("after.bin"), 0)], Within());
        await group.ResumeGroupAsync(Within());
        await UntilAsync(async () => ((await group.GetStatusAsync(Within())).Status & QM_STATUS_GROUP_COMPLETE) != 0);

        // assert
        Assert.Equal(content, System.IO.File.ReadAllBytes(Dir.File("before.bin")));
        Assert.Equal(content, System.IO.File.ReadAllBytes(Dir.File("after.bin")));
        Assert.Equal("alice", await group.GetPropAsync(GROUPPROP.GROUPPROP_REMOTEUSERID, Within()));
        Assert.Equal("", await group.GetPropAsync(GROUPPROP.GROUPPROP_REMOTEUSERPWD, Within()));
        Assert.DoesNotContain(new Journal(Node.DataDirectory).Events(), e => System.Text.Json.JsonSerializer.Serialize(e, e.GetType()).Contains("pa55"));
    }

    [Fact]
    public async Task CancelGroup_keeps_the_files_already_transferred_and_discards_the_rest()
    {
        // arrange: a fast first file, a slow second one in the same job
        var done = LoopbackFileServer.Content(10_000, 5);
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var job = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await job.AddFilesAsync([File("done.bin", done), File("pending.bin", LoopbackFileServer.Content(2_000_000, 6), Slow)], Within());
        await group.ResumeGroupAsync(Within());
        await UntilAsync(async () => await job.GetProgressAsync(QM_PROGRESS_SIZE_DONE) > done.Length);

        // act
        await group.CancelGroupAsync(Within());

        // assert
        Assert.Equal(done, System.IO.File.ReadAllBytes(Dir.File("done.bin")));
        Assert.False(System.IO.File.Exists(Dir.File("pending.bin")));
        Assert.Empty(Directory.GetFiles(Dir.Path, "*.tmp"));
        Assert.Equal(QM_E_ITEM_NOT_FOUND, await HResultOf(() => QMgr.GetGroupAsync(group.GroupID, Within())));
    }

    [Fact]
    public async Task CancelJob_removes_one_job_and_the_others_still_complete_the_group()
    {
        // arrange
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var slow = await group.CreateJobAsync(Guid.NewGuid(), Within());
        var quick = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await slow.AddFilesAsync([File("slow.bin", LoopbackFileServer.Content(2_000_000, 7), Slow)], Within());
        await group.ResumeGroupAsync(Within());

        // act
        await slow.CancelJobAsync(Within());
        await quick.AddFilesAsync([File("quick.bin", LoopbackFileServer.Content(1_000, 8))], Within());
        await group.ResumeGroupAsync(Within());
        await UntilAsync(async () => ((await group.GetStatusAsync()).Status & QM_STATUS_GROUP_COMPLETE) != 0);
        (await group.EnumJobsAsync(0, Within())).Next(5, out var jobs);

        // assert
        Assert.Equal([quick.JobID], jobs);
        Assert.Equal(QM_E_ITEM_NOT_FOUND, await HResultOf(() => group.GetJobAsync(slow.JobID, Within())));
        Assert.Equal(QM_E_ITEM_NOT_FOUND, await HResultOf(() => slow.GetStatusAsync(Within())));
        Assert.False(System.IO.File.Exists(Dir.File("slow.bin")));
        Assert.Equal(QM_E_INVALID_STATE, await HResultOf(() => quick.CancelJobAsync(Within()))); // finished: its files are in place
        Assert.Equal(QM_E_INVALID_STATE, await HResultOf(() => quick.AddFilesAsync([File("late.bin", [1])], Within())));
    }

    [Fact]
    public async Task A_failed_download_puts_the_group_in_error_and_calls_OnStatus_without_any_notify_flag()
    {
        // arrange
        var calls = new Recorder();
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        group.SetNotificationPointer(calls);
        var job = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await job.AddFilesAsync([new FILESETINFO(Server.UrlOf("/missing").ToString(), Dir.File("missing.bin"))], Within());

        // act
        await group.ResumeGroupAsync(Within());
        await calls.UntilAsync(c => c.Count >= 1);

        // assert
        Assert.Equal("status group=1 job=1 file=0 0x00000210 retries=1 win32=0x80190194 http=404", calls.Calls.Single());
        Assert.Equal(QM_STATUS_GROUP_ERROR, (await group.GetStatusAsync(Within())).Status);
        Assert.Equal((QM_STATUS_JOB_INCOMPLETE | QM_STATUS_JOB_ERROR, 0x80190194u, 404u, 1u), await job.GetStatusAsync(Within()));
    }

    [Fact]
    public async Task Notify_flags_select_file_job_and_group_done_and_a_failing_callback_is_called_again_until_S_OK()
    {
        // arrange
        var calls = new Recorder { FailFirstGroupDone = true };
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        await group.SetPropAsync(GROUPPROP.GROUPPROP_NOTIFYFLAGS, QM_NOTIFY_GROUP_DONE | QM_NOTIFY_JOB_DONE | QM_NOTIFY_FILE_DONE, Within());
        group.SetNotificationPointer(calls);
        var job = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await job.AddFilesAsync([File("one.bin", LoopbackFileServer.Content(1_000, 9)), File("two.bin", LoopbackFileServer.Content(1_000, 10))], Within());

        // act
        await group.ResumeGroupAsync(Within());
        await calls.UntilAsync(c => c.Count(x => x.StartsWith("status group=1 job=0")) >= 2);

        // assert
        Assert.Equal([
            "status group=1 job=1 file=0 0x00000001 retries=0 win32=0x00000000 http=0",
            "status group=1 job=1 file=1 0x00000001 retries=0 win32=0x00000000 http=0",
            "status group=1 job=1 file=-1 0x00000004 retries=0 win32=0x00000000 http=0",
            "status group=1 job=0 file=-1 0x00000040 retries=0 win32=0x00000000 http=0",
            "status group=1 job=0 file=-1 0x00000040 retries=0 win32=0x00000000 http=0",
        ], calls.Calls.Where(c => c.StartsWith("status")));
    }

    [Fact]
    public async Task QM_NOTIFY_DISABLE_NOTIFY_silences_every_callback()
    {
        // arrange: the silenced group fails first; a second, watched group proves the callbacks ran since
        var silenced = new Recorder();
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        await group.SetPropAsync(GROUPPROP.GROUPPROP_NOTIFYFLAGS, QM_NOTIFY_DISABLE_NOTIFY | QM_NOTIFY_GROUP_DONE, Within());
        group.SetNotificationPointer(silenced);
        var job = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await job.AddFilesAsync([new FILESETINFO(Server.UrlOf("/gone").ToString(), Dir.File("gone.bin"))], Within());
        var watched = new Recorder();
        var witness = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        witness.SetNotificationPointer(watched);
        var witnessJob = await witness.CreateJobAsync(Guid.NewGuid(), Within());
        await witnessJob.AddFilesAsync([new FILESETINFO(Server.UrlOf("/also-gone").ToString(), Dir.File("also-gone.bin"))], Within());

        // act
        await group.ResumeGroupAsync(Within());
        await UntilAsync(async () => ((await group.GetStatusAsync()).Status & QM_STATUS_GROUP_ERROR) != 0);
        await witness.ResumeGroupAsync(Within());
        await watched.UntilAsync(c => c.Count >= 1);

        // assert
        Assert.Empty(silenced.Calls);
    }

    [Fact]
    public async Task OnProgress_reports_the_group_percent_and_USE_PROGRESSEX_switches_to_OnProgressEx()
    {
        // arrange
        var plain = new Recorder();
        var ex = new Recorder();
        var content = LoopbackFileServer.Content(400_000, 11);
        var options = new LoopbackFileOptions { TrickleBytesPerSecond = 1_000_000 };
        var g1 = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        g1.SetNotificationPointer(plain);
        await (await g1.CreateJobAsync(Guid.NewGuid(), Within())).AddFilesAsync([File("p1.bin", content, options)], Within());
        var g2 = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        await g2.SetPropAsync(GROUPPROP.GROUPPROP_NOTIFYFLAGS, QM_NOTIFY_USE_PROGRESSEX, Within());
        g2.SetNotificationPointer(ex);
        await (await g2.CreateJobAsync(Guid.NewGuid(), Within())).AddFilesAsync([File("p2.bin", content, options)], Within());

        // act
        await g1.ResumeGroupAsync(Within());
        await g2.ResumeGroupAsync(Within());
        await plain.UntilAsync(c => c.Any(x => x.StartsWith("progress ")));
        await ex.UntilAsync(c => c.Any(x => x.StartsWith("progressex ")));

        // assert
        Assert.All(plain.Calls.Where(c => c.StartsWith("progress")), c => Assert.Matches(@"^progress type=1 job=1 file=0 percent=(\d{1,2}|100)$", c));
        Assert.All(ex.Calls.Where(c => c.StartsWith("progress")), c => Assert.Matches(@"^progressex type=1 job=1 file=0 percent=(\d{1,2}|100) bytes=0$", c));
    }

    [Fact]
    public async Task GROUPPROP_NOTIFYCLSID_activates_the_registered_callback_class_after_a_restart()
    {
        // arrange
        var clsid = Guid.NewGuid();
        var id = Guid.NewGuid();
        var group = await QMgr.CreateGroupAsync(id, Within());
        await group.SetPropAsync(GROUPPROP.GROUPPROP_NOTIFYCLSID, clsid.ToString("B"), Within());
        await group.SetPropAsync(GROUPPROP.GROUPPROP_NOTIFYFLAGS, QM_NOTIFY_GROUP_DONE, Within());
        await (await group.CreateJobAsync(Guid.NewGuid(), Within())).AddFilesAsync([File("c.bin", LoopbackFileServer.Content(1_000, 12))], Within());
        await RestartNodeAsync();
        var activated = new Recorder();
        QMgr.RegisterCallbackClass(clsid, () => activated);

        // act
        await (await QMgr.GetGroupAsync(id, Within())).ResumeGroupAsync(Within());
        await activated.UntilAsync(c => c.Count >= 1);

        // assert
        Assert.Equal("status group=1 job=0 file=-1 0x00000040 retries=0 win32=0x00000000 http=0", activated.Calls.Single());
    }

    private sealed class Recorder : IBackgroundCopyCallback1
    {
        private readonly ConcurrentQueue<string> _calls = new();
        private int _groupDone;
        public bool FailFirstGroupDone { get; init; }
        public IReadOnlyList<string> Calls => _calls.ToArray();

        public Task UntilAsync(Func<IReadOnlyList<string>, bool> condition) => LegacyNode.UntilAsync(() => Task.FromResult(condition(Calls)));

        public Task<int> OnStatus(IBackgroundCopyGroup group, IBackgroundCopyJob1? job, int fileIndex, uint status, uint numOfRetries, uint win32Result, uint transportResult)
        {
            _calls.Enqueue($"status group={(group is null ? 0 : 1)} job={(job is null ? 0 : 1)} file={fileIndex} 0x{status:X8} retries={numOfRetries} win32=0x{win32Result:X8} http={transportResult}");
            return Task.FromResult(status == QM_STATUS_GROUP_COMPLETE && FailFirstGroupDone && Interlocked.Increment(ref _groupDone) == 1 ? E_FAIL : S_OK);
        }

        public Task<int> OnProgress(uint progressType, IBackgroundCopyGroup group, IBackgroundCopyJob1? job, int fileIndex, uint progressValue)
        {
            _calls.Enqueue($"progress type={progressType} job={(job is null ? 0 : 1)} file={fileIndex} percent={progressValue}");
            return Task.FromResult(S_OK);
        }

        public Task<int> OnProgressEx(uint progressType, IBackgroundCopyGroup group, IBackgroundCopyJob1? job, int fileIndex, uint progressValue, byte[] bytes)
        {
            _calls.Enqueue($"progressex type={progressType} job={(job is null ? 0 : 1)} file={fileIndex} percent={progressValue} bytes={bytes.Length}");
            return Task.FromResult(S_OK);
        }
    }
}
