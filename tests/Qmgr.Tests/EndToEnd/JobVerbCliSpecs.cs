using System.Text.Json;
using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.EndToEnd;

/// <summary>
/// The bitsadmin-style job verbs (create, addfile, addfileset, resume, complete, info, get*, set*, list) of the real
/// <c>qmgr</c> executable, each run as its own process on one data directory (an in-process node per verb), against a
/// loopback Kestrel server.
/// </summary>
public sealed class JobVerbCliSpecs() : CliSpecs(TimeSpan.FromSeconds(90))
{
    /// <summary><c>qmgr VERB ARGS --data-dir DATA</c> to its end.</summary>

    private async Task<(string Group, string Job)> CreateAsync(string name, params string[] options)
    {
        var created = Json(await Ok(["create", name, "--json", .. options]));
        return (created.GetProperty("group").GetString()!, created.GetProperty("job").GetString()!);
    }

    [Fact]
    public async Task Create_addfileset_resume_and_complete_deliver_every_file_byte_exact()
    {
        // arrange: three files, a list file with a comment, a blank line and a quoted FILE
        var outDir = Dir.Sub("out dir");
        var contents = Enumerable.Range(1, 3).Select(i => LoopbackFileServer.Content(100_000 * i + i, seed: 20 + i)).ToArray();
        var urls = contents.Select((c, i) => Server.Add($"/set/{i}.bin", c)).ToArray();
        var list = Dir.File("files.txt");
        await File.WriteAllTextAsync(list, $"""
            # three files, as bitsadmin /addfileset takes them
            {urls[0]} "{Path.Combine(outDir, "0.bin")}"

            {urls[1]} "{Path.Combine(outDir, "1.bin")}"
            {urls[2]} "{Path.Combine(outDir, "2.bin")}"
            """);
        var (_, job) = await CreateAsync("three files");

        // act
        var added = await Ok("addfileset", job[..8], list);
        var suspended = await Ok("getstate", job);
        await Ok("resume", job);
        var served = await QmgrProcess.RunAsync(Deadline, "serve", "--data-dir", DataDir, "--urls", "http://127.0.0.1:0", "--exit-when-idle"); // carries the job on until Transferred
        var transferred = await Ok("getstate", job);
        var total = await Ok("getbytestotal", job);
        var done = await Ok("getbytestransferred", job);
        var noError = await Ok("geterror", job);
        var complete = await Ok("complete", job);
        var final = await Ok("getstate", job[..6]); // final jobs are found too by get* verbs

        // assert
        Assert.Contains("added 3 files", added.Stdout);
        Assert.Equal("Suspended", suspended.Stdout.Trim());
        Assert.True(served.ExitCode == 0, served.ToString());
        Assert.Equal("Transferred", transferred.Stdout.Trim());
        Assert.Equal(contents.Sum(c => c.Length).ToString(), total.Stdout.Trim());
        Assert.Equal(total.Stdout.Trim(), done.Stdout.Trim());
        Assert.Equal("no error", noError.Stdout.Trim());
        Assert.Contains("completed", complete.Stdout);
        Assert.DoesNotContain("partially", complete.Stdout);
        Assert.Equal("Acknowledged", final.Stdout.Trim());
        for (var i = 0; i < 3; i++) Assert.Equal(contents[i], File.ReadAllBytes(Path.Combine(outDir, $"{i}.bin")));
        Assert.Equal(3, Directory.GetFiles(outDir).Length); // no temp file left
    }

    [Fact]
    public async Task Unknown_or_ambiguous_id_prefix_is_exit_two_naming_exactly_what_was_typed()
    {
        // arrange: two jobs whose ids share the prefix aaaa (made with the embedding API, as the OS user the CLI acts for)
        var first = Guid.Parse("aaaa1111-0000-4000-8000-000000000001");
        var second = Guid.Parse("aaaa2222-0000-4000-8000-000000000002");
        await using (var node = HostedQmgr.Start(DataDir))
        {
            var qm = QueueManager.Create(node.System, Environment.UserName);
            var group = await qm.CreateGroupAsync("prefixes");
            await group.CreateJobAsync("first", jobId: first);
            await group.CreateJobAsync("second", jobId: second);
        }

        // act
        var ambiguous = await Run("getstate", "aaaa");
        var unknown = await Run("info", "bbbb-cc");
        var garbage = await Run("resume", "xyz!");
        var cancelAmbiguous = await Run("cancel", "AAAA");
        var unique = await Run("getstate", "aaaa2");

        // assert
        foreach (var refused in new[] { ambiguous, unknown, garbage, cancelAmbiguous })
        {
            Assert.True(refused.ExitCode == 2, refused.ToString());
            Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.DoesNotContain("00000000-0000-0000-0000-000000000000", refused.Stderr);
        }
        Assert.Contains("'aaaa' matches 2 jobs", ambiguous.Stderr);
        Assert.Contains(first.ToString("D"), ambiguous.Stderr);
        Assert.Contains(second.ToString("D"), ambiguous.Stderr);
        Assert.Contains("no job matches 'bbbb-cc'", unknown.Stderr);
        Assert.Contains("'xyz!'", garbage.Stderr);
        Assert.Contains("'AAAA'", cancelAmbiguous.Stderr);
        Assert.True(unique.ExitCode == 0, unique.ToString());
        Assert.Equal("Suspended", unique.Stdout.Trim());
        Assert.Empty(Journal().Events<JobCancelled>());
    }

    private Journal Journal() => new(DataDir);

