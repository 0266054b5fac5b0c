using Qmgr.Tests.Support;

namespace Qmgr.Tests.Chaos;

/// <summary>What a served file does wrong before it serves its bytes (a <see cref="ChaosFault.NotFound"/> never serves them).</summary>
public enum ChaosFault
{
    None,

    /// <summary>The first one or two requests get <c>503</c> with <c>Retry-After: 1</c>: Qmgr's quick retries get through.</summary>
    Transient503,

    /// <summary>The first response is reset (TCP RST) part-way through the body: a quick retry resumes with <c>Range</c>.</summary>
    ResetMidBody,

    /// <summary>Every request gets <c>404</c>: the job ends in Error (context RemoteFile, HTTP 404), a documented error state.</summary>
    NotFound,
}

/// <summary>One file of a chaos job: served at <see cref="Path"/> with <see cref="Options"/>, downloaded to <see cref="Target"/>.</summary>
public sealed record ChaosFile(string Path, Uri Url, byte[] Content, LoopbackFileOptions Options, ChaosFault Fault, string Target)
{
    public bool Large => Content.Length >= ChaosPlan.LargeAtLeast;

    public override string ToString() =>
        $"{System.IO.Path.GetFileName(Target)} {Content.Length} B{(Options.TrickleBytesPerSecond is { } r ? $" trickled {r} B/s" : "")}{(Fault == ChaosFault.None ? "" : $" {Fault}")}";
}

/// <summary>How a chaos job is created: by <c>qmgr transfer -i</c> (a group of its own, AutoComplete) or by <c>qmgr create / addfileset / resume</c>.</summary>
public enum ChaosJobKind
{
    Transfer,
    Manual,
}

/// <summary>One job of the queue: its files in order and its priority as the CLI spells it.</summary>
public sealed record ChaosJob(string Name, ChaosJobKind Kind, string Priority, IReadOnlyList<ChaosFile> Files)
{
    /// <summary>The index of the file the server answers with 404, or null when the job should end byte-exact.</summary>
    public int? NotFoundIndex => Files.Select((f, i) => (f, i)).Where(x => x.f.Fault == ChaosFault.NotFound).Select(x => (int?)x.i).FirstOrDefault();

    public override string ToString() => $"{Name} ({Kind}, {Priority}): {string.Join(", ", Files)}";
}

/// <summary>One group of the queue; <see cref="ChaosJobKind.Transfer"/> groups hold exactly one job.</summary>
public sealed record ChaosGroup(string Name, IReadOnlyList<ChaosJob> Jobs);

/// <summary>
/// The queue of one chaos iteration, drawn from its seed: two <c>qmgr transfer</c> groups and one group of two
/// <c>qmgr create</c>d jobs, the four jobs at the four priorities in a random order, each with a large file (a few MiB,
/// trickled, so a kill lands mid-transfer) and small ones; files are faulty at random (503s then success, a reset
/// mid-body), and in about half the iterations the second created job has a file the server answers with 404.
/// <see cref="KillAtFraction"/> is when <c>qmgr serve</c> is SIGKILLed: once the server has sent that fraction of the
/// queue's bytes (above 1: once the queue is idle).
/// </summary>
public sealed record ChaosPlan(int Seed, IReadOnlyList<ChaosGroup> Groups, double KillAtFraction)
{
    /// <summary>A file this large or larger is a "large" one (trickled).</summary>
    public const int LargeAtLeast = 1024 * 1024;

    private static readonly string[] Priorities = ["foreground", "high", "normal", "low"];

    public IEnumerable<ChaosJob> Jobs => Groups.SelectMany(g => g.Jobs);

    /// <summary>Bytes the server sends at least once for the queue to finish (every file that does not 404).</summary>
    public long BytesToServe => Jobs.SelectMany(j => j.Files).Where(f => f.Fault != ChaosFault.NotFound).Sum(f => (long)f.Content.Length);

    /// <summary>Draws the plan of <paramref name="seed"/>, registers its files on <paramref name="server"/> and creates the target directories under <paramref name="root"/>.</summary>
    public static ChaosPlan Create(int seed, string root, LoopbackFileServer server)
    {
        var random = new Random(seed);
        var priorities = Priorities.OrderBy(_ => random.Next()).ToArray();
        var fileNumber = 0;

        ChaosFile File(string dir, bool large, bool mayFail)
        {
            var n = fileNumber++;
            var length = large ? random.Next(2 * 1024 * 1024, 4 * 1024 * 1024) : random.Next(1, 200 * 1024);
            var content = LoopbackFileServer.Content(length, seed * 100 + n);
            var options = new LoopbackFileOptions { TrickleBytesPerSecond = large ? random.Next(2, 5) * 1024 * 1024 : null };
            var fault = ChaosFault.None;
            var roll = random.NextDouble();
            if (mayFail && roll < 0.25)
            {
                fault = ChaosFault.Transient503;
                options = options with { FailFirst = random.Next(1, 3), FailStatus = 503, RetryAfter = "1" };
            }
            else if (mayFail && large && roll < 0.5)
            {
                fault = ChaosFault.ResetMidBody;
                options = options with { ResetAfter = new Dictionary<int, long> { [0] = random.Next(1, length) } };
            }

            var path = $"/c{seed}/f{n}.bin";
            var url = server.Add(path, content, options);
            return new ChaosFile(path, url, content, options, fault, System.IO.Path.Combine(dir, $"f{n}.bin"));
        }

        ChaosFile NotFound(string dir)
        {
            var n = fileNumber++;
            var path = $"/c{seed}/f{n}.bin";
            var options = new LoopbackFileOptions { StatusOverride = 404 };
            var url = server.Add(path, [], options);
            return new ChaosFile(path, url, [], options, ChaosFault.NotFound, System.IO.Path.Combine(dir, $"f{n}.bin"));
        }

        string Dir(string name) => Directory.CreateDirectory(System.IO.Path.Combine(root, "out", name)).FullName;

        var t1 = Dir("t1");
        var t2 = Dir("t2");
        var m = Dir("m");
        var withNotFound = random.NextDouble() < 0.5;
        var groups = new List<ChaosGroup>
        {
            new("chaos-t1", [new ChaosJob("chaos-t1", ChaosJobKind.Transfer, priorities[0], [File(t1, true, true), File(t1, false, true), File(t1, false, false)])]),
            new("chaos-t2", [new ChaosJob("chaos-t2", ChaosJobKind.Transfer, priorities[1], [File(t2, false, true), File(t2, true, true)])]),
            new("chaos-m",
            [
                new ChaosJob("chaos-m1", ChaosJobKind.Manual, priorities[2], [File(m, false, true), File(m, true, true)]),
                new ChaosJob("chaos-m2", ChaosJobKind.Manual, priorities[3],
                    withNotFound ? [File(m, false, true), NotFound(m), File(m, false, false)] : [File(m, false, true), File(m, false, false)]),
            ]),
        };
        return new ChaosPlan(seed, groups, random.NextDouble() * 1.1);
    }

    public override string ToString() =>
        $"seed {Seed}: kill at {KillAtFraction:P0} of {BytesToServe} B\n  " + string.Join("\n  ", Jobs);
}
