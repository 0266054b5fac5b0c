using System.Net.Http.Headers;
using System.Text.Json;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.EndToEnd;

/// <summary>The real <c>qmgr</c> executable as a service and as its client: CLI verbs on the data directory of a running
/// <c>qmgr serve</c> go through its REST API (the one façade), and a verb aimed at no service says so.</summary>
public sealed class ServiceCliSpecs() : CliSpecs(TimeSpan.FromSeconds(60))
{
    private async Task<(QmgrProcess Serve, Uri Url, string Token)> StartServiceAsync()
    {
        var serve = QmgrProcess.Start("serve", "--data-dir", DataDir, "--urls", "http://127.0.0.1:0");
        var endpoint = Path.Combine(DataDir, "service.json");
        using var cts = new CancellationTokenSource(Deadline);
        while (!File.Exists(endpoint) || new FileInfo(endpoint).Length == 0)
        {
            Assert.False(serve.HasExited, "qmgr serve exited");
            await Task.Delay(50, cts.Token);
        }
        var url = JsonDocument.Parse(await File.ReadAllTextAsync(endpoint)).RootElement.GetProperty("Url").GetString()!;
        return (serve, new Uri(url), (await File.ReadAllTextAsync(Path.Combine(DataDir, "api-token"))).Trim());
    }

    [Fact]
    public async Task Transfer_and_list_on_the_data_directory_of_a_running_service_go_through_its_api()
    {
        var (serve, url, token) = await StartServiceAsync();
        using (serve)
        {
            var content = LoopbackFileServer.Content(80_000, 17);
            var source = Server.Add("/through-service.bin", content);

            var transfer = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", DataDir, source.AbsoluteUri, Dir.File("through-service.bin"));
            var list = await QmgrProcess.RunAsync(Deadline, "list", "--data-dir", DataDir, "--all", "--json");

            Assert.True(transfer.ExitCode == 0, transfer.ToString());
            Assert.Equal(content, File.ReadAllBytes(Dir.File("through-service.bin")));
            Assert.True(list.ExitCode == 0, list.ToString());
            Assert.Contains("through-service.bin", list.Stdout);
            // the service's own API knows the job: the CLI went through it (the directory's lock is the service's)
            using var http = new HttpClient { BaseAddress = url };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var jobs = await http.GetStringAsync("api/v1/jobs?includeFinal=true");
            Assert.Contains("through-service.bin", jobs);

            serve.Terminate();
            var stopped = await serve.WaitAsync(Deadline);
            Assert.True(stopped.ExitCode == 0, stopped.ToString());
            Assert.False(File.Exists(Path.Combine(DataDir, "service.json")));
        }
    }

    [Fact]
    public async Task A_verb_aimed_at_no_service_exits_3_and_names_the_command_that_starts_one()
    {
        var result = await QmgrProcess.RunAsync(Deadline, "list", "--data-dir", DataDir, "--server", "http://127.0.0.1:9");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("qmgr serve", result.Stderr);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task A_wrong_token_is_refused_in_one_line()
    {
        var (serve, url, _) = await StartServiceAsync();
        using (serve)
        {
            var result = await QmgrProcess.RunAsync(Deadline, "list", "--data-dir", DataDir, "--server", url.AbsoluteUri, "--token", "not-a-token");

            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains("unknown bearer token", result.Stderr);
            serve.Terminate();
            await serve.WaitAsync(Deadline);
        }
    }
}