    [Fact]
    public async Task Addfileset_with_a_malformed_line_adds_nothing_and_names_the_line()
    {
        // arrange
        var (_, job) = await CreateAsync("all or none");
        var list = Dir.File("bad.txt");
        await File.WriteAllTextAsync(list, $"""
            {Server.UrlOf("/a.bin")} {Dir.File("a.bin")}
            # a comment
            {Server.UrlOf("/b.bin")}
            {Server.UrlOf("/c.bin")} {Dir.File("c.bin")}
            """);
        var badUrl = Dir.File("bad-url.txt");
        await File.WriteAllTextAsync(badUrl, $"{Server.UrlOf("/a.bin")} {Dir.File("a.bin")}\nftp://x/y {Dir.File("y.bin")}\n");

        // act
        var malformed = await Run("addfileset", job, list);
        var wrongScheme = await Run("addfileset", job, badUrl);
        var info = Json(await Ok("info", job, "--json"));

        // assert
        Assert.True(malformed.ExitCode == 2, malformed.ToString());
        Assert.Contains($"{list}:3: expected URL FILE", malformed.Stderr);
        Assert.True(wrongScheme.ExitCode == 2, wrongScheme.ToString());
        Assert.Contains($"{badUrl}:2: not an absolute http or https URL", wrongScheme.Stderr);
        Assert.Equal(0, info.GetProperty("filesTotal").GetInt32());
        Assert.Empty(Journal().Events<FilesAdded>());
    }

    [Fact]
    public async Task List_leaves_final_jobs_out_unless_all_and_a_data_directory_without_a_store_is_exit_three()
    {
        // arrange: one Acknowledged job (transfer) and one Suspended job
        var noStore = await QmgrProcess.RunAsync(Deadline, "list", "--data-dir", Dir.File("empty"));
        var url = Server.Add("/done.bin", LoopbackFileServer.Content(5000, seed: 31));
        var transfer = await Run("transfer", "--display-name", "finished", url.ToString(), Dir.File("done.bin"));
        Assert.True(transfer.ExitCode == 0, transfer.ToString());
        var (_, waiting) = await CreateAsync("waiting");

        // act
        var unfinished = Json(await Ok("list", "--json"));
        var all = Json(await Ok("list", "--all", "--json"));
        var text = await Ok("list");

        // assert
        Assert.True(noStore.ExitCode == 3, noStore.ToString());
        Assert.Contains(Path.Combine(Dir.File("empty"), "qmgr.db"), noStore.Stderr);
        Assert.Single(noStore.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var group = Assert.Single(unfinished.EnumerateArray());
        var job = Assert.Single(group.GetProperty("jobs").EnumerateArray());
        Assert.Equal(waiting, job.GetProperty("job").GetString());
        Assert.Equal(2, all.GetArrayLength());
        Assert.Contains(all.EnumerateArray(), g => g.GetProperty("displayName").GetString() == "finished"
                                                   && g.GetProperty("jobs")[0].GetProperty("state").GetString() == "Acknowledged");
        Assert.Contains(waiting, text.Stdout);
        Assert.Contains("Suspended", text.Stdout);
        Assert.DoesNotContain("finished", text.Stdout);
    }

    [Fact]
    public async Task Set_verbs_change_what_info_json_shows()
    {
        // arrange
        var (group, job) = await CreateAsync("to change");

        // act
        await Ok("setpriority", job, "HIGH");
        await Ok("setdisplayname", job, "changed name");
        await Ok("setdescription", job, "a longer description");
        await Ok("setminretrydelay", job, "2m");
        await Ok("setnoprogresstimeout", job, "1h30m");
        await Ok("setnotifyflags", job, "0xB");
        await Ok("setcustomheaders", job, "X-Trace: 1", "X-Tenant: qmgr");
        await Ok("setcredentials", job, "server", "basic", "alice", "s3cret");
        var cap = await Ok("setmaxbandwidth", group, "10M");
        var badRate = await Run("setmaxbandwidth", group, "10 parsecs");
        var info = Json(await Ok("info", job, "--json"));
        var groupInfo = Json(await Ok("list", "--json")).EnumerateArray().Single(g => g.GetProperty("group").GetString() == group);
        var verbose = await Ok("info", job, "--verbose");

        // assert
        Assert.Equal("High", info.GetProperty("priority").GetString());
        Assert.Equal("changed name", info.GetProperty("displayName").GetString());
        var properties = info.GetProperty("properties");
        Assert.Equal("a longer description", properties.GetProperty("description").GetString());
        Assert.Equal(120, properties.GetProperty("minimumRetryDelaySeconds").GetInt64());
        Assert.Equal(5400, properties.GetProperty("noProgressTimeoutSeconds").GetInt64());
        Assert.Equal(0xB, properties.GetProperty("notifyFlags").GetInt32());
        Assert.True(properties.GetProperty("customHeaders").GetBoolean());
        Assert.Equal("server basic", Assert.Single(properties.GetProperty("credentials").EnumerateArray()).GetString());
        Assert.Equal(10L * 1024 * 1024, groupInfo.GetProperty("maxBytesPerSecond").GetInt64());
        Assert.Contains("10485760", cap.Stdout);
        Assert.True(badRate.ExitCode == 2, badRate.ToString());
        Assert.Contains("10 parsecs", badRate.Stderr);
        Assert.Contains("description  a longer description", verbose.Stdout);
        Assert.DoesNotContain("s3cret", verbose.Stdout + info.ToString());
        Assert.DoesNotContain("X-Tenant", verbose.Stdout + info.ToString()); // header values are never shown
    }
}
