using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Persistence;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Chaos;

/// <summary>The end of one chaos iteration: what went wrong (empty = every check held), where the kill landed, and the log.</summary>
public sealed record ChaosOutcome(int Seed, IReadOnlyList<string> Failures, string KilledAt, bool KilledMidTransfer, TimeSpan Took, string? KeptDirectory, string Log)
{
    public bool Passed => Failures.Count == 0;

    public override string ToString() =>
        $"seed {Seed}: {(Passed ? "ok" : "FAILED")} in {Took.TotalSeconds:F1} s, killed {KilledAt}" +
        (Passed ? "" : $"\n    - {string.Join("\n    - ", Failures)}\n    data, logs and chaos.log kept in {KeptDirectory}");
}

/// <summary>
/// One iteration of the chaos run (issue 9, item 6), on a fresh data directory and a loopback server of its own:
/// <list type="number">
/// <item>the queue of <see cref="ChaosPlan"/> is created through the real <c>qmgr</c> executable while a <c>qmgr serve</c>
/// runs (two <c>qmgr transfer -i</c> clients, and <c>create</c> / <c>addfileset</c> / <c>resume</c>);</item>
/// <item>once the server has sent the plan's fraction of the bytes, the clients and the service are SIGKILLed;</item>
/// <item><c>qmgr serve --exit-when-idle</c> finishes the queue: exit 0, or 1 naming exactly the job that met the 404;</item>
/// <item>a plain <c>qmgr serve</c> lets <c>complete</c> rename the created jobs' files, <c>cancel --errors</c> clear the
/// failed job and <c>list --all --json</c> show the groups, then stops on SIGTERM.</item>
/// </list>
/// After steps 3 and 4 the store, the files and the journal are checked against what README.md documents (see
/// <see cref="CheckAfterFinish"/> and <see cref="CheckAfterComplete"/>).
/// </summary>
public sealed class ChaosIteration
{
    /// <summary>A temp file of Qmgr's: <c>.NAME.qmgr-XXXXXXXX.tmp</c> beside the target (README "transfers").</summary>
    private static readonly Regex TempFile = new(@"^\..+\.qmgr-[^.]+\.tmp$");

    private const int NotFoundHResult = unchecked((int)0x80190194);

    private readonly int _seed;
    private readonly TimeSpan _deadline;
    private readonly bool _keep;
    private readonly bool _sabotage;
    private readonly List<string> _failures = [];
    private readonly StringBuilder _log = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _root;
    private readonly string _data;

    private ChaosIteration(int seed, TimeSpan deadline, bool keep, bool sabotage)
    {
        _sabotage = sabotage;
        _seed = seed;
        _deadline = deadline;
        _keep = keep;
        _root = Path.Combine(Path.GetTempPath(), "qmgr-tests", $"chaos-{seed}-{Guid.NewGuid().ToString("N")[..6]}");
        _data = Path.Combine(_root, "data");
        Directory.CreateDirectory(_root);
    }

    /// <summary>
    /// Runs iteration <paramref name="seed"/>; every qmgr process is bounded by <paramref name="deadline"/>. The directory is
    /// deleted when every check held, unless <paramref name="keep"/>; a failed iteration keeps it (data dir with the service
    /// logs, targets, <c>chaos.log</c>). <paramref name="sabotage"/> proves the checks can fail: before the last checks it
    /// flips a byte of a finished file and leaves a stray temp file, which the outcome must report.
    /// </summary>
    public static async Task<ChaosOutcome> RunAsync(int seed, TimeSpan deadline, bool keep = false, bool sabotage = false)
    {
        var iteration = new ChaosIteration(seed, deadline, keep, sabotage);
        return await iteration.RunAsync();
    }

    private void Log(string line) => _log.AppendLine($"[{_clock.Elapsed.TotalSeconds,7:F2}s] {line}");

    private void Expect(bool condition, string failure)
    {
        if (condition) return;
        _failures.Add(failure);
        Log("CHECK FAILED: " + failure);
    }

