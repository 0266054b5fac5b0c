using System.Text.Json;
using Xunit;

namespace Qmgr.Tests.Support;

/// <summary>
/// Base of the end-to-end specs that run the real <c>qmgr</c> executable as child processes on one temp data directory
/// (<see cref="DataDir"/>) against a <see cref="LoopbackFileServer"/>; <see cref="Deadline"/> bounds every process.
/// </summary>
public abstract class CliSpecs(TimeSpan deadline) : IAsyncLifetime, IDisposable
{
    /// <summary>How long one qmgr process may run.</summary>
    protected TimeSpan Deadline { get; } = deadline;

    protected TempDirectory Dir { get; } = new();

    protected LoopbackFileServer Server { get; private set; } = null!;

    protected string DataDir => Dir.File("data");

    public async Task InitializeAsync() => Server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary><c>qmgr ARGS --data-dir DATA</c> to its end.</summary>
    protected Task<CliResult> Run(params string[] args) => QmgrProcess.RunAsync(Deadline, [.. args, "--data-dir", DataDir]);

    /// <summary><see cref="Run"/>, asserting exit 0.</summary>
    protected async Task<CliResult> Ok(params string[] args)
    {
        var result = await Run(args);
        Assert.True(result.ExitCode == 0, $"qmgr {string.Join(' ', args)}: {result}");
        return result;
    }

    /// <summary>The process's stdout as JSON (a verb run with --json).</summary>
    protected static JsonElement Json(CliResult result) => JsonDocument.Parse(result.Stdout).RootElement;
}
