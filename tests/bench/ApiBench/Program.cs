// tests/bench/ApiBench: API calls answered per second and their latency while transfers run, Qmgr's REST API beside
// aria2c's JSON-RPC, on the same loopback file server in the same run. Not a test; tests/bench/api.sh runs it.
//
//   dotnet ApiBench.dll QMGR_DLL BASE_URL FILE_PATH [JOBS=16] [SECONDS=10] [CONCURRENCY=8] [RATE_PER_JOB=4194304]
//
// Qmgr: starts `qmgr serve` (its own data directory, port picked by the OS, the api-token), creates JOBS groups of one
// job each, capped at RATE_PER_JOB bytes/s so they keep transferring, resumes them and waits until all are
// Transferring; then CONCURRENCY workers call the API for SECONDS: 9 in 10 calls GET /api/v1/jobs/{id} (a query), 1 in
// 10 PUT …/properties/Description (a command, journaled). aria2c: `aria2c --enable-rpc` with the same JOBS downloads
// at the same per-download limit, then the same workers call aria2.tellStatus (9 in 10) and aria2.changeOption
// (1 in 10). Output: `name value unit` lines; ratios are qmgr / aria2c.
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Qmgr.Client;
using Qmgr.Groups;
using Qmgr.Jobs;

var qmgrDll = args[0];
var baseUrl = args[1].TrimEnd('/');
var filePath = args[2].TrimStart('/');
var jobs = args.Length > 3 ? int.Parse(args[3]) : 16;
var seconds = args.Length > 4 ? int.Parse(args[4]) : 10;
var concurrency = args.Length > 5 ? int.Parse(args[5]) : 8;
var ratePerJob = args.Length > 6 ? long.Parse(args[6]) : 4L * 1024 * 1024;
var work = Directory.CreateTempSubdirectory("qmgr-apibench-").FullName;

void Fig(string name, double value, string unit) => Console.WriteLine($"{name} {value:0.###} {unit}");
void Say(string text) => Console.Error.WriteLine($"apibench: {text}");