    private async Task<ChaosOutcome> RunAsync()
    {
        var killedAt = "never";
        var midTransfer = false;
        try
        {
            await using var server = await LoopbackFileServer.StartAsync();
            var plan = ChaosPlan.Create(_seed, _root, server);
            Log(plan.ToString());

            // 1. the queue, created through the CLI while a service runs
            var ids = new Dictionary<ChaosJob, (Guid Group, Guid Job)>();
            var clients = new List<QmgrProcess>();
            using (var serve = QmgrProcess.Start("serve", "--data-dir", _data, "--urls", "http://127.0.0.1:0"))
            {
                try
                {
                    await WaitForServiceAsync(serve);
                    await CreateQueueAsync(plan, ids, clients);

                    // 2. SIGKILL once the server has sent the plan's share of the bytes (or the queue is idle)
                    var moment = await WaitForKillMomentAsync(plan, server);
                    foreach (var client in clients) client.Kill();
                    Expect(!serve.HasExited, "qmgr serve ended by itself before the kill");
                    serve.Kill();
                    killedAt = moment;
                    Log($"SIGKILL {killedAt}; serve output:\n{serve.OutputSoFar}");
                }
                finally
                {
                    if (killedAt == "never")
                    {
                        // a service that stopped on its own is still writing its last line (e.g. a store error): wait for it
                        var state = serve.HasExited ? "had ended by itself" : "was still running";
                        try
                        {
                            var end = await serve.WaitAsync(TimeSpan.FromSeconds(30));
                            Log($"qmgr serve {state} when the iteration stopped, then exited {end.ExitCode}; its output:\n{end}");
                        }
                        catch (TimeoutException)
                        {
                            Log($"qmgr serve {state} when the iteration stopped and did not end within 30 s; its output:\n{serve.OutputSoFar}");
                        }
                    }
                    foreach (var client in clients)
                    {
                        Log($"transfer client output:\n{client.OutputSoFar}");
                        client.Dispose();
                    }
                }
            }

            var atKill = Snapshot(server, plan);
            midTransfer = atKill.Groups.SelectMany(g => g.Jobs).Any(j => j.State is JobState.Connecting or JobState.Transferring);

            // 3. qmgr serve --exit-when-idle finishes the queue
            var finish = await QmgrProcess.RunAsync(_deadline, "serve", "--data-dir", _data, "--urls", "http://127.0.0.1:0", "--exit-when-idle");
            Log($"serve --exit-when-idle: {finish}");
            CheckAfterFinish(plan, ids, finish, atKill, server);

            // 4. complete the created jobs, cancel the failed one, list, through a plain serve
            await CompleteAndCancelAsync(plan, ids);
            if (_sabotage) Sabotage(plan);
            CheckAfterComplete(plan, ids);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or IOException or JsonException or KeyNotFoundException
                                       or System.Data.Common.DbException or FormatException)
        {
            _failures.Add($"{ex.GetType().Name}: {FirstLine(ex.Message)}");
            Log($"ABORTED: {ex}");
        }

        string? kept = null;
        if (_failures.Count > 0 || _keep)
        {
            kept = _root;
            await File.WriteAllTextAsync(Path.Combine(_root, "chaos.log"), _log.ToString());
        }
        else
        {
            try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }

        return new ChaosOutcome(_seed, _failures.ToList(), killedAt, midTransfer, _clock.Elapsed, kept, _log.ToString());
    }

    private void Sabotage(ChaosPlan plan)
    {
        var victim = plan.Jobs.First().Files[0].Target;
        var bytes = File.ReadAllBytes(victim);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(victim, bytes);
        File.WriteAllBytes(Path.Combine(Path.GetDirectoryName(victim)!, ".stray.bin.qmgr-0badc0de.tmp"), [1, 2, 3]);
        Log($"sabotage: flipped a bit of {victim} and left a stray temp file beside it");
    }

    private static string FirstLine(string text) => text.Split('\n')[0];

