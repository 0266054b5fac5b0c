using Qmgr.Jobs;
using Qmgr.Legacy;
using Qmgr.Tests.Support;
using Xunit;
using static Qmgr.Legacy.QmgrH;

namespace Qmgr.Tests.Legacy;

/// <summary>The BITS 1.0 queue manager, groups, jobs, properties and enumerators, without transfers.</summary>
public sealed class LegacySurfaceSpecs : LegacyNode
{
    [Fact]
    public async Task A_new_group_is_suspended_and_found_by_GetGroup_and_EnumGroups()
    {
        // arrange
        var id = Guid.NewGuid();

        // act
        var created = await QMgr.CreateGroupAsync(id, Within());
        var opened = await QMgr.GetGroupAsync(id, Within());
        var (status, jobIndex) = await opened.GetStatusAsync(Within());
        var hr = (await QMgr.EnumGroupsAsync(0, Within())).Next(1, out var ids);

        // assert
        Assert.Equal(id, created.GroupID);
        Assert.Equal(id, opened.GroupID);
        Assert.Equal(QM_STATUS_GROUP_SUSPENDED, status);
        Assert.Equal(0u, jobIndex);
        Assert.Equal(S_OK, hr);
        Assert.Equal([id], ids);
    }

    [Fact]
    public async Task Queue_manager_refusals_carry_the_BITS_1_0_codes()
    {
        // arrange
        var id = Guid.NewGuid();
        await QMgr.CreateGroupAsync(id, Within());
        var bobs = Guid.NewGuid();
        using var bob = new BackgroundCopyQMgr(Alice.ForCaller("bob"));
        await bob.CreateGroupAsync(bobs, Within());

        // act
        var again = await HResultOf(() => QMgr.CreateGroupAsync(id, Within()));
        var unknown = await HResultOf(() => QMgr.GetGroupAsync(Guid.NewGuid(), Within()));
        var othersGroup = await HResultOf(() => QMgr.GetGroupAsync(bobs, Within()));
        var flags = await HResultOf(() => QMgr.EnumGroupsAsync(1, Within()));

        // assert
        Assert.Equal(E_INVALIDARG, again);
        Assert.Equal(QM_E_ITEM_NOT_FOUND, unknown);
        Assert.Equal(QM_E_ITEM_NOT_FOUND, othersGroup);
        Assert.Equal(E_NOTIMPL, flags);
    }

    [Fact]
    public async Task Enumerators_are_snapshots_with_Next_Skip_Reset_Clone_and_GetCount()
    {
        // arrange
        var ids = new[] { Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid() };
        foreach (var id in ids) await QMgr.CreateGroupAsync(id, Within());
        var groups = await QMgr.EnumGroupsAsync(0, Within());
        await QMgr.CreateGroupAsync(Guid.NewGuid(), Within()); // after the snapshot

        // act
        var first = groups.Next(2, out var firstTwo);
        var clone = groups.Clone();
        var rest = groups.Next(2, out var last);
        var cloneRest = clone.Next(5, out var fromClone);
        groups.Reset();
        var skip = groups.Skip(2);
        var skipPastEnd = groups.Skip(2);
        var afterEnd = groups.Next(1, out var none);

        // assert
        Assert.Equal(3u, groups.GetCount());
        Assert.Equal(S_OK, first);
        Assert.Equal(S_FALSE, rest);
        Assert.Equal(S_FALSE, cloneRest);
        Assert.Equal(ids.Order(), firstTwo.Concat(last).Order());
        Assert.Equal(last, fromClone);
        Assert.Equal(S_OK, skip);
        Assert.Equal(S_FALSE, skipPastEnd);
        Assert.Equal(S_FALSE, afterEnd);
        Assert.Empty(none);
    }

    [Fact]
    public async Task A_group_holds_many_jobs_each_with_its_files()
    {
        // arrange
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var first = await group.CreateJobAsync(Guid.NewGuid(), Within());
        var second = await group.CreateJobAsync(Guid.NewGuid(), Within());
        var a = new FILESETINFO("http://127.0.0.1:9/a.bin", Dir.File("a.bin"), SizeHint: 123);
        var b = new FILESETINFO("https://127.0.0.1:9/b.bin", Dir.File("b.bin"));

        // act
        await first.AddFilesAsync([a, b], Within());
        var jobs = await group.EnumJobsAsync(0, Within());
        jobs.Next(2, out var jobIds);
        var reopened = await group.GetJobAsync(second.JobID, Within());
        var count = await first.GetFileCountAsync(Within());
        var file1 = await first.GetFileAsync(1, Within());

        // assert
        Assert.Equal([first.JobID, second.JobID], jobIds);
        Assert.Equal(second.JobID, reopened.JobID);
        Assert.Equal(2u, count);
        Assert.Equal(b, file1);
        Assert.Equal(0u, (await first.GetFileAsync(0, Within())).SizeHint); // the size hint is ignored, as in BITS 1.0
        Assert.Equal(0u, await second.GetFileCountAsync(Within()));
    }

