// ThrottleBench: how long a High job takes to get the node's bandwidth when it starts while Normal jobs run.
//
//   dotnet ThrottleBench.dll URL CAP_BYTES_PER_SECOND WORK_DIR [NORMAL_JOBS=3] [STEADY_SECONDS=3] [AFTER_SECONDS=3]
//
// Embeds Qmgr (services.AddQmgr, SQLite journal in WORK_DIR/data) with qmgr.bandwidth.max-bytes-per-second = CAP and
// checkpoints every 50 ms, starts NORMAL_JOBS Normal jobs on URL (a file large enough for the whole run), waits
// STEADY_SECONDS once all are Transferring, then resumes one High job on URL and polls the group every 10 ms for
// AFTER_SECONDS. Prints `name value unit` lines on stdout (progress on stderr):
//   high_to_transferring   s  from Resume(High) to the High job's Transferring state
//   high_to_first_bytes    s  to its first checkpoint with bytes (upper bound on the first byte: + <= 50 ms)
//   high_to_rate           s  to the end of the first 500 ms window in which it moved >= 90 % of CAP * 0.5 s
//   normals_to_queued      s  to all Normal jobs back in Queued (preempted, BITS T8)
//   high_rate_ratio        x  High's bytes / (CAP * time) from its first bytes to the end of the run
//   normal_bytes_during_high MiB  Normal bytes checkpointed between their preemption and the end of the run
// Times come from the journaled checkpoints as read through GroupClient, so they are accurate to ~60 ms.
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qmgr;
using Qmgr.Groups;
using Qmgr.Hosting;
using Qmgr.Jobs;
using static Qmgr.Groups.GroupCommands;

if (args.Length < 3) { Console.Error.WriteLine("usage: ThrottleBench URL CAP_BYTES_PER_SECOND WORK_DIR [NORMAL_JOBS] [STEADY_SECONDS] [AFTER_SECONDS]"); return 2; }
var url = args[0];
var cap = long.Parse(args[1]);
var work = Path.GetFullPath(args[2]);
var normals = args.Length > 3 ? int.Parse(args[3]) : 3;
var steady = TimeSpan.FromSeconds(args.Length > 4 ? double.Parse(args[4]) : 3);
var after = TimeSpan.FromSeconds(args.Length > 5 ? double.Parse(args[5]) : 3);
Directory.CreateDirectory(work);

var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
builder.Services.AddQmgr(new QmgrOptions
{
    DataDirectory = Path.Combine(work, "data"),
    Overrides = ConfigurationFactory.ParseString($"""
        qmgr.bandwidth.max-bytes-per-second = {cap}
        qmgr.transfer.checkpoint-interval = 50ms
        akka.loglevel = WARNING
        """),
});
using var host = builder.Build();
await host.StartAsync();
var qm = GroupClient.From(host.Services.GetRequiredService<ActorSystem>());
const string owner = "bench";
var group = Guid.NewGuid();
await qm.SendAsync(new CreateGroup(group, owner, "throttle bench", JobPriority.Normal, 0));
async Task<Guid> Job(string name, JobPriority priority)
{
    var id = Guid.NewGuid();
    await qm.SendAsync(new CreateJob(group, owner, id, name, priority, JobOptions.Default));
    await qm.SendAsync(new AddFiles(group, owner, id, [new FileSpec(url, Path.Combine(work, name))]));
    return id;
}
var normalIds = new List<Guid>();
for (var i = 0; i < normals; i++) normalIds.Add(await Job($"normal{i}.bin", JobPriority.Normal));
var high = await Job("high.bin", JobPriority.High);

foreach (var id in normalIds) await qm.SendAsync(new ResumeJob(group, owner, id));
var wait = Stopwatch.StartNew();
while ((await qm.GetGroupAsync(group)).Jobs.Count(j => normalIds.Contains(j.Id) && j.State == JobState.Transferring) < normals)
{
    if (wait.Elapsed > TimeSpan.FromSeconds(60)) { Console.Error.WriteLine("Normal jobs did not start"); return 1; }
    await Task.Delay(10);
}
Console.Error.WriteLine($"throttle-bench: {normals} Normal jobs transferring at a cap of {cap} B/s; steady for {steady.TotalSeconds} s");
await Task.Delay(steady);

var clock = Stopwatch.StartNew();
await qm.SendAsync(new ResumeJob(group, owner, high));
var samples = new List<(double T, JobState High, long HighBytes, bool NormalsQueued, long NormalBytes)>();
while (clock.Elapsed < after)
{
    var g = await qm.GetGroupAsync(group);
    var h = g.Jobs.Single(j => j.Id == high);
    var ns = g.Jobs.Where(j => normalIds.Contains(j.Id)).ToList();
    samples.Add((clock.Elapsed.TotalSeconds, h.State, h.Files[0].BytesTransferred, ns.All(j => j.State == JobState.Queued), ns.Sum(j => j.Files[0].BytesTransferred)));
    await Task.Delay(10);
}
foreach (var id in normalIds.Append(high)) await qm.SendAsync(new CancelJob(group, owner, id));
await host.StopAsync();

double First(Func<(double T, JobState High, long HighBytes, bool NormalsQueued, long NormalBytes), bool> p) =>
    samples.FirstOrDefault(p) is { T: > 0 } s ? s.T : double.NaN;
var tTransferring = First(s => s.High == JobState.Transferring);
var tFirst = First(s => s.HighBytes > 0);
var tQueued = First(s => s.NormalsQueued);
var tRate = double.NaN;
for (var i = 0; i < samples.Count && double.IsNaN(tRate); i++)
{
    var j = samples.FindLastIndex(x => x.T <= samples[i].T - 0.5);
    if (j >= 0 && samples[i].HighBytes - samples[j].HighBytes >= 0.9 * cap * 0.5) tRate = samples[i].T;
}
var last = samples[^1];
var firstBytes = samples.First(s => s.HighBytes > 0);
var ratio = (last.HighBytes - firstBytes.HighBytes) / (cap * (last.T - firstBytes.T));
var queuedSample = samples.FirstOrDefault(s => s.NormalsQueued);
var normalDuring = queuedSample.T > 0 ? (last.NormalBytes - queuedSample.NormalBytes) / 1048576.0 : double.NaN;
Console.WriteLine($"high_to_transferring {tTransferring:F3} s");
Console.WriteLine($"high_to_first_bytes {tFirst:F3} s");
Console.WriteLine($"high_to_rate {tRate:F3} s");
Console.WriteLine($"normals_to_queued {tQueued:F3} s");
Console.WriteLine($"high_rate_ratio {ratio:F4} x");
Console.WriteLine($"normal_bytes_during_high {normalDuring:F2} MiB");
return 0;