    /// <summary>Waits (polling, with the deadline) until the running service has written DATA_DIR/service.json.</summary>
    private async Task WaitForServiceAsync(QmgrProcess serve)
    {
        var endpoint = Path.Combine(_data, "service.json");
        await PollAsync(() =>
        {
            if (serve.HasExited) throw new InvalidOperationException($"qmgr serve exited before it listened:\n{serve.OutputSoFar}");
            return File.Exists(endpoint) && new FileInfo(endpoint).Length > 0;
        }, "qmgr serve to write service.json");
    }

    private async Task PollAsync(Func<bool> condition, string what, int everyMs = 50)
    {
        using var timeout = new CancellationTokenSource(_deadline);
        while (!condition())
        {
            try
            {
                await Task.Delay(everyMs, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"waited {_deadline} for {what}");
            }
        }
    }

    private async Task<CliResult> Verb(params string[] args)
    {
        var result = await QmgrProcess.RunAsync(_deadline, [.. args, "--data-dir", _data]);
        Log($"qmgr {string.Join(' ', args)}: exit {result.ExitCode} {result.Stdout.Trim()} {result.Stderr.Trim()}");
        return result.ExitCode == 0 ? result : throw new InvalidOperationException($"qmgr {string.Join(' ', args)} failed: {result}");
    }

    /// <summary>A <c>URL FILE</c> list file of <paramref name="job"/> (for <c>transfer -i</c> and <c>addfileset</c>).</summary>
    private string ListFile(ChaosJob job)
    {
        var path = Path.Combine(_root, job.Name + ".txt");
        File.WriteAllLines(path, job.Files.Select(f => $"{f.Url.AbsoluteUri} {f.Target}"));
        return path;
    }

    private static readonly Regex Submitted = new(@"qmgr: group ([0-9a-fA-F-]{36}), job ([0-9a-fA-F-]{36}) in");

    /// <summary>
    /// Creates the queue through the CLI while the service runs: <c>create</c> / <c>create --group</c> / <c>addfileset</c>
    /// for the created group, then at once a <c>qmgr transfer -i</c> client per transfer group (waited for until they print
    /// their group and job, which they do after Resume, then SIGKILLed: README, a killed transfer leaves its job to the
    /// service) and <c>group resume</c> of the created group.
    /// </summary>
    private async Task CreateQueueAsync(ChaosPlan plan, Dictionary<ChaosJob, (Guid Group, Guid Job)> ids, List<QmgrProcess> clients)
    {
        Guid? group = null;
        var created = plan.Jobs.Where(j => j.Kind == ChaosJobKind.Manual).ToList();
        foreach (var job in created)
        {
            string[] where = group is { } g ? ["--group", g.ToString("D")] : [];
            var json = JsonDocument.Parse((await Verb(["create", job.Name, "--priority", job.Priority, "--json", .. where])).Stdout).RootElement;
            group = Guid.Parse(json.GetProperty("group").GetString()!);
            ids[job] = (group.Value, Guid.Parse(json.GetProperty("job").GetString()!));
        }

        foreach (var job in created) await Verb("addfileset", ids[job].Job.ToString("D"), ListFile(job));

        // bytes start to flow from here: the transfer clients submit and resume their jobs while the created group is resumed
        var transfers = plan.Jobs.Where(j => j.Kind == ChaosJobKind.Transfer).ToList();
        foreach (var job in transfers)
        {
            clients.Add(QmgrProcess.Start("transfer", "--data-dir", _data, "--priority", job.Priority, "--display-name", job.Name,
                "--minimum-retry-delay", "5", "-i", ListFile(job)));
        }

        await Verb("group", "resume", group!.Value.ToString("D"));

        for (var i = 0; i < transfers.Count; i++)
        {
            var client = clients[i];
            Match? submitted = null;
            await PollAsync(() =>
            {
                submitted = Submitted.Match(client.OutputSoFar);
                if (!submitted.Success && client.HasExited) throw new InvalidOperationException($"qmgr transfer exited before it submitted its job:\n{client.OutputSoFar}");
                return submitted.Success;
            }, $"qmgr transfer {transfers[i].Name} to submit its job");
            ids[transfers[i]] = (Guid.Parse(submitted!.Groups[1].Value), Guid.Parse(submitted.Groups[2].Value));
            // its job lives in the service now; the client would only watch it (and take CPU from the two cores)
            client.Kill();
        }

        Log("queue: " + string.Join(", ", ids.Select(kv => $"{kv.Key.Name} = group {kv.Value.Group:D} job {kv.Value.Job:D}")));
    }