// ---- Qmgr ----
var data = Path.Combine(work, "qmgr-data");
var targets = Path.Combine(work, "qmgr-files");
Directory.CreateDirectory(targets);
var serve = new ProcessStartInfo("dotnet", [qmgrDll, "serve", "--data-dir", data, "--urls", "http://127.0.0.1:0"])
{
    RedirectStandardError = true,
    RedirectStandardOutput = true,
    Environment =
    {
        ["QMGR_HOCON"] = $"qmgr.transfer.max-concurrent-per-node = {jobs}\nqmgr.transfer.max-concurrent-per-host = {jobs}\nqmgr.api.requests-per-second = 0",
    },
};
using var server = Process.Start(serve)!;
server.ErrorDataReceived += (_, _) => { };
server.BeginErrorReadLine();
server.BeginOutputReadLine();
var endpointFile = Path.Combine(data, "service.json");
var started = Stopwatch.StartNew();
while (!File.Exists(endpointFile) && started.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(50);
var url = JsonDocument.Parse(File.ReadAllText(endpointFile)).RootElement.GetProperty("Url").GetString()!;
var token = File.ReadAllText(Path.Combine(data, "api-token")).Trim();
Say($"qmgr serve at {url} after {started.Elapsed.TotalSeconds:0.0} s");
try
{
    using var qm = await HttpQueueManager.ConnectAsync(new Uri(url), token);
    var handles = new List<Qmgr.Api.IJob>();
    for (var i = 0; i < jobs; i++)
    {
        var group = await qm.CreateGroupAsync($"bench {i}", maxBytesPerSecond: ratePerJob);
        var job = await group.CreateJobAsync($"bench {i}");
        await job.AddFilesAsync([($"{baseUrl}/{filePath}", Path.Combine(targets, $"f{i}.bin"))]);
        await job.ResumeAsync();
        handles.Add(job);
    }
    using (var ready = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        await Task.WhenAll(handles.Select(h => h.WaitAsync(j => j.State == JobState.Transferring && j.BytesTransferred > 0, ready.Token)));
    var bytesBefore = (await Task.WhenAll(handles.Select(h => h.GetAsync()))).Sum(j => j.BytesTransferred);
    Say($"{jobs} jobs transferring; measuring {seconds} s with {concurrency} workers");

    using var http = new HttpClient { BaseAddress = new Uri(url) };
    http.DefaultRequestHeaders.Authorization = new("Bearer", token);
    var ids = handles.Select(h => h.Id).ToArray();
    var (reads, writes, errors) = await HammerAsync(seconds, concurrency, async (n, ct) =>
    {
        var id = ids[n % ids.Length];
        if (n % 10 == 9)
        {
            using var r = await http.PutAsJsonAsync($"api/v1/jobs/{id}/properties/Description", new SetPropertyRequest($"call {n}"), ApiJson.Options, ct);
            return (true, r.IsSuccessStatusCode);
        }
        using var q = await http.GetAsync($"api/v1/jobs/{id}", ct);
        await q.Content.LoadIntoBufferAsync(ct);
        return (false, q.IsSuccessStatusCode);
    });
    var after = await Task.WhenAll(handles.Select(h => h.GetAsync()));
    Report("qmgr", reads, writes, errors);
    Fig("qmgr_transfers_during_api_load", after.Count(j => j.State == JobState.Transferring), "jobs");
    Fig("qmgr_transfer_rate_during_api_load", (after.Sum(j => j.BytesTransferred) - bytesBefore) / (double)seconds / 1048576, "MiB/s");
}
finally
{
    server.Kill(entireProcessTree: true);
    await server.WaitForExitAsync();
}

// ---- aria2c ----
var rpcPort = 16800 + Random.Shared.Next(1000);
var aria = Process.Start(new ProcessStartInfo("aria2c", [
    "--no-conf", "--enable-rpc", "--rpc-listen-all=false", $"--rpc-listen-port={rpcPort}", "--rpc-secret=bench",
    $"--max-concurrent-downloads={jobs}", $"--max-download-limit={ratePerJob}", "-d", Path.Combine(work, "aria2-files"),
    "--allow-overwrite=true", "--auto-file-renaming=false", "-q"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
try
{
    using var rpc = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{rpcPort}/") };
    async Task<JsonElement> CallAsync(string method, object[] parameters, CancellationToken ct = default)
    {
        // aria2 reads no chunked request body: send it with a Content-Length
        using var body = new StringContent(JsonSerializer.Serialize(new { jsonrpc = "2.0", id = "b", method, @params = parameters.Prepend("token:bench").ToArray() }));
        using var r = await rpc.PostAsync("jsonrpc", body, ct);
        var answer = await r.Content.ReadFromJsonAsync<JsonElement>(ct);
        return answer.TryGetProperty("result", out var result) ? result : throw new InvalidOperationException($"{method}: {answer}");
    }
    var up = Stopwatch.StartNew();
    while (true)
    {
        try { await CallAsync("aria2.getVersion", []); break; }
        catch (HttpRequestException) when (up.Elapsed < TimeSpan.FromSeconds(10)) { await Task.Delay(50); }
    }
    var gids = new List<string>();
    for (var i = 0; i < jobs; i++)
        gids.Add((await CallAsync("aria2.addUri", [new[] { $"{baseUrl}/{filePath}" }, new { @out = $"f{i}.bin" }])).GetString()!);
    var deadline = Stopwatch.StartNew();
    while (deadline.Elapsed < TimeSpan.FromSeconds(30))
    {
        var active = await CallAsync("aria2.tellActive", [new[] { "gid", "completedLength" }]);
        if (active.GetArrayLength() == jobs && active.EnumerateArray().All(a => long.Parse(a.GetProperty("completedLength").GetString()!) > 0)) break;
        await Task.Delay(50);
    }
    Say($"aria2c: {jobs} downloads active; measuring {seconds} s with {concurrency} workers");
    var (reads, writes, errors) = await HammerAsync(seconds, concurrency, async (n, ct) =>
    {
        var gid = gids[n % gids.Count];
        if (n % 10 == 9)
        {
            await CallAsync("aria2.changeOption", [gid, new Dictionary<string, string> { ["max-download-limit"] = ratePerJob.ToString() }], ct);
            return (true, true);
        }
        await CallAsync("aria2.tellStatus", [gid], ct);
        return (false, true);
    });
    Report("aria2c", reads, writes, errors);
}
finally
{
    aria.Kill(entireProcessTree: true);
    await aria.WaitForExitAsync();
    Directory.Delete(work, recursive: true);
}

void Report(string tool, List<double> reads, List<double> writes, int errors)
{
    var all = reads.Concat(writes).ToList();
    Fig($"{tool}_api_calls_per_second", all.Count / (double)seconds, "calls/s");
    Fig($"{tool}_api_query_p50", Percentile(reads, 0.50), "ms");
    Fig($"{tool}_api_query_p99", Percentile(reads, 0.99), "ms");
    Fig($"{tool}_api_command_p50", Percentile(writes, 0.50), "ms");
    Fig($"{tool}_api_command_p99", Percentile(writes, 0.99), "ms");
    Fig($"{tool}_api_errors", errors, "calls");
}

static double Percentile(List<double> values, double p)
{
    if (values.Count == 0) return double.NaN;
    var sorted = values.Order().ToList();
    return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

// CONCURRENCY workers call `call(n)` for SECONDS; latencies in ms, split into queries and commands.
static async Task<(List<double> Reads, List<double> Writes, int Errors)> HammerAsync(int seconds, int concurrency, Func<int, CancellationToken, Task<(bool Write, bool Ok)>> call)
{
    var reads = new List<double>();
    var writes = new List<double>();
    var errors = 0;
    var counter = 0;
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            var n = Interlocked.Increment(ref counter);
            var t = Stopwatch.GetTimestamp();
            try
            {
                var (write, ok) = await call(n, CancellationToken.None);
                var ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                lock (reads) (write ? writes : reads).Add(ms);
                if (!ok) Interlocked.Increment(ref errors);
            }
            catch (Exception) { Interlocked.Increment(ref errors); }
        }
    })));
    return (reads, writes, errors);
}
