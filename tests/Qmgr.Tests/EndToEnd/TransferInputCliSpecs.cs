using System.Text.Json;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.EndToEnd;

/// <summary>
/// <c>qmgr transfer</c>'s input checks (nothing is created when BITS's limits would refuse a later call; an unknown option
/// is named as one), <c>-i LISTFILE</c> (jobs of at most 200 files in one group) and <c>--minimum-retry-delay</c>.
/// </summary>
public sealed class TransferInputCliSpecs() : CliSpecs(TimeSpan.FromSeconds(120))
{
    [Fact]
    public async Task Transfer_of_201_files_or_a_too_long_url_creates_nothing()
    {
        // arrange: a store with one finished group, so list shows what exists
        var url = Server.Add("/one.bin", LoopbackFileServer.Content(100, seed: 51)).ToString();
        var other = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, "--display-name", "other", url, Dir.File("other.bin"));
        Assert.True(other.ExitCode == 0, other.ToString());
        var outDir = Dir.Sub("many");
        var pairs = Enumerable.Range(0, 201).SelectMany(i => new[] { url, Path.Combine(outDir, $"{i}.bin") }).ToArray();
        var longUrl = url + "?" + new string('q', 2200);

        // act
        var tooMany = await QmgrProcess.RunAsync(Deadline, ["transfer", "--data-dir", DataDir, .. pairs]);
        var tooLong = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, longUrl, Path.Combine(outDir, "long.bin"));
        var list = await QmgrProcess.RunAsync(Deadline, "list", "--all", "--json", "--data-dir", DataDir);

        // assert
        Assert.True(tooMany.ExitCode == 2, tooMany.ToString());
        Assert.Contains("201 files", tooMany.Stderr);
        Assert.Contains("nothing was created", tooMany.Stderr);
        Assert.True(tooLong.ExitCode == 2, tooLong.ToString());
        Assert.Contains("longer than 2200 characters", tooLong.Stderr);
        Assert.True(list.ExitCode == 0, list.ToString());
        var group = Assert.Single(JsonDocument.Parse(list.Stdout).RootElement.EnumerateArray());
        Assert.Equal("other", group.GetProperty("displayName").GetString());
        Assert.Single(new Journal(DataDir).Events<JobCreated>()); // the other group's job only
        Assert.Empty(Directory.GetFiles(outDir));
    }

    [Fact]
    public async Task Transfer_with_an_unknown_option_names_it_and_creates_nothing()
    {
        // act
        var result = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, "-o", Dir.File("f.bin"), Server.UrlOf("/f.bin").ToString());

        // assert
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal("qmgr: unknown option -o", result.Stderr.Split('\n')[0].Trim());
        Assert.DoesNotContain("URL FILE pairs", result.Stderr);
        Assert.False(Directory.Exists(DataDir));
    }

    [Fact]
    public async Task Transfer_input_file_splits_its_files_into_jobs_of_at_most_200_in_one_group()
    {
        // arrange: 203 small files listed as aria2c -i would take them
        var outDir = Dir.Sub("in");
        var contents = Enumerable.Range(0, 203).Select(i => LoopbackFileServer.Content(64 + i, seed: 1000 + i)).ToArray();
        var lines = contents.Select((c, i) => $"{Server.Add($"/i/{i}.bin", c)} {Path.Combine(outDir, $"{i}.bin")}");
        var list = Dir.File("input.txt");
        await File.WriteAllLinesAsync(list, ["# many files", .. lines]);

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, "-i", list, "--minimum-retry-delay", "7s");

        // assert
        Assert.True(result.ExitCode == 0, result.ToString());
        for (var i = 0; i < contents.Length; i++) Assert.Equal(contents[i], File.ReadAllBytes(Path.Combine(outDir, $"{i}.bin")));
        var group = Assert.Single(new Journal(DataDir).Groups());
        Assert.Equal([200, 3], group.Jobs.Select(j => j.Files.Count));
        Assert.All(group.Jobs, j => Assert.Equal(JobState.Acknowledged, j.State));
        Assert.All(group.Jobs, j => Assert.Equal(TimeSpan.FromSeconds(7), j.MinimumRetryDelay));
    }
}