    /// <summary>
    /// Waits for the kill moment of <paramref name="plan"/>: polls the server's body-byte counter every 10 ms until it has
    /// sent <see cref="ChaosPlan.KillAtFraction"/> of the queue's bytes, or (fraction above 1) the journal every 100 ms
    /// until no job is active nor an AutoComplete job waits for its rename.
    /// </summary>
    private async Task<string> WaitForKillMomentAsync(ChaosPlan plan, LoopbackFileServer server)
    {
        var total = plan.BytesToServe;
        if (plan.KillAtFraction <= 1)
        {
            var threshold = (long)(total * plan.KillAtFraction);
            await PollAsync(() => server.BodyBytesSent >= threshold, $"the server to send {threshold} B", everyMs: 10);
            return $"after {server.BodyBytesSent} of {total} B were sent (aimed at {plan.KillAtFraction:P0})";
        }

        var journal = new Journal(_data);
        await PollAsync(() =>
        {
            try
            {
                var jobs = journal.Groups().SelectMany(g => g.Jobs).ToList();
                return jobs.Count == plan.Jobs.Count() && jobs.All(j => !j.State.IsActive() && !(j.State == JobState.Transferred && j.Options.AutoComplete));
            }
            catch (System.Data.Common.DbException)
            {
                return false; // the service holds the database for a moment
            }
        }, "the queue to be idle", everyMs: 100);
        return $"once the queue was idle ({server.BodyBytesSent} of {total} B sent)";
    }

    /// <summary>The journal and the server's request log at the kill.</summary>
    private sealed record AtKill(IReadOnlyList<GroupState> Groups, IReadOnlyDictionary<Guid, long> LastSequenceNr, IReadOnlyDictionary<string, int> Requests)
    {
        public Job? Job(Guid id) => Groups.SelectMany(g => g.Jobs).FirstOrDefault(j => j.Id == id);
    }

    private SqliteStore Store => new(Path.Combine(_data, "qmgr.db"));

    /// <summary>Each group's id by the persistence id of its journal (from its GroupCreated).</summary>
    private static Dictionary<string, Guid> GroupIds(IReadOnlyList<StoredEvent> events) =>
        events.Where(e => e.Event is GroupCreated).ToDictionary(e => e.PersistenceId, e => ((GroupCreated)e.Event).GroupId);

    private AtKill Snapshot(LoopbackFileServer server, ChaosPlan plan)
    {
        var events = Store.ReadEvents();
        var groupIds = GroupIds(events);
        var last = events.GroupBy(e => e.PersistenceId).ToDictionary(g => groupIds.GetValueOrDefault(g.Key), g => g.Max(e => e.SequenceNr));
        var groups = Store.ReadGroups();
        foreach (var job in groups.SelectMany(g => g.Jobs))
            Log($"at kill: job {job.Id:D} {job.State}, files {string.Join(", ", job.Files.Select(f => $"{f.BytesTransferred}{(f.Transferred ? " transferred" : "")}"))}");
        return new AtKill(groups, last, plan.Jobs.SelectMany(j => j.Files).ToDictionary(f => f.Path, f => server.RequestsFor(f.Path).Count));
    }

    /// <summary>The job in the store, or null (a failure is recorded).</summary>
    private Job? FindJob(IReadOnlyList<GroupState> groups, ChaosJob job, Guid id, string when)
    {
        var found = groups.SelectMany(g => g.Jobs).FirstOrDefault(j => j.Id == id);
        Expect(found is not null, $"{when}: job {job.Name} ({id:D}) is not in the store");
        return found;
    }

    private bool SameBytes(string path, byte[] content) => File.Exists(path) && new FileInfo(path).Length == content.Length && File.ReadAllBytes(path).AsSpan().SequenceEqual(content);

