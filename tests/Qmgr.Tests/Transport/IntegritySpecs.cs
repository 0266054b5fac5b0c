using System.Security.Cryptography;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Transport;

/// <summary>
/// Integrity before a file counts as transferred: the caller's expected SHA-256 and the server's RFC 9530
/// <c>Repr-Digest</c> / <c>Content-Digest</c>; a mismatch is a fatal error that drops the bytes, never a finished file.
/// </summary>
public sealed class IntegritySpecs : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    private DownloadRequest Request(Uri url, string? sha256 = null, long offset = 0) =>
        new(url, _dir.File(".x.tmp"), offset, Validators.None, null, false, 4 * 1024 * 1024, TimeSpan.FromSeconds(1),
            [TimeSpan.FromMilliseconds(50)], TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10)) { ExpectedSha256 = sha256 };

    private static async Task<(DownloadOutcome Outcome, RecordingDownloadObserver Observer)> RunAsync(DownloadRequest request)
    {
        using var http = new HttpClient();
        var observer = new RecordingDownloadObserver();
        var outcome = await new HttpFileDownloader(http).DownloadAsync(request, observer, (_, _) => ValueTask.CompletedTask, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(30));
        return (outcome, observer);
    }

    [Fact]
    public async Task A_matching_expected_sha256_completes_the_file()
    {
        // arrange
        var content = LoopbackFileServer.Content(200_000, 61);
        var url = _server.Add("/ok.bin", content);

        // act
        var (outcome, _) = await RunAsync(Request(url, Convert.ToHexStringLower(SHA256.HashData(content))));

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        Assert.Equal(content, File.ReadAllBytes(_dir.File(".x.tmp")));
    }

    [Fact]
    public async Task An_html_error_page_with_200_fails_the_expected_sha256_and_its_bytes_are_dropped()
    {
        // arrange: a captive portal answers 200 with HTML instead of the file
        var html = "<html><body>Please log in</body></html>"u8.ToArray();
        var url = _server.Add("/portal.bin", html, new LoopbackFileOptions { ContentType = "text/html" });
        var expected = Convert.ToHexStringLower(SHA256.HashData(LoopbackFileServer.Content(1000, 62)));

        // act
        var (outcome, observer) = await RunAsync(Request(url, expected));

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.False(failed.Error.IsTransient);
        Assert.Equal(BitsErrors.ContentVerificationFailed, failed.Error.HResult);
        Assert.Contains(expected, failed.Error.Message);
        Assert.Equal(0, failed.BytesOnDisk);
        Assert.Equal(0, new FileInfo(_dir.File(".x.tmp")).Length);
        Assert.Contains(observer.Restarts, r => r.Reason == FileRestartReason.VerificationFailed);
    }

    [Fact]
    public async Task A_server_repr_digest_is_checked_even_without_an_expected_sha256()
    {
        // arrange: the server declares the digest of another body (RFC 9530 Repr-Digest)
        var content = LoopbackFileServer.Content(50_000, 63);
        var wrong = Convert.ToBase64String(SHA256.HashData(LoopbackFileServer.Content(50_000, 64)));
        var right = Convert.ToBase64String(SHA256.HashData(content));
        var bad = _server.Add("/bad.bin", content, new LoopbackFileOptions { ExtraHeaders = new Dictionary<string, string> { ["Repr-Digest"] = $"sha-512=:AAAA:, sha-256=:{wrong}:" } });
        var good = _server.Add("/good.bin", content, new LoopbackFileOptions { ExtraHeaders = new Dictionary<string, string> { ["Content-Digest"] = $"sha-256=:{right}:" } });

        // act
        var (badOutcome, _) = await RunAsync(Request(bad));
        var (goodOutcome, _) = await RunAsync(Request(good));

        // assert
        Assert.Equal(BitsErrors.ContentVerificationFailed, Assert.IsType<DownloadOutcome.Failed>(badOutcome).Error.HResult);
        Assert.IsType<DownloadOutcome.Completed>(goodOutcome);
    }

    [Fact]
    public async Task A_resumed_file_is_verified_over_all_its_bytes_not_only_the_resumed_part()
    {
        // arrange: 40,000 good bytes already on disk, then a resume; the hash covers the whole file
        var content = LoopbackFileServer.Content(100_000, 65);
        var url = _server.Add("/resume.bin", content);
        File.WriteAllBytes(_dir.File(".x.tmp"), content[..40_000]);
        var request = Request(url, Convert.ToHexStringLower(SHA256.HashData(content)), offset: 40_000) with { ExpectedSize = content.Length };

        // act
        var (outcome, _) = await RunAsync(request);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        var range = _server.RequestsFor("/resume.bin").Last().Range!; // no validators: a small overlap is fetched again and compared
        Assert.InRange(long.Parse(range["bytes=".Length..^1]), 1, 40_000);
    }
}