    [Fact]
    public async Task Group_and_job_refusals_carry_the_BITS_1_0_codes()
    {
        // arrange
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var job = await group.CreateJobAsync(Guid.NewGuid(), Within());
        await job.AddFilesAsync([new FILESETINFO("http://127.0.0.1:9/x", Dir.File("x"))], Within());

        // act
        var unknownJob = await HResultOf(() => group.GetJobAsync(Guid.NewGuid(), Within()));
        var usedJobId = await HResultOf(() => group.CreateJobAsync(job.JobID, Within()));
        var enumFlags = await HResultOf(() => group.EnumJobsAsync(2, Within()));
        var pastEnd = await HResultOf(() => job.GetFileAsync(1, Within()));
        var ftp = await HResultOf(() => job.AddFilesAsync([new FILESETINFO("ftp://127.0.0.1/x", Dir.File("y"))], Within()));
        var relative = await HResultOf(() => job.AddFilesAsync([new FILESETINFO("http://127.0.0.1:9/x", "y")], Within()));
        var noDirectory = await HResultOf(() => job.AddFilesAsync([new FILESETINFO("http://127.0.0.1:9/x", Dir.File("missing/y"))], Within()));
        var query = HResultOf(() => group.QueryNewJobInterface(Guid.Parse("37668D37-507E-4160-9316-26306D150B12")));
        var emptyGroup = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        await emptyGroup.CreateJobAsync(Guid.NewGuid(), Within());
        var nothingToResume = await HResultOf(() => emptyGroup.ResumeGroupAsync(Within()));

        // assert
        Assert.Equal(QM_E_ITEM_NOT_FOUND, unknownJob);
        Assert.Equal(E_INVALIDARG, usedJobId);
        Assert.Equal(E_NOTIMPL, enumFlags);
        Assert.Equal(QM_E_ITEM_NOT_FOUND, pastEnd);
        Assert.Equal(E_INVALIDARG, ftp);
        Assert.Equal(E_INVALIDARG, relative);
        Assert.Equal(E_INVALIDARG, noDirectory);
        Assert.Equal(E_NOTIMPL, query);
        Assert.Equal(QM_E_INVALID_STATE, nothingToResume);
        Assert.Equal(1u, await job.GetFileCountAsync(Within()));
    }

    [Fact]
    public async Task Group_properties_round_trip_and_survive_a_restart()
    {
        // arrange
        var id = Guid.NewGuid();
        var group = await QMgr.CreateGroupAsync(id, Within());
        var clsid = Guid.NewGuid();

        // act
        await group.SetPropAsync(GROUPPROP.GROUPPROP_DISPLAYNAME, "nightly", Within());
        await group.SetPropAsync(GROUPPROP.GROUPPROP_DESCRIPTION, "the nightly build", Within());
        await group.SetPropAsync(GROUPPROP.GROUPPROP_NOTIFYFLAGS, (short)(QM_NOTIFY_GROUP_DONE | QM_NOTIFY_JOB_DONE), Within());
        await group.SetPropAsync(GROUPPROP.GROUPPROP_NOTIFYCLSID, clsid.ToString("B"), Within());
        await group.SetPropAsync(GROUPPROP.GROUPPROP_PROTOCOLFLAGS, QM_PROTOCOL_HTTP, Within());
        await RestartNodeAsync();
        group = await QMgr.GetGroupAsync(id, Within());

        // assert
        Assert.Equal("nightly", await group.GetPropAsync(GROUPPROP.GROUPPROP_DISPLAYNAME, Within()));
        Assert.Equal("the nightly build", await group.GetPropAsync(GROUPPROP.GROUPPROP_DESCRIPTION, Within()));
        Assert.Equal((int)(QM_NOTIFY_GROUP_DONE | QM_NOTIFY_JOB_DONE), await group.GetPropAsync(GROUPPROP.GROUPPROP_NOTIFYFLAGS, Within()));
        Assert.Equal(clsid, Guid.Parse((string)await group.GetPropAsync(GROUPPROP.GROUPPROP_NOTIFYCLSID, Within())));
        Assert.Equal((int)QM_PROTOCOL_HTTP, await group.GetPropAsync(GROUPPROP.GROUPPROP_PROTOCOLFLAGS, Within()));
        Assert.Equal(1, await group.GetPropAsync(GROUPPROP.GROUPPROP_PRIORITY, Within())); // BITS 1.0's single priority is the default
    }

    [Fact]
    public async Task Group_property_refusals_carry_the_BITS_1_0_codes()
    {
        // arrange
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());