    private string Describe(string path, byte[] content) =>
        !File.Exists(path) ? "missing" : $"{new FileInfo(path).Length} B{(new FileInfo(path).Length == content.Length ? " with other bytes" : "")}, expected {content.Length} B";

    /// <summary>
    /// After <c>serve --exit-when-idle</c>:
    /// <list type="bullet">
    /// <item>it exits 0, or 1 when a job met the 404, naming exactly that job (README: exits 1 if any job is in Error);</item>
    /// <item>the store holds exactly the groups created, each job once and in its group; every group's journal is linear
    /// (sequence numbers 1..N) and every file was journaled FileTransferred at most once;</item>
    /// <item><c>transfer</c> jobs are Acknowledged (AutoComplete, even after recovery) with every file byte-exact and no
    /// temp file; created jobs are Transferred with every byte in their temp files (renamed only on Complete);</item>
    /// <item>the 404 job is in Error with context RemoteFile, HTTP 404, 0x80190194 and the 404 file's index; the files
    /// before it are transferred into byte-exact temp files, kept for a Resume, and the 404 file left no temp file
    /// (README "Choices": a failure that leaves the file no byte deletes its temp file; one with good bytes stays);</item>
    /// <item>a job that was Connecting or Transferring at the kill first goes back to Queued with the cause "recovered
    /// after restart" (README "crash safety"), and a file that was part-way at the kill is asked for again from exactly
    /// its last journaled checkpoint (<c>Range: bytes=C-</c>);</item>
    /// <item>no temp file exists but those of transferred, not yet completed files.</item>
    /// </list>
    /// </summary>
    private void CheckAfterFinish(ChaosPlan plan, Dictionary<ChaosJob, (Guid Group, Guid Job)> ids, CliResult finish, AtKill atKill, LoopbackFileServer server)
    {
        const string when = "after serve --exit-when-idle";
        var failing = plan.Jobs.Where(j => j.NotFoundIndex is not null).ToList();
        Expect(finish.ExitCode == (failing.Count > 0 ? 1 : 0),
            $"{when}: exit {finish.ExitCode}, expected {(failing.Count > 0 ? 1 : 0)}; stderr: {FirstLine(finish.Stderr.Trim())}");
        var named = Regex.Matches(finish.Stderr, @"qmgr: job ([0-9a-fA-F-]{36}):").Select(m => Guid.Parse(m.Groups[1].Value)).ToHashSet();
        Expect(named.SetEquals(failing.Select(j => ids[j].Job)),
            $"{when}: it named jobs in Error [{string.Join(", ", named)}], expected [{string.Join(", ", failing.Select(j => ids[j].Job))}]");

        var events = Store.ReadEvents();
        var groups = Store.ReadGroups();
        CheckGroups(plan, ids, groups, when);
        CheckJournal(events, when);

        var keptTemps = new HashSet<string>();
        foreach (var job in plan.Jobs)
        {
            var (_, id) = ids[job];
            if (FindJob(groups, job, id, when) is not { } stored) continue;
            var transferredEvents = events.Select(e => e.Event).OfType<FileTransferred>().Where(e => e.JobId == id).ToList();
            var notFound = job.NotFoundIndex;
            for (var i = 0; i < job.Files.Count; i++)
            {
                var count = transferredEvents.Count(e => e.FileIndex == i);
                var expected = notFound is { } nf && i >= nf ? 0 : 1;
                Expect(count == expected, $"{when}: {job.Name} file {i} journaled FileTransferred {count} times, expected {expected}");
            }

            if (notFound is { } index)
            {
                Expect(stored.State == JobState.Error, $"{when}: {job.Name} is {stored.State}, expected Error (404 on file {index})");
                var error = stored.Error;
                Expect(error is { Context: ErrorContext.RemoteFile, HttpStatus: 404, HResult: NotFoundHResult } && error.FileIndex == index,
                    $"{when}: {job.Name}'s error record is {error}, expected RemoteFile, HTTP 404, 0x80190194 on file {index}");
                for (var i = 0; i < job.Files.Count; i++)
                {
                    var file = job.Files[i];
                    var temp = stored.Files[i].TempName;
                    Expect(!File.Exists(file.Target), $"{when}: {job.Name} file {i} is in place though the job is in Error");
                    if (i < index)
                    {
                        Expect(stored.Files[i].Transferred && SameBytes(temp, file.Content),
                            $"{when}: {job.Name} file {i} (before the 404) should be transferred into its temp file for a Resume: {Describe(temp, file.Content)}");
                        keptTemps.Add(temp);
                    }
                    else
                    {
                        Expect(!File.Exists(temp), $"{when}: {job.Name} file {i} ({(i == index ? "the 404" : "after the 404")}) left a temp file");
                    }
                }
            }
            else if (job.Kind == ChaosJobKind.Transfer)
            {
                var finding1 = stored.State == JobState.Transferred && atKill.Job(id)?.State == JobState.Transferred
                    ? " (chaos finding 1: journaled Transferred at the kill, AutoComplete is not re-sent on recovery; see ChaosFindingsSpecs)" : "";
                Expect(stored.State == JobState.Acknowledged, $"{when}: {job.Name} (AutoComplete) is {stored.State}, expected Acknowledged{finding1}");
                for (var i = 0; i < job.Files.Count; i++)
                {
                    Expect(SameBytes(job.Files[i].Target, job.Files[i].Content), $"{when}: {job.Name} file {i}: {Describe(job.Files[i].Target, job.Files[i].Content)}");
                }
            }
            else
            {
                Expect(stored.State == JobState.Transferred, $"{when}: {job.Name} is {stored.State}, expected Transferred");
                for (var i = 0; i < job.Files.Count; i++)
                {
                    var temp = stored.Files[i].TempName;
                    Expect(stored.Files[i].Transferred && SameBytes(temp, job.Files[i].Content),
                        $"{when}: {job.Name} file {i} temp file: {Describe(temp, job.Files[i].Content)}");
                    Expect(!File.Exists(job.Files[i].Target), $"{when}: {job.Name} file {i} is in place before Complete");
                    keptTemps.Add(temp);
                }
            }

            // recovery: an interrupted job is re-queued first, and journaled so
            if (atKill.Job(id) is { } before)
            {
                if (before.State is JobState.Connecting or JobState.Transferring)
                {
                    var first = events.Where(e => ids[job].Group == GroupIds(events).GetValueOrDefault(e.PersistenceId)
                                                  && e.SequenceNr > atKill.LastSequenceNr.GetValueOrDefault(ids[job].Group))
                        .Select(e => e.Event).OfType<JobStateChanged>().FirstOrDefault(e => e.JobId == id);
                    Expect(first is not null && first.From == before.State && first.To == JobState.Queued && first.Cause == "recovered after restart",
                        $"{when}: {job.Name} was {before.State} at the kill; its first change after it is {first?.ToString() ?? "none"}, expected {before.State} -> Queued \"recovered after restart\"");
                }

                for (var i = 0; i < job.Files.Count && i < before.Files.Count; i++)
                {
                    var at = before.Files[i];
                    if (at.Transferred || at.BytesTransferred <= 0 || at.BytesTransferred >= job.Files[i].Content.Length) continue;
                    var next = server.RequestsFor(job.Files[i].Path).Skip(atKill.Requests[job.Files[i].Path]).FirstOrDefault(r => r.Method == "GET");
                    Expect(next is not null && next.Range == $"bytes={at.BytesTransferred}-",
                        $"{when}: {job.Name} file {i} was checkpointed at {at.BytesTransferred} B at the kill; the next request asked Range {next?.Range ?? "(no request)"}");
                }
            }
        }

        CheckTempFiles(keptTemps, when);
    }

