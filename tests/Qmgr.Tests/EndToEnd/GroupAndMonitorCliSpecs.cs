using System.Text.Json;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.EndToEnd;

/// <summary>The <c>qmgr group ...</c> verbs, <c>cancel</c> by group and <c>qmgr monitor</c> of the real executable, on one data directory.</summary>
public sealed class GroupAndMonitorCliSpecs() : CliSpecs(TimeSpan.FromSeconds(90))
{
    private static JsonElement JobOf(JsonElement group, string job) =>
        group.GetProperty("jobs").EnumerateArray().Single(j => j.GetProperty("job").GetString() == job);

    [Fact]
    public async Task Group_verbs_create_set_resume_suspend_and_cancel_a_group_and_its_jobs()
    {
        // arrange: a group with a cap and a priority, two jobs in it (one with a file that a 1 KiB/s cap keeps busy, one empty)
        var group = (await Ok("group", "create", "nightly", "--priority", "high", "--max-bandwidth", "1M")).Stdout.Trim();
        var withFile = Json(await Ok("create", "with a file", "--group", group[..8], "--json")).GetProperty("job").GetString()!;
        var empty = Json(await Ok("create", "empty", "--group", group, "--json")).GetProperty("job").GetString()!;
        await Ok("addfile", withFile, Server.Add("/g.bin", LoopbackFileServer.Content(200_000, seed: 41)).ToString(), Dir.File("g.bin"));

        // act
        var created = Json(await Ok("group", "info", group, "--json"));
        await Ok("group", "set", group, "description", "every night");
        await Ok("group", "set", group, "MAXBYTESPERSECOND", "1K");
        var badProperty = await Run("group", "set", group, "colour", "blue");
        var resume = await Run("group", "resume", group, "--json"); // the empty job refuses (BG_E_EMPTY), the other resumes
        var resumed = Json(await Ok("group", "info", group, "--json"));
        await Ok("group", "suspend", group);
        var suspended = Json(await Ok("group", "info", group, "--json"));
        var listed = Json(await Ok("group", "list", "--json"));
        var cancel = await Ok("group", "cancel", group[..6]);
        var afterCancel = Json(await Ok("group", "list", "--json"));
        var gone = await Run("group", "info", group);

        // assert
        Assert.Equal("High", created.GetProperty("priority").GetString());
        Assert.StartsWith("akka.tcp://qmgr@127.0.0.1:", created.GetProperty("node").GetString()); // the CLI's own node runs it
        Assert.Equal(1024 * 1024, created.GetProperty("maxBytesPerSecond").GetInt64());
        Assert.Equal("High", JobOf(created, withFile).GetProperty("priority").GetString()); // the group's priority is its jobs' default
        Assert.True(badProperty.ExitCode == 2, badProperty.ToString());
        Assert.Contains("colour", badProperty.Stderr);
        Assert.True(resume.ExitCode == 2, resume.ToString()); // one job refused
        Assert.Contains("0x80200003", resume.Stdout); // BG_E_EMPTY for the empty job
        Assert.Contains(JobOf(resumed, withFile).GetProperty("state").GetString(), new[] { "Queued", "Connecting", "Transferring" });
        Assert.Equal("Suspended", JobOf(resumed, empty).GetProperty("state").GetString());
        Assert.Equal("every night", resumed.GetProperty("description").GetString());
        Assert.Equal(1024, resumed.GetProperty("maxBytesPerSecond").GetInt64());
        Assert.Equal("Suspended", JobOf(suspended, withFile).GetProperty("state").GetString());
        Assert.Equal(group, Assert.Single(listed.EnumerateArray()).GetProperty("group").GetString());
        Assert.Contains("2 unfinished jobs cancelled", cancel.Stdout);
        Assert.Equal(0, afterCancel.GetArrayLength());
        Assert.True(gone.ExitCode == 2, gone.ToString());
        Assert.Contains($"no group matches '{group}'", gone.Stderr);
        Assert.All(new Journal(DataDir).Groups().Single().Jobs, j => Assert.Equal(JobState.Cancelled, j.State));
    }

    [Fact]
    public async Task Cancel_by_group_id_cancels_its_unfinished_jobs_and_keeps_the_group()
    {
        // arrange
        var group = (await Ok("group", "create", "two jobs")).Stdout.Trim();
        await Ok("create", "one", "--group", group);
        await Ok("create", "two", "--group", group);

        // act
        var cancel = await Ok("cancel", group[..10]);
        var groups = Json(await Ok("group", "list", "--json"));

        // assert
        Assert.Equal(2, cancel.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith("cancelled job ", StringComparison.Ordinal)));
        var listed = Assert.Single(groups.EnumerateArray());
        Assert.All(listed.GetProperty("jobs").EnumerateArray(), j => Assert.Equal("Cancelled", j.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task Monitor_redirected_prints_a_line_per_state_change_of_the_jobs_it_carries_on()
    {
        // arrange: a resumed job left Queued in the journal. In process, monitor holds the data directory and runs its
        // node, so it carries the job on itself (another process cannot act on the directory while it runs; with a
        // service, other processes would go through the service instead).
        var content = LoopbackFileServer.Content(200_000, seed: 42);
        var url = Server.Add("/m.bin", content);
        var job = Json(await Ok("create", "watched", "--json")).GetProperty("job").GetString()!;
        await Ok("addfile", job, url.ToString(), Dir.File("m.bin"));
        await Ok("resume", job);

        // act
        using var monitor = QmgrProcess.Start("monitor", "--data-dir", DataDir);
        var snapshot = await monitor.WaitForStdoutLineAsync(l => l.Contains(job, StringComparison.Ordinal), Deadline);
        var transferred = await monitor.WaitForStdoutLineAsync(l => l.Contains(job, StringComparison.Ordinal) && l.Contains("-> Transferred", StringComparison.Ordinal), Deadline);
        monitor.Kill();

        // assert
        Assert.Contains("watched", snapshot);
        Assert.Contains("files 1/1", transferred);
        Assert.Equal(JobState.Transferred, new Journal(DataDir).Groups().Single().Jobs.Single().State);
    }
}
