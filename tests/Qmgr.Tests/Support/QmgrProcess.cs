using System.Diagnostics;
using System.Text;

namespace Qmgr.Tests.Support;

/// <summary>The exit code and output of one finished <c>qmgr</c> child process.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// Runs the real <c>qmgr</c> executable (qmgr.dll, copied beside the tests by the project reference) as a child
/// process through the same <c>dotnet</c> host that runs the tests, so crash tests can SIGKILL a real process.
/// </summary>
public sealed class QmgrProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private readonly List<string> _lines = [];
    private TaskCompletionSource _linesChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private QmgrProcess(Process process) => _process = process;

    /// <summary>
    /// qmgr.dll in the Host project's own output (tests/Qmgr.Tests/bin/CONFIG/TFM → src/Qmgr.Host/bin/CONFIG/TFM): the
    /// copy beside the tests lacks the Host's dependencies, which the test project takes from the ASP.NET framework.
    /// </summary>
    public static string HostDll
    {
        get
        {
            var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var config = tfm.Parent!;
            var repo = config.Parent!.Parent!.Parent!.Parent!.FullName;
            var dll = Path.Combine(repo, "src", "Qmgr.Host", "bin", config.Name, tfm.Name, "qmgr.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("build src/Qmgr.Host first", dll);
        }
    }

    /// <summary>The child's pid.</summary>
    public int Id => _process.Id;

    /// <summary>Starts <c>qmgr ARGS</c> with stdout and stderr captured (so progress is printed as plain lines).</summary>
    public static QmgrProcess Start(params string[] args) => Start(new Dictionary<string, string>(), args);

    /// <summary>Starts <c>qmgr ARGS</c> with <paramref name="environment"/> added to the child's environment.</summary>
    public static QmgrProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var info = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment) info.Environment[name] = value;
        info.ArgumentList.Add(HostDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = new Process { StartInfo = info };
        var q = new QmgrProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (q._stdout) q._stdout.AppendLine(e.Data);
            lock (q._lines)
            {
                q._lines.Add(e.Data);
                var changed = q._linesChanged;
                q._linesChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                changed.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (q._stderr) q._stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return q;
    }

    /// <summary>Runs <c>qmgr ARGS</c> to its end; kills it and throws <see cref="TimeoutException"/> after <paramref name="deadline"/>.</summary>
    public static async Task<CliResult> RunAsync(TimeSpan deadline, params string[] args)
    {
        using var p = Start(args);
        return await p.WaitAsync(deadline);
    }

    /// <summary>Waits for the exit; kills the child and throws <see cref="TimeoutException"/> after <paramref name="deadline"/>.</summary>
    public async Task<CliResult> WaitAsync(TimeSpan deadline)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(deadline);
        }
        catch (TimeoutException)
        {
            Kill();
            throw new TimeoutException($"qmgr did not exit within {deadline}:\n{Output()}");
        }
        _process.WaitForExit(); // drains the asynchronous output readers
        return new CliResult(_process.ExitCode, Text(_stdout), Text(_stderr));
    }

    /// <summary>True once the child has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>SIGTERM: the child stops gracefully (qmgr serve: exit 0, unfinished jobs stay in the journal).</summary>
    public void Terminate()
    {
        if (_process.HasExited) return;
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
        kill.WaitForExit();
    }

    /// <summary>
    /// The first stdout line of the running child that satisfies <paramref name="match"/>, as soon as it is printed (pushed
    /// by the output reader, no polling); throws <see cref="TimeoutException"/> after <paramref name="deadline"/> and
    /// <see cref="InvalidOperationException"/> if the child exits first, both with the output so far.
    /// </summary>
    public async Task<string> WaitForStdoutLineAsync(Func<string, bool> match, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        var exited = _process.WaitForExitAsync(timeout.Token);
        var seen = 0;
        while (true)
        {
            Task changed;
            lock (_lines)
            {
                for (; seen < _lines.Count; seen++)
                    if (match(_lines[seen])) return _lines[seen];
                changed = _linesChanged.Task;
            }
            if (exited.IsCompletedSuccessfully)
            {
                _process.WaitForExit(); // drains the asynchronous output readers
                lock (_lines) if (_lines.Skip(seen).FirstOrDefault(match) is { } late) return late;
                throw new InvalidOperationException($"qmgr exited ({_process.ExitCode}) without the expected line:\n{Output()}");
            }
            try
            {
                await Task.WhenAny(changed, exited).WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"qmgr printed no expected line within {deadline}:\n{Output()}");
            }
        }
    }

    /// <summary>SIGSTOP: the child is frozen (threads, timers, sockets untouched) until <see cref="Continue"/>.</summary>
    public void Pause() => Signal("STOP");

    /// <summary>SIGCONT: a paused child runs again.</summary>
    public void Continue() => Signal("CONT");

    /// <summary>The child's output so far (stdout, then stderr).</summary>
    public string OutputSoFar => Output();

    private void Signal(string name)
    {
        if (_process.HasExited) return;
        using var kill = Process.Start("kill", [$"-{name}", _process.Id.ToString()]);
        kill.WaitForExit();
    }

    /// <summary>SIGKILL (Process.Kill sends SIGKILL on Unix): no shutdown code runs in the child.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    private string Output() => $"--- stdout\n{Text(_stdout)}\n--- stderr\n{Text(_stderr)}";

    private static string Text(StringBuilder sb)
    {
        lock (sb) return sb.ToString();
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