    /// <summary>Every temp file under the targets' directories is one of <paramref name="allowed"/>.</summary>
    private void CheckTempFiles(IReadOnlySet<string> allowed, string when)
    {
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_root, "out"), "*", SearchOption.AllDirectories))
        {
            if (TempFile.IsMatch(Path.GetFileName(file)) && !allowed.Contains(file))
                _ = Fail($"{when}: temp file {file} ({new FileInfo(file).Length} B) left behind");
        }
    }

    private bool Fail(string failure)
    {
        Expect(false, failure);
        return false;
    }

    /// <summary>The store holds exactly the groups created, and each job exactly once, in its own group.</summary>
    private void CheckGroups(ChaosPlan plan, Dictionary<ChaosJob, (Guid Group, Guid Job)> ids, IReadOnlyList<GroupState> groups, string when)
    {
        var expectedGroups = ids.Values.Select(v => v.Group).ToHashSet();
        Expect(groups.Count == expectedGroups.Count && groups.Select(g => g.Id).ToHashSet().SetEquals(expectedGroups),
            $"{when}: the store has {groups.Count} groups [{string.Join(", ", groups.Select(g => $"{g.Id:D} {g.DisplayName}"))}], expected {expectedGroups.Count} [{string.Join(", ", expectedGroups)}]");
        var jobs = groups.SelectMany(g => g.Jobs.Select(j => (Group: g.Id, j.Id))).ToList();
        Expect(jobs.Count == plan.Jobs.Count(), $"{when}: the store has {jobs.Count} jobs, expected {plan.Jobs.Count()}");
        foreach (var job in plan.Jobs)
        {
            var found = jobs.Where(j => j.Id == ids[job].Job).ToList();
            Expect(found.Count == 1 && found[0].Group == ids[job].Group,
                $"{when}: {job.Name} ({ids[job].Job:D}) is in groups [{string.Join(", ", found.Select(f => f.Group))}], expected once in {ids[job].Group:D}");
        }
    }

    /// <summary>Every group's journal is linear: sequence numbers 1..N without a gap or a repeat, and starts with GroupCreated.</summary>
    private void CheckJournal(IReadOnlyList<StoredEvent> events, string when)
    {
        foreach (var journal in events.GroupBy(e => e.PersistenceId))
        {
            var numbers = journal.Select(e => e.SequenceNr).ToList();
            var linear = numbers.SequenceEqual(Enumerable.Range(1, numbers.Count).Select(n => (long)n));
            Expect(linear, $"{when}: journal {journal.Key} is not linear: {numbers.Count} events, sequence numbers {Ranges(numbers)}");
            Expect(journal.First().Event is GroupCreated, $"{when}: journal {journal.Key} starts with {journal.First().Event.GetType().Name}, not GroupCreated");
        }
    }

    private static string Ranges(IReadOnlyList<long> numbers)
    {
        var parts = new List<string>();
        for (var i = 0; i < numbers.Count;)
        {
            var j = i;
            while (j + 1 < numbers.Count && numbers[j + 1] == numbers[j] + 1) j++;
            parts.Add(i == j ? $"{numbers[i]}" : $"{numbers[i]}..{numbers[j]}");
            i = j + 1;
        }
        return string.Join(", ", parts);
    }

    /// <summary>
    /// A plain <c>qmgr serve</c> for the last verbs (each one through its API): <c>complete</c> for every created job that
    /// is not in Error ("completed", not "partially completed"), <c>cancel --errors</c> when a job met the 404 (BITS T19:
    /// Cancel of an Error job), <c>list --all --json</c> (every group created, every job in it once); then SIGTERM (exit 0).
    /// </summary>
    private async Task CompleteAndCancelAsync(ChaosPlan plan, Dictionary<ChaosJob, (Guid Group, Guid Job)> ids)
    {
        const string when = "after complete / cancel";
        using var serve = QmgrProcess.Start("serve", "--data-dir", _data, "--urls", "http://127.0.0.1:0");
        await WaitForServiceAsync(serve);
        foreach (var job in plan.Jobs.Where(j => j.Kind == ChaosJobKind.Manual && j.NotFoundIndex is null))
        {
            var complete = await Verb("complete", ids[job].Job.ToString("D"));
            Expect(complete.Stdout.Contains("completed") && !complete.Stdout.Contains("partially"), $"{when}: qmgr complete {job.Name} printed {complete.Stdout.Trim()}");
        }

        if (plan.Jobs.Any(j => j.NotFoundIndex is not null))
        {
            var cancel = await Verb("cancel", "--errors");
            foreach (var job in plan.Jobs.Where(j => j.NotFoundIndex is not null))
                Expect(cancel.Stdout.Contains($"cancelled job {ids[job].Job:D}"), $"{when}: qmgr cancel --errors printed {cancel.Stdout.Trim()}, not job {job.Name}");
        }

        var list = JsonDocument.Parse((await Verb("list", "--all", "--json")).Stdout).RootElement;
        var listed = list.EnumerateArray().Select(g => (Group: g.GetProperty("group").GetGuid(),
            Jobs: g.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("job").GetGuid()).ToList())).ToList();
        var expectedGroups = ids.Values.Select(v => v.Group).Distinct().ToList();
        Expect(listed.Count == expectedGroups.Count && listed.Select(g => g.Group).ToHashSet().SetEquals(expectedGroups),
            $"{when}: list --all shows {listed.Count} groups [{string.Join(", ", listed.Select(g => g.Group))}], expected [{string.Join(", ", expectedGroups)}]");
        foreach (var job in plan.Jobs)
        {
            var where = listed.Where(g => g.Jobs.Contains(ids[job].Job)).Select(g => g.Group).ToList();
            var times = listed.Sum(g => g.Jobs.Count(j => j == ids[job].Job));
            Expect(times == 1 && where.Single() == ids[job].Group, $"{when}: list --all shows {job.Name} {times} times in [{string.Join(", ", where)}], expected once in {ids[job].Group:D}");
        }

        serve.Terminate();
        var stopped = await serve.WaitAsync(_deadline);
        Log($"plain serve: {stopped}");
        Expect(stopped.ExitCode == 0, $"{when}: qmgr serve exited {stopped.ExitCode} on SIGTERM");
    }

    /// <summary>
    /// At the end: every job not met by the 404 is Acknowledged with every file in place, byte-exact, and journaled
    /// JobCompleted once; the 404 job is Cancelled with no file in place; no temp file is left anywhere, no other file
    /// exists beside the targets; groups, jobs and journals as after the finish.
    /// </summary>
    private void CheckAfterComplete(ChaosPlan plan, Dictionary<ChaosJob, (Guid Group, Guid Job)> ids)
    {
        const string when = "at the end";
        var events = Store.ReadEvents();
        var groups = Store.ReadGroups();
        CheckGroups(plan, ids, groups, when);
        CheckJournal(events, when);
        var expectedFiles = new HashSet<string>();
        foreach (var job in plan.Jobs)
        {
            var id = ids[job].Job;
            if (FindJob(groups, job, id, when) is not { } stored) continue;
            var completed = events.Select(e => e.Event).OfType<JobCompleted>().Count(e => e.JobId == id);
            if (job.NotFoundIndex is not null)
            {
                Expect(stored.State == JobState.Cancelled, $"{when}: {job.Name} is {stored.State}, expected Cancelled");
                Expect(completed == 0, $"{when}: the cancelled {job.Name} journaled JobCompleted {completed} times");
                foreach (var file in job.Files) Expect(!File.Exists(file.Target), $"{when}: cancelled {job.Name} left {file.Target} in place");
                continue;
            }

            Expect(stored.State == JobState.Acknowledged, $"{when}: {job.Name} is {stored.State}, expected Acknowledged");
            Expect(completed == 1, $"{when}: {job.Name} journaled JobCompleted {completed} times, expected once");
            for (var i = 0; i < job.Files.Count; i++)
            {
                expectedFiles.Add(job.Files[i].Target);
                Expect(SameBytes(job.Files[i].Target, job.Files[i].Content), $"{when}: {job.Name} file {i}: {Describe(job.Files[i].Target, job.Files[i].Content)}");
            }
        }

        CheckTempFiles(new HashSet<string>(), when);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_root, "out"), "*", SearchOption.AllDirectories))
        {
            if (!TempFile.IsMatch(Path.GetFileName(file))) Expect(expectedFiles.Contains(file), $"{when}: unexpected file {file}");
        }
    }
}
