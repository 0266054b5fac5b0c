using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Transport;

public sealed class HttpFileDownloaderSpecs : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly BandwidthThrottle NoThrottle = (_, _) => ValueTask.CompletedTask;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "qmgr-transport-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        AutomaticDecompression = DecompressionMethods.None,
        AllowAutoRedirect = true,
        MaxAutomaticRedirections = 10,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private LoopbackFileServer _server = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _server = await LoopbackFileServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private string TempPath(string name = "file.bin") => TempFiles.TempPathFor(Path.Combine(_dir, name), "0123abcd");

    private static DownloadRequest Request(Uri url, string tempPath, long offset = 0, Validators? validators = null,
        long? expectedSize = null, bool strict = false, long checkpointBytes = 4 * 1024 * 1024,
        TimeSpan? checkpointInterval = null, int quickRetries = 3, TimeSpan? idleTimeout = null) =>
        new(url, tempPath, offset, validators ?? Validators.None, expectedSize, strict, checkpointBytes,
            checkpointInterval ?? TimeSpan.FromSeconds(1),
            Enumerable.Repeat(TimeSpan.FromMilliseconds(50), quickRetries).ToArray(),
            TimeSpan.FromSeconds(30),
            idleTimeout ?? TimeSpan.FromSeconds(10));

    private Task<DownloadOutcome> Run(DownloadRequest request, IDownloadObserver observer, BandwidthThrottle? throttle = null,
        CancellationToken cancellationToken = default) =>
        new HttpFileDownloader(_http).DownloadAsync(request, observer, throttle ?? NoThrottle, cancellationToken).WaitAsync(Deadline);

    private static void AssertSameBytes(byte[] expected, string path) =>
        Assert.Equal(Convert.ToHexString(SHA256.HashData(expected)), Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))));

    private static Validators ServerValidators(string etag) =>
        new(etag, new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero));

    private static string StrongETagOf(byte[] content) =>
        $"\"{Convert.ToHexString(SHA256.HashData(content))[..16].ToLowerInvariant()}\"";

    [Fact]
    public async Task Fresh_download_sends_a_plain_get_and_writes_every_byte()
    {
        // arrange
        var content = LoopbackFileServer.Content(300_000, seed: 1);
        var url = _server.Add("/f", content);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        var completed = Assert.IsType<DownloadOutcome.Completed>(outcome);
        Assert.Equal(content.Length, completed.Size);
        Assert.Equal(StrongETagOf(content), completed.Validators.ETag);
        AssertSameBytes(content, TempPath());
        var logged = Assert.Single(_server.RequestsFor("/f"));
        Assert.Null(logged.Range);
        Assert.Equal(200, logged.Status);
        Assert.Equal(new ResponseInfo(200, 0, content.Length, completed.Validators), Assert.Single(observer.Responses));
        Assert.Empty(observer.Restarts);
    }

    [Fact]
    public async Task Resume_sends_range_and_if_range_and_appends_only_the_rest()
    {
        // arrange
        var content = LoopbackFileServer.Content(500_000, seed: 2);
        var url = _server.Add("/f", content);
        const int offset = 123_457;
        await File.WriteAllBytesAsync(TempPath(), content[..offset]);
        var validators = ServerValidators(StrongETagOf(content));
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), offset, validators, content.Length), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        var logged = Assert.Single(_server.RequestsFor("/f"));
        Assert.Equal($"bytes={offset}-", logged.Range);
        Assert.Equal(validators.ETag, logged.IfRange);
        Assert.Equal(206, logged.Status);
        var response = Assert.Single(observer.Responses);
        Assert.Equal((206, (long)offset, (long?)content.Length), (response.HttpStatus, response.StartOffset, response.TotalSize));
        Assert.Empty(observer.Restarts);
    }

    [Fact]
    public async Task If_range_falls_back_to_last_modified_when_the_etag_is_weak()
    {
        // arrange
        var content = LoopbackFileServer.Content(200_000, seed: 3);
        var url = _server.Add("/f", content, new LoopbackFileOptions { ETag = "W/\"weak\"" });
        const int offset = 50_000;
        await File.WriteAllBytesAsync(TempPath(), content[..offset]);
        var validators = ServerValidators("W/\"weak\"");
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), offset, validators, content.Length), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        var logged = Assert.Single(_server.RequestsFor("/f"));
        Assert.Equal("Tue, 02 Jan 2024 03:04:05 GMT", logged.IfRange);
        Assert.Equal(206, logged.Status);
    }

    [Fact]
    public async Task Resume_without_validators_sends_no_if_range_and_asks_for_an_overlap_to_verify()
    {
        // arrange
        var content = LoopbackFileServer.Content(200_000, seed: 4);
        var url = _server.Add("/f", content, new LoopbackFileOptions { SendETag = false, SendLastModified = false });
        const int offset = 70_000;
        await File.WriteAllBytesAsync(TempPath(), content[..offset]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), offset, Validators.None, content.Length), observer);

        // assert
        Assert.Equal(Validators.None, Assert.IsType<DownloadOutcome.Completed>(outcome).Validators);
        AssertSameBytes(content, TempPath());
        var logged = Assert.Single(_server.RequestsFor("/f"));
        Assert.Equal(($"bytes={offset - HttpFileDownloader.OverlapBytes}-", (string?)null, 206), (logged.Range, logged.IfRange, logged.Status));
    }

    [Fact]
    public async Task Range_ignored_200_restarts_from_zero_and_reports_it()
    {
        // arrange
        var content = LoopbackFileServer.Content(400_000, seed: 5);
        var url = _server.Add("/f", content, new LoopbackFileOptions { HonourRange = false });
        const int offset = 100_000;
        await File.WriteAllBytesAsync(TempPath(), content[..offset]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), offset, ServerValidators(StrongETagOf(content)), content.Length), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        Assert.Equal(FileRestartReason.RangeIgnored, Assert.Single(observer.Restarts).Reason);
        Assert.Equal(new ResponseInfo(200, 0, content.Length, ServerValidators(StrongETagOf(content))), Assert.Single(observer.Responses));
        var logged = Assert.Single(_server.RequestsFor("/f"));
        Assert.Equal(($"bytes={offset}-", 200), (logged.Range, logged.Status));
        Assert.IsType<RecordingDownloadObserver.Restarted>(observer.Events[0]);
    }

    [Fact]
    public async Task Changed_file_answered_200_to_if_range_restarts_with_validator_changed()
    {
        // arrange
        var oldContent = LoopbackFileServer.Content(300_000, seed: 6);
        var newContent = LoopbackFileServer.Content(300_000, seed: 7);
        var url = _server.Add("/f", newContent);
        const int offset = 120_000;
        await File.WriteAllBytesAsync(TempPath(), oldContent[..offset]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), offset, ServerValidators(StrongETagOf(oldContent)), oldContent.Length, strict: true), observer);

        // assert
        Assert.Equal(StrongETagOf(newContent), Assert.IsType<DownloadOutcome.Completed>(outcome).Validators.ETag);
        AssertSameBytes(newContent, TempPath());
        Assert.Equal(FileRestartReason.ValidatorChanged, Assert.Single(observer.Restarts).Reason);
        var logged = Assert.Single(_server.RequestsFor("/f"));
        Assert.Equal((StrongETagOf(oldContent), 200), (logged.IfRange, logged.Status));
    }

    [Fact]
    public async Task Strict_range_support_turns_200_into_insufficient_range_support()
    {
        // arrange
        var content = LoopbackFileServer.Content(300_000, seed: 8);
        var url = _server.Add("/f", content, new LoopbackFileOptions { HonourRange = false });
        const int offset = 100_000;
        await File.WriteAllBytesAsync(TempPath(), content[..offset]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), offset, ServerValidators(StrongETagOf(content)), content.Length, strict: true), observer);

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.Equal(offset, failed.BytesOnDisk);
        Assert.Equal((ErrorContext.RemoteFile, BitsErrors.InsufficientRangeSupport, false),
            (failed.Error.Context, failed.Error.HResult, failed.Error.IsTransient));
        Assert.Equal(unchecked((int)0x80200013), failed.Error.HResult);
        AssertSameBytes(content[..offset], TempPath());
        Assert.Single(_server.RequestsFor("/f"));
        Assert.Empty(observer.Restarts);
        Assert.Empty(observer.Responses);
    }

    [Fact]
    public async Task Not_found_is_fatal_with_http_status_and_remote_file_context()
    {
        // arrange
        var url = _server.UrlOf("/missing");
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.Equal(new TransferError(ErrorContext.RemoteFile, unchecked((int)0x80190194), 404,
            $"HTTP 404 Not Found for {url}", IsTransient: false, RetryAfter: null), failed.Error);
        Assert.Equal(0, failed.BytesOnDisk);
        Assert.Single(_server.RequestsFor("/missing"));
        Assert.Empty(observer.QuickRetries);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(403)]
    [InlineData(410)]
    public async Task Client_errors_other_than_408_and_429_are_fatal_without_quick_retries(int status)
    {
        // arrange
        var url = _server.Add("/f", [1, 2, 3], new LoopbackFileOptions { StatusOverride = status });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        var error = Assert.IsType<DownloadOutcome.Failed>(outcome).Error;
        Assert.Equal((BitsErrors.HttpErrorBase + status, (int?)status, false, ErrorContext.RemoteFile),
            (error.HResult, error.HttpStatus, error.IsTransient, error.Context));
        Assert.StartsWith($"HTTP {status} ", error.Message);
        Assert.Single(_server.RequestsFor("/f"));
        Assert.Empty(observer.QuickRetries);
    }

    [Fact]
    public async Task Junk_past_the_offset_is_cut_back_before_resuming()
    {
        // arrange
        var content = LoopbackFileServer.Content(250_000, seed: 9);
        var url = _server.Add("/f", content);
        const int offset = 80_000;
        await File.WriteAllBytesAsync(TempPath(), [.. content[..offset], .. LoopbackFileServer.Content(5_000, seed: 99)]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), offset, ServerValidators(StrongETagOf(content)), content.Length), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        Assert.Equal($"bytes={offset}-", Assert.Single(_server.RequestsFor("/f")).Range);
        Assert.Empty(observer.Restarts);
    }

    [Fact]
    public async Task Temp_file_shorter_than_the_offset_restarts_from_zero()
    {
        // arrange
        var content = LoopbackFileServer.Content(250_000, seed: 10);
        var url = _server.Add("/f", content);
        await File.WriteAllBytesAsync(TempPath(), content[..40_000]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), 90_000, ServerValidators(StrongETagOf(content)), content.Length), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.Equal(FileRestartReason.TempFileShort, Assert.Single(observer.Restarts).Reason);
        Assert.Null(Assert.Single(_server.RequestsFor("/f")).Range);
    }

    [Fact]
    public async Task Connection_cut_midway_is_retried_quickly_and_bytes_are_exact()
    {
        // arrange
        var content = LoopbackFileServer.Content(600_000, seed: 11);
        var url = _server.Add("/f", content, new LoopbackFileOptions { CutAfter = new Dictionary<int, long> { [0] = 200_000 } });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        var retry = Assert.Single(observer.QuickRetries);
        Assert.Equal((1, TimeSpan.FromMilliseconds(50), true, ErrorContext.GeneralTransport),
            (retry.Attempt, retry.Delay, retry.Error.IsTransient, retry.Error.Context));
        Assert.Equal(BitsErrors.ConnectionAborted, retry.Error.HResult);
        var requests = _server.RequestsFor("/f");
        Assert.Equal(2, requests.Count);
        Assert.Null(requests[0].Range);
        var resumedAt = observer.Responses[1].StartOffset;
        Assert.InRange(resumedAt, 1, 200_000);
        Assert.Equal(($"bytes={resumedAt}-", StrongETagOf(content), 206), (requests[1].Range, requests[1].IfRange, requests[1].Status));
    }

    [Fact]
    public async Task Three_resets_in_a_row_resume_each_time_and_then_complete()
    {
        // arrange
        var content = LoopbackFileServer.Content(700_000, seed: 12);
        var cuts = new Dictionary<int, long> { [0] = 150_000, [1] = 150_000, [2] = 150_000 };
        var url = _server.Add("/f", content, new LoopbackFileOptions { CutAfter = cuts });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.Equal(3, observer.QuickRetries.Count);
        Assert.All(observer.QuickRetries, r => Assert.Equal(1, r.Attempt)); // progress resets the quick-retry counter
        var requests = _server.RequestsFor("/f");
        Assert.Equal(4, requests.Count);
        Assert.All(requests.Skip(1), r => Assert.Equal(206, r.Status));
        var starts = observer.Responses.Select(r => r.StartOffset).ToArray();
        Assert.Equal(starts.Order(), starts);
    }

    [Fact]
    public async Task Short_body_is_a_transient_fault_and_never_completed()
    {
        // arrange
        var content = LoopbackFileServer.Content(100_000, seed: 13);
        var url = _server.Add("/f", content, new LoopbackFileOptions { CutAfter = new Dictionary<int, long> { [0] = content.Length - 1 } });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), quickRetries: 0), observer);

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.True(failed.Error.IsTransient);
        Assert.Equal(BitsErrors.ConnectionAborted, failed.Error.HResult);
        Assert.InRange(failed.BytesOnDisk, 0, content.Length - 1);
        Assert.Equal(failed.BytesOnDisk, new FileInfo(TempPath()).Length);
        AssertSameBytes(content[..(int)failed.BytesOnDisk], TempPath());
    }

    [Fact]
    public async Task Quick_retries_exhausted_return_the_transient_error()
    {
        // arrange
        var url = _server.Add("/f", [1, 2, 3], new LoopbackFileOptions { StatusOverride = 503 });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), quickRetries: 2), observer);

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.Equal((unchecked((int)0x801901F7), (int?)503, true, (TimeSpan?)null),
            (failed.Error.HResult, failed.Error.HttpStatus, failed.Error.IsTransient, failed.Error.RetryAfter));
        Assert.Equal([1, 2], observer.QuickRetries.Select(r => r.Attempt));
        Assert.Equal(3, _server.RequestsFor("/f").Count);
    }

    [Fact]
    public async Task Service_unavailable_with_retry_after_is_honoured()
    {
        // arrange
        var content = LoopbackFileServer.Content(50_000, seed: 14);
        var url = _server.Add("/f", content, new LoopbackFileOptions { FailFirst = 1, FailStatus = 503, RetryAfter = "1" });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        var retry = Assert.Single(observer.QuickRetries);
        Assert.Equal((TimeSpan.FromSeconds(1), (TimeSpan?)TimeSpan.FromSeconds(1), (int?)503),
            (retry.Delay, retry.Error.RetryAfter, retry.Error.HttpStatus));
        var requests = _server.RequestsFor("/f");
        Assert.Equal([503, 200], requests.Select(r => r.Status));
        Assert.True(requests[1].Time - requests[0].Time >= TimeSpan.FromMilliseconds(950));
    }

    [Fact]
    public async Task Retry_after_beyond_the_quick_limit_ends_quick_retries_at_once()
    {
        // arrange
        var url = _server.Add("/f", [1, 2, 3], new LoopbackFileOptions { StatusOverride = 503, RetryAfter = "120" });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.Equal((TimeSpan?)TimeSpan.FromSeconds(120), failed.Error.RetryAfter);
        Assert.True(failed.Error.IsTransient);
        Assert.Empty(observer.QuickRetries);
        Assert.Single(_server.RequestsFor("/f"));
    }

    [Fact]
    public async Task Too_many_requests_with_an_http_date_retry_after_is_transient()
    {
        // arrange
        var content = LoopbackFileServer.Content(20_000, seed: 15);
        var url = _server.Add("/f", content, new LoopbackFileOptions
        {
            FailFirst = 1,
            FailStatus = 429,
            RetryAfter = DateTimeOffset.UtcNow.AddSeconds(-5).ToString("R"),
        });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        var retry = Assert.Single(observer.QuickRetries);
        Assert.Equal((BitsErrors.ForHttpStatus(429), (TimeSpan?)TimeSpan.Zero), (retry.Error.HResult, retry.Error.RetryAfter));
    }

    [Fact]
    public async Task Checkpoints_are_reported_after_flush()
    {
        // arrange
        var content = LoopbackFileServer.Content(1_000_000, seed: 16);
        var url = _server.Add("/f", content);
        var seenOnDisk = new List<(long Offset, bool PrefixMatches)>();
        var observer = new RecordingDownloadObserver
        {
            OnCheckpointHook = offset =>
            {
                using var reader = new FileStream(TempPath(), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                var prefix = new byte[offset];
                reader.ReadExactly(prefix);
                seenOnDisk.Add((offset, prefix.AsSpan().SequenceEqual(content.AsSpan(0, (int)offset))));
            },
        };

        // act
        var outcome = await Run(Request(url, TempPath(), checkpointBytes: 100_000, checkpointInterval: TimeSpan.FromMinutes(1)), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.InRange(observer.Checkpoints.Count, 1_000_000 / (100_000 + HttpFileDownloader.BufferSize), 10);
        Assert.All(seenOnDisk, c => Assert.True(c.PrefixMatches));
        Assert.Equal(observer.Checkpoints.Order(), observer.Checkpoints);
        Assert.All(observer.Checkpoints.Zip(observer.Checkpoints.Skip(1)), p => Assert.InRange(p.Item2 - p.Item1, 100_000, 100_000 + HttpFileDownloader.BufferSize));
    }

    [Fact]
    public async Task Checkpoint_interval_fires_while_bytes_trickle()
    {
        // arrange
        var content = LoopbackFileServer.Content(60_000, seed: 17);
        var url = _server.Add("/f", content, new LoopbackFileOptions { TrickleBytesPerSecond = 60_000 });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), checkpointBytes: long.MaxValue, checkpointInterval: TimeSpan.FromMilliseconds(200)), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.InRange(observer.Checkpoints.Count, 2, 10);
        Assert.Equal(observer.Checkpoints.Order(), observer.Checkpoints);
    }

    [Fact]
    public async Task Chunked_body_without_length_is_accepted()
    {
        // arrange
        var content = LoopbackFileServer.Content(333_333, seed: 18);
        var url = _server.Add("/f", content, new LoopbackFileOptions { Chunked = true });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        var response = Assert.Single(observer.Responses);
        Assert.Equal((200, 0L, (long?)null), (response.HttpStatus, response.StartOffset, response.TotalSize));
    }

    [Fact]
    public async Task Chunked_body_cut_midway_restarts_from_zero_as_unknown_length()
    {
        // arrange
        var content = LoopbackFileServer.Content(400_000, seed: 19);
        var url = _server.Add("/f", content, new LoopbackFileOptions { Chunked = true, CutAfter = new Dictionary<int, long> { [0] = 100_000 } });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        Assert.Equal(FileRestartReason.UnknownLength, Assert.Single(observer.Restarts).Reason);
        Assert.All(_server.RequestsFor("/f"), r => Assert.Null(r.Range));
        Assert.Equal(2, _server.RequestsFor("/f").Count);
    }

    [Fact]
    public async Task Throttle_is_awaited_for_every_byte_written()
    {
        // arrange
        var content = LoopbackFileServer.Content(777_777, seed: 20);
        var url = _server.Add("/f", content);
        var observer = new RecordingDownloadObserver();
        var grants = new List<int>();
        BandwidthThrottle throttle = async (bytes, ct) =>
        {
            grants.Add(bytes);
            await Task.Yield();
        };

        // act
        var outcome = await Run(Request(url, TempPath()), observer, throttle);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.Equal(content.Length, grants.Sum());
        Assert.All(grants, g => Assert.InRange(g, 1, HttpFileDownloader.BufferSize));
    }

    [Fact]
    public async Task Missing_target_directory_is_a_fatal_local_file_error()
    {
        // arrange
        var url = _server.Add("/f", LoopbackFileServer.Content(1_000, seed: 21));
        var tempPath = TempFiles.TempPathFor(Path.Combine(_dir, "no-such-dir", "file.bin"), "0123abcd");
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, tempPath), observer);

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.Equal((ErrorContext.LocalFile, BitsErrors.PathNotFound, (int?)null, false),
            (failed.Error.Context, failed.Error.HResult, failed.Error.HttpStatus, failed.Error.IsTransient));
        Assert.Equal(0, failed.BytesOnDisk);
        Assert.Empty(_server.Requests);
        Assert.False(Directory.Exists(Path.Combine(_dir, "no-such-dir")));
    }

    [Fact]
    public async Task Already_complete_file_answered_416_is_completed_without_a_body()
    {
        // arrange
        var content = LoopbackFileServer.Content(64_000, seed: 22);
        var url = _server.Add("/f", content);
        await File.WriteAllBytesAsync(TempPath(), content);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), content.Length, ServerValidators(StrongETagOf(content)), content.Length), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        var logged = Assert.Single(_server.RequestsFor("/f"));
        Assert.Equal(($"bytes={content.Length}-", 416), (logged.Range, logged.Status));
        Assert.Empty(observer.Restarts);
    }

    [Fact]
    public async Task Range_not_satisfiable_for_a_stale_partial_restarts_from_zero()
    {
        // arrange
        var oldContent = LoopbackFileServer.Content(100_000, seed: 23);
        var newContent = LoopbackFileServer.Content(30_000, seed: 24);
        var url = _server.Add("/f", newContent, new LoopbackFileOptions { SendETag = false, SendLastModified = false });
        await File.WriteAllBytesAsync(TempPath(), oldContent[..50_000]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), 50_000, Validators.None, oldContent.Length), observer);

        // assert
        Assert.Equal(newContent.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(newContent, TempPath());
        Assert.Equal(FileRestartReason.ValidatorChanged, Assert.Single(observer.Restarts).Reason);
        Assert.Equal([416, 200], _server.RequestsFor("/f").Select(r => r.Status));
        Assert.Null(_server.RequestsFor("/f")[1].Range);
    }

    [Fact]
    public async Task Size_change_in_content_range_restarts_from_zero()
    {
        // arrange
        var oldContent = LoopbackFileServer.Content(100_000, seed: 25);
        var newContent = LoopbackFileServer.Content(150_000, seed: 26);
        var url = _server.Add("/f", newContent, new LoopbackFileOptions { SendETag = false, SendLastModified = false });
        await File.WriteAllBytesAsync(TempPath(), oldContent[..40_000]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), 40_000, Validators.None, oldContent.Length), observer);

        // assert
        Assert.Equal(newContent.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(newContent, TempPath());
        Assert.Equal(FileRestartReason.ValidatorChanged, Assert.Single(observer.Restarts).Reason);
        Assert.Equal([206, 200], _server.RequestsFor("/f").Select(r => r.Status));
    }

    [Fact]
    public async Task Partial_content_starting_after_the_offset_is_asked_once_more_then_restarted_never_appended()
    {
        // arrange
        var content = LoopbackFileServer.Content(200_000, seed: 27);
        var url = _server.Add("/f", content, new LoopbackFileOptions { RangeStartShift = 4_096 });
        await File.WriteAllBytesAsync(TempPath(), content[..60_000]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), 60_000, ServerValidators(StrongETagOf(content)), content.Length), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        Assert.Equal(FileRestartReason.ValidatorChanged, Assert.Single(observer.Restarts).Reason);
        var requests = _server.RequestsFor("/f");
        Assert.Equal([("bytes=60000-", 206), ("bytes=60000-", 206), (null, 200)], requests.Select(r => (r.Range, r.Status)));
    }

    [Fact]
    public async Task Stalled_body_hits_the_idle_timeout_and_resumes()
    {
        // arrange
        var content = LoopbackFileServer.Content(300_000, seed: 28);
        var url = _server.Add("/f", content, new LoopbackFileOptions { StallAfter = new Dictionary<int, long> { [0] = 100_000 } });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), idleTimeout: TimeSpan.FromSeconds(1)), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        var retry = Assert.Single(observer.QuickRetries);
        Assert.Equal((BitsErrors.Timeout, true), (retry.Error.HResult, retry.Error.IsTransient));
        Assert.Equal("bytes=100000-", _server.RequestsFor("/f")[1].Range);
    }

    [Fact]
    public async Task Connection_refused_is_transient_cannot_connect()
    {
        // arrange
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(new Uri($"http://127.0.0.1:{port}/f"), TempPath(), quickRetries: 1), observer);

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.Equal((ErrorContext.GeneralTransport, BitsErrors.CannotConnect, true, (int?)null),
            (failed.Error.Context, failed.Error.HResult, failed.Error.IsTransient, failed.Error.HttpStatus));
        Assert.Single(observer.QuickRetries);
    }

    [Fact]
    public async Task Redirect_is_followed_to_the_file()
    {
        // arrange
        var content = LoopbackFileServer.Content(10_000, seed: 29);
        _server.Add("/real", content);
        var url = _server.Add("/moved", [], new LoopbackFileOptions { RedirectTo = "/real" });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.Equal([("/moved", 302), ("/real", 200)], _server.Requests.Select(r => (r.Path, r.Status)));
    }

    [Fact]
    public async Task Redirect_loop_is_fatal_with_the_3xx_status()
    {
        // arrange
        var url = _server.Add("/a", [], new LoopbackFileOptions { RedirectTo = "/b" });
        _server.Add("/b", [], new LoopbackFileOptions { RedirectTo = "/a" });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.Equal((BitsErrors.ForHttpStatus(302), (int?)302, false, ErrorContext.RemoteFile),
            (failed.Error.HResult, failed.Error.HttpStatus, failed.Error.IsTransient, failed.Error.Context));
        Assert.Equal(11, _server.Requests.Count);
        Assert.Empty(observer.QuickRetries);
    }

    [Fact]
    public async Task Zero_byte_file_completes_empty()
    {
        // arrange
        var url = _server.Add("/empty", []);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        Assert.Equal(0, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        Assert.Equal(0, new FileInfo(TempPath()).Length);
        Assert.Equal(new ResponseInfo(200, 0, 0, Assert.Single(observer.Responses).Validators), observer.Responses[0]);
    }

    [Fact]
    public async Task Cancellation_throws_and_leaves_the_flushed_bytes()
    {
        // arrange
        var content = LoopbackFileServer.Content(200_000, seed: 30);
        var url = _server.Add("/f", content, new LoopbackFileOptions { TrickleBytesPerSecond = 40_000 });
        using var cts = new CancellationTokenSource();
        var observer = new RecordingDownloadObserver { OnCheckpointHook = _ => cts.Cancel() };

        // act
        var error = await Record.ExceptionAsync(() =>
            Run(Request(url, TempPath(), checkpointBytes: 10_000), observer, cancellationToken: cts.Token));

        // assert
        Assert.IsAssignableFrom<OperationCanceledException>(error);
        var checkpoint = Assert.Single(observer.Checkpoints);
        var onDisk = await File.ReadAllBytesAsync(TempPath());
        Assert.InRange(onDisk.Length, checkpoint, content.Length - 1);
        Assert.True(onDisk.AsSpan().SequenceEqual(content.AsSpan(0, onDisk.Length)));
    }

    [Fact]
    public async Task Unsupported_scheme_is_fatal_and_sends_nothing()
    {
        // arrange
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(new Uri("ftp://127.0.0.1/f"), TempPath()), observer);

        // assert
        var failed = Assert.IsType<DownloadOutcome.Failed>(outcome);
        Assert.Equal((BitsErrors.UnrecognizedScheme, false), (failed.Error.HResult, failed.Error.IsTransient));
        Assert.Empty(observer.Events);
    }

    [Fact]
    public async Task Error_messages_leave_out_user_info_and_query()
    {
        // arrange
        var url = new Uri(_server.BaseAddress, "gone?X-Signature=secret");
        var withUser = new UriBuilder(url) { UserName = "alice", Password = "pw" }.Uri;
        _server.Add("/gone", [], new LoopbackFileOptions { StatusOverride = 410 });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(withUser, TempPath()), observer);

        // assert
        var message = Assert.IsType<DownloadOutcome.Failed>(outcome).Error.Message;
        Assert.Equal($"HTTP 410 Gone for {_server.BaseAddress}gone", message);
        Assert.DoesNotContain("secret", message);
        Assert.DoesNotContain("alice", message);
    }
}