        // act
        var ftp = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_PROTOCOLFLAGS, QM_PROTOCOL_FTP, Within()));
        var wrongType = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_DISPLAYNAME, 42, Within()));
        var longType = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_PRIORITY, 1L, Within()));
        var tooLong = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_DESCRIPTION, new string('d', 1025), Within()));
        var badPriority = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_PRIORITY, 7, Within()));
        var badNotify = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_NOTIFYFLAGS, 0x8, Within()));
        var badClsid = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_NOTIFYCLSID, "not a clsid", Within()));
        var passwordFirst = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_REMOTEUSERPWD, "secret", Within()));
        var longUser = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_REMOTEUSERID, new string('u', 301), Within()));
        var localUser = await HResultOf(() => group.GetPropAsync(GROUPPROP.GROUPPROP_LOCALUSERID, Within()));
        var localPassword = await HResultOf(() => group.GetPropAsync(GROUPPROP.GROUPPROP_LOCALUSERPWD, Within()));
        var readOnly = await HResultOf(() => group.SetPropAsync(GROUPPROP.GROUPPROP_PROGRESSPERCENT, 50, Within()));
        var undefined = await HResultOf(() => group.GetPropAsync((GROUPPROP)13, Within()));
        var progressFlags = await HResultOf(() => group.GetProgressAsync(4, Within()));

        // assert
        Assert.Equal(E_INVALIDARG, ftp);
        Assert.Equal(E_INVALIDARG, wrongType);
        Assert.Equal(E_INVALIDARG, longType);
        Assert.Equal(E_INVALIDARG, tooLong);
        Assert.Equal(E_INVALIDARG, badPriority);
        Assert.Equal(E_INVALIDARG, badNotify);
        Assert.Equal(E_INVALIDARG, badClsid);
        Assert.Equal(E_INVALIDARG, passwordFirst);
        Assert.Equal(E_INVALIDARG, longUser);
        Assert.Equal(E_NOTIMPL, localUser);
        Assert.Equal(E_NOTIMPL, localPassword);
        Assert.Equal(E_NOTIMPL, readOnly);
        Assert.Equal(E_NOTIMPL, undefined);
        Assert.Equal(E_INVALIDARG, progressFlags);
        Assert.Equal("", await group.GetPropAsync(GROUPPROP.GROUPPROP_DESCRIPTION, Within()));
    }

    [Fact]
    public async Task Group_priority_applies_to_its_jobs_and_SwitchToForeground_makes_them_foreground()
    {
        // arrange
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var job = await group.CreateJobAsync(Guid.NewGuid(), Within());
        var modern = await (await Alice.GetGroupAsync(group.GroupID, Within())).GetJobAsync(job.JobID, Within());

        // act
        await group.SetPropAsync(GROUPPROP.GROUPPROP_PRIORITY, 2, Within());
        var high = (await modern.GetAsync(Within())).Priority;
        var later = await group.CreateJobAsync(Guid.NewGuid(), Within());
        var laterPriority = (await (await (await Alice.GetGroupAsync(group.GroupID, Within())).GetJobAsync(later.JobID, Within())).GetAsync(Within())).Priority;
        await group.SwitchToForegroundAsync(Within());

        // assert
        Assert.Equal(JobPriority.High, high);
        Assert.Equal(JobPriority.High, laterPriority);
        Assert.Equal(JobPriority.Foreground, (await modern.GetAsync(Within())).Priority);
        Assert.Equal(3, await group.GetPropAsync(GROUPPROP.GROUPPROP_PRIORITY, Within()));
        Assert.Equal(QM_STATUS_GROUP_SUSPENDED | QM_STATUS_GROUP_FOREGROUND, (await group.GetStatusAsync(Within())).Status);
        Assert.Equal(QM_STATUS_JOB_INCOMPLETE | QM_STATUS_JOB_FOREGROUND, (await job.GetStatusAsync(Within())).Status);
    }

    [Fact]
    public async Task Job_SwitchToForeground_moves_that_job_only()
    {
        // arrange
        var group = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());
        var job = await group.CreateJobAsync(Guid.NewGuid(), Within());
        var other = await group.CreateJobAsync(Guid.NewGuid(), Within());

        // act
        await job.SwitchToForegroundAsync(Within());

        // assert
        Assert.Equal(QM_STATUS_JOB_INCOMPLETE | QM_STATUS_JOB_FOREGROUND, (await job.GetStatusAsync(Within())).Status);
        Assert.Equal(QM_STATUS_JOB_INCOMPLETE, (await other.GetStatusAsync(Within())).Status);
        Assert.Equal(1, await group.GetPropAsync(GROUPPROP.GROUPPROP_PRIORITY, Within()));
    }

    [Fact]
    public async Task A_cancelled_group_is_gone_and_its_guid_stays_used()
    {
        // arrange
        var id = Guid.NewGuid();
        var group = await QMgr.CreateGroupAsync(id, Within());
        await group.CreateJobAsync(Guid.NewGuid(), Within());
        var kept = await QMgr.CreateGroupAsync(Guid.NewGuid(), Within());

        // act
        await group.CancelGroupAsync(Within());
        await group.CancelGroupAsync(Within()); // idempotent
        var get = await HResultOf(() => QMgr.GetGroupAsync(id, Within()));
        var staleHandle = await HResultOf(() => group.GetStatusAsync(Within()));
        var recreate = await HResultOf(() => QMgr.CreateGroupAsync(id, Within()));
        var listed = await QMgr.EnumGroupsAsync(0, Within());
        listed.Next(10, out var ids);

        // assert
        Assert.Equal(QM_E_ITEM_NOT_FOUND, get);
        Assert.Equal(QM_E_INVALID_STATE, staleHandle);
        Assert.Equal(E_INVALIDARG, recreate);
        Assert.Equal([kept.GroupID], ids);
    }
}
