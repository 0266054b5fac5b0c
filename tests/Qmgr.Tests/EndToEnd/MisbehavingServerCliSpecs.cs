using System.Security.Cryptography;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.EndToEnd;

/// <summary>
/// `qmgr transfer` with default settings against servers that misbehave: byte-exact files where a careful client can
/// get them, a non-zero exit with a one-line reason (and no final file) where it cannot.
/// </summary>
public sealed class MisbehavingServerCliSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private const int Size = 2 * 1024 * 1024 + 333;
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Recoverable() =>
        ["reset-first-connection-halfway", "close-first-connection-early", "503-retry-after-1", "429-retry-after-1", "range-ignored", "chunked", "three-redirects"];

    private Uri Serve(string behaviour, byte[] content)
    {
        var half = new Dictionary<int, long> { [0] = Size / 2 };
        return behaviour switch
        {
            "reset-first-connection-halfway" => _server.Add("/f", content, new LoopbackFileOptions { ResetAfter = half }),
            "close-first-connection-early" => _server.Add("/f", content, new LoopbackFileOptions { CloseAfter = half }),
            "503-retry-after-1" => _server.Add("/f", content, new LoopbackFileOptions { FailFirst = 1, FailStatus = 503, RetryAfter = "1" }),
            "429-retry-after-1" => _server.Add("/f", content, new LoopbackFileOptions { FailFirst = 1, FailStatus = 429, RetryAfter = "1" }),
            "range-ignored" => _server.Add("/f", content, new LoopbackFileOptions { HonourRange = false, CloseAfter = half }),
            "chunked" => _server.Add("/f", content, new LoopbackFileOptions { Chunked = true }),
            "three-redirects" => Chain(content),
            _ => throw new ArgumentOutOfRangeException(nameof(behaviour)),
        };
    }

    private Uri Chain(byte[] content)
    {
        _server.Add("/f", content);
        _server.Add("/r3", [], new LoopbackFileOptions { RedirectTo = "/f" });
        _server.Add("/r2", [], new LoopbackFileOptions { RedirectTo = "/r3", RedirectStatus = 301 });
        return _server.Add("/r1", [], new LoopbackFileOptions { RedirectTo = "/r2", RedirectStatus = 307 });
    }

    [Theory]
    [MemberData(nameof(Recoverable))]
    public async Task Transfer_with_defaults_gets_the_exact_bytes(string behaviour)
    {
        // arrange
        var content = LoopbackFileServer.Content(Size, seed: behaviour.Length);
        var url = Serve(behaviour, content);
        var target = _dir.File("out.bin");

        // act
        var result = await QmgrProcess.RunAsync(Deadline, "transfer", "--data-dir", _dir.File("data"), url.ToString(), target);

        // assert
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(File.ReadAllBytes(target)));
        Assert.Equal(["out.bin"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("redirect-loop", "HTTP 3")]
    [InlineData("404", "HTTP 404")]
    [InlineData("410", "HTTP 410")]
    public async Task Transfer_fails_within_a_minute_with_a_one_line_reason_and_no_final_file(string behaviour, string reason)
    {
        // arrange
        var url = behaviour switch
        {
            "redirect-loop" => _server.Add("/loop", [], new LoopbackFileOptions { RedirectTo = "/loop" }),
            "404" => _server.UrlOf("/missing"),
            _ => _server.Add("/gone", [], new LoopbackFileOptions { StatusOverride = 410 }),
        };
        var target = _dir.File("out.bin");

        // act: the deadline is the "within a minute"
        var result = await QmgrProcess.RunAsync(TimeSpan.FromMinutes(1), "transfer", "--data-dir", _dir.File("data"), url.ToString(), target);

        // assert
        Assert.True(result.ExitCode == 1, result.ToString());
        var line = Assert.Single(result.Stderr.Split('\n'), l => l.StartsWith("qmgr: http", StringComparison.Ordinal));
        Assert.Contains(reason, line);
        Assert.Contains("job state Error", line);
        Assert.False(File.Exists(target));
    }
}
