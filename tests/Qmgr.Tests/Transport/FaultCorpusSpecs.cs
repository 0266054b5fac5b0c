using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Transport;

/// <summary>
/// One test per case of <c>shared/cases/http-fault-cases.md</c>, against <see cref="HttpFileDownloader"/> and the
/// fault-injecting <see cref="LoopbackFileServer"/>, with 50 ms quick retries. Where the corpus expects behaviour that
/// lives above the transport (job verification, Complete, cluster), the test asserts the transport's part and its
/// summary says where the rest lives. The table is in <c>FAULT-CASES.md</c> beside this file.
/// </summary>
public sealed class FaultCorpusSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly BandwidthThrottle NoThrottle = (_, _) => ValueTask.CompletedTask;
    private static readonly DateTimeOffset T1 = new(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly DateTimeOffset T2 = new(2024, 6, 7, 8, 9, 10, TimeSpan.Zero);

    private readonly TempDirectory _dir = new();
    private readonly HttpClient _http = NewClient();
    private LoopbackFileServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackFileServer.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>The transfer pool's client as <c>AddQmgrHttpClient</c> builds it, optionally behind a caller's handler.</summary>
    private static HttpClient NewClient(DelegatingHandler? outer = null)
    {
        HttpMessageHandler handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 10,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        if (outer is not null)
        {
            outer.InnerHandler = handler;
            handler = outer;
        }

        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    private string Target(string name = "file.bin") => _dir.File(name);

    private string TempOf(string target) => TempFiles.TempPathFor(target, "0123abcd");

    private string TempPath(string name = "file.bin") => TempOf(Target(name));

    private static DownloadRequest Request(Uri url, string tempPath, long offset = 0, Validators? validators = null,
        long? expectedSize = null, bool strict = false, long checkpointBytes = 4 * 1024 * 1024,
        int quickRetries = 3, TimeSpan? idleTimeout = null) =>
        new(url, tempPath, offset, validators ?? Validators.None, expectedSize, strict, checkpointBytes,
            TimeSpan.FromSeconds(1),
            Enumerable.Repeat(TimeSpan.FromMilliseconds(50), quickRetries).ToArray(),
            TimeSpan.FromSeconds(30),
            idleTimeout ?? TimeSpan.FromSeconds(10));

    private Task<DownloadOutcome> Run(DownloadRequest request, IDownloadObserver observer, BandwidthThrottle? throttle = null,
        CancellationToken cancellationToken = default, HttpFileDownloader? downloader = null) =>
        (downloader ?? new HttpFileDownloader(_http)).DownloadAsync(request, observer, throttle ?? NoThrottle, cancellationToken).WaitAsync(Deadline);

    private static string Sha(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    private static void AssertSameBytes(byte[] expected, string path) => Assert.Equal(Sha(expected), Sha(File.ReadAllBytes(path)));

    private static string StrongETagOf(byte[] content) => $"\"{Convert.ToHexString(SHA256.HashData(content))[..16].ToLowerInvariant()}\"";

    private static Validators ServerValidators(byte[] content) => new(StrongETagOf(content), T1);

    /// <summary>Every file under the test directory, relative, sorted: proves nothing was written anywhere but the temp path.</summary>
    private string[] FilesOnDisk() =>
        Directory.GetFiles(_dir.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(_dir.Path, f)).Order(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// C01: a cut first GET, then the resume <c>Range: bytes=k-</c> answered <c>200</c> with the whole body. Never appended:
    /// the temp file restarts from 0 (Decision 7, reason RangeIgnored), the bytes are exact. (The journal event and the
    /// <c>StrictRangeSupport</c> error live in the actors; the strict variant is <c>HttpFileDownloaderSpecs</c>.)
    /// </summary>
    [Fact]
    public async Task C01_resume_answered_200_restarts_from_zero_and_bytes_are_exact()
    {
        // arrange
        var content = LoopbackFileServer.Content(2 * 1024 * 1024, seed: 101);
        var url = _server.Add("/f", content, new LoopbackFileOptions
        {
            HonourRange = false,
            CloseAfter = new Dictionary<int, long> { [0] = 768 * 1024 },
        });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        Assert.Equal(FileRestartReason.RangeIgnored, Assert.Single(observer.Restarts).Reason);
        var requests = _server.RequestsFor("/f");
        Assert.Equal([200, 200], requests.Select(r => r.Status));
        // the resume starts where the first body ended on disk: 768 KiB, or less when the close overtook the last segments
        var resumedAt = long.Parse(requests[1].Range!["bytes=".Length..^1]);
        Assert.InRange(resumedAt, 1, 768 * 1024);
        Assert.Equal(0, observer.Responses[1].StartOffset);
        Assert.Equal(StrongETagOf(content), requests[1].IfRange);
        Assert.Equal([".file.bin.qmgr-0123abcd.tmp"], FilesOnDisk());
    }

    /// <summary>
    /// C03: a 206 whose <c>Content-Range</c> does not match the request. (a) starts before the offset: the repeated
    /// bytes are compared with the disk and skipped, no restart; (b) starts after (a hole): asked once more, the honest
    /// answer is used, no restart; (c) a short segment: the bytes are kept and the rest asked for; (d) a total that
    /// differs from the journaled size, and (e) a malformed <c>Content-Range</c>: the file restarts from 0 with a plain GET.
    /// </summary>
    [Fact]
    public async Task C03_mismatched_content_range_is_skipped_retried_continued_or_restarted_never_misplaced()
    {
        // arrange
        var content = LoopbackFileServer.Content(1_500_000, seed: 103);
        const int offset = 1_000_000;
        var cases = new (string Path, LoopbackFileOptions Options, long Expected)[]
        {
            ("/a", new LoopbackFileOptions { RangeStartShift = -576 }, content.Length),
            ("/b", new LoopbackFileOptions { RangeStartShiftAt = new Dictionary<int, long> { [0] = 48_576 } }, content.Length),
            ("/c", new LoopbackFileOptions { MaxPartLength = 150_000 }, content.Length),
            ("/d", new LoopbackFileOptions(), content.Length + 10),
            ("/e", new LoopbackFileOptions { ContentRangeOverride = "bytes banana" }, content.Length),
        };
        var observers = new Dictionary<string, RecordingDownloadObserver>();
        var outcomes = new Dictionary<string, DownloadOutcome>();

        // act
        foreach (var (path, options, expected) in cases)
        {
            var url = _server.Add(path, content, options);
            var temp = TempPath(path.Trim('/'));
            await File.WriteAllBytesAsync(temp, content[..offset]);
            observers[path] = new RecordingDownloadObserver();
            outcomes[path] = await Run(Request(url, temp, offset, ServerValidators(content), expected), observers[path]);
        }

        // assert
        foreach (var (path, _, _) in cases)
        {
            Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcomes[path]).Size);
            AssertSameBytes(content, TempPath(path.Trim('/')));
        }

        Assert.Empty(observers["/a"].Restarts);
        Assert.Equal(offset, Assert.Single(observers["/a"].Responses).StartOffset);
        Assert.Equal([206], _server.RequestsFor("/a").Select(r => r.Status));
        Assert.Empty(observers["/b"].Restarts);
        Assert.Equal([$"bytes={offset}-", $"bytes={offset}-"], _server.RequestsFor("/b").Select(r => r.Range));
        Assert.Empty(observers["/c"].Restarts);
        Assert.Equal(["bytes=1000000-", "bytes=1150000-", "bytes=1300000-", "bytes=1450000-"], _server.RequestsFor("/c").Select(r => r.Range));
        Assert.Equal(FileRestartReason.ValidatorChanged, Assert.Single(observers["/d"].Restarts).Reason);
        Assert.Null(_server.RequestsFor("/d")[^1].Range);
        Assert.Equal(FileRestartReason.ValidatorChanged, Assert.Single(observers["/e"].Restarts).Reason);
        Assert.Equal([206, 200], _server.RequestsFor("/e").Select(r => r.Status));
    }

    /// <summary>
    /// C05: the temp file already holds every byte; <c>Range: bytes=|F|-</c> gets 416, with <c>Content-Range: */|F|</c>
    /// and without it (then the journaled length counts). Completed at once, nothing re-downloaded, no restart.
    /// </summary>
    [Fact]
    public async Task C05_range_not_satisfiable_on_a_complete_partial_completes_without_a_body()
    {
        // arrange
        var content = LoopbackFileServer.Content(300_000, seed: 105);
        var withRange = _server.Add("/with", content);
        var without = _server.Add("/without", content, new LoopbackFileOptions { Omit416ContentRange = true });
        await File.WriteAllBytesAsync(TempPath("with"), content);
        await File.WriteAllBytesAsync(TempPath("without"), content);
        var observer = new RecordingDownloadObserver();

        // act
        var first = await Run(Request(withRange, TempPath("with"), content.Length, ServerValidators(content), content.Length), observer);
        var second = await Run(Request(without, TempPath("without"), content.Length, ServerValidators(content), content.Length), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(first).Size);
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(second).Size);
        AssertSameBytes(content, TempPath("with"));
        AssertSameBytes(content, TempPath("without"));
        Assert.Equal([416], _server.RequestsFor("/with").Select(r => r.Status));
        Assert.Equal([416], _server.RequestsFor("/without").Select(r => r.Status));
        Assert.Empty(observer.Restarts);
        Assert.Empty(observer.Responses);
    }

    /// <summary>
    /// C06: an 11-byte partial of a resource that is now 10 bytes: 416 <c>*/10</c>. The partial is discarded and the file
    /// fetched again with a plain GET, exactly one restart (reason ValidatorChanged).
    /// </summary>
    [Fact]
    public async Task C06_range_not_satisfiable_for_a_longer_stale_partial_restarts_once_with_a_plain_get()
    {
        // arrange
        var now = LoopbackFileServer.Content(10, seed: 106);
        var url = _server.Add("/f", now, new LoopbackFileOptions { HonourIfRange = false });
        await File.WriteAllBytesAsync(TempPath(), LoopbackFileServer.Content(11, seed: 107));
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), 11, new Validators("\"old\"", T1), 11), observer);

        // assert
        Assert.Equal(10, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(now, TempPath());
        Assert.Equal(FileRestartReason.ValidatorChanged, Assert.Single(observer.Restarts).Reason);
        Assert.Equal([("bytes=11-", 416), (null, 200)], _server.RequestsFor("/f").Select(r => (r.Range, r.Status)));
    }

    /// <summary>
    /// C07: every request carrying <c>Range</c> gets 403, a plain GET works. Transport fix: a 4xx to a ranged GET is no
    /// longer fatal at once — a smaller range is tried (C08), then one plain GET; its 200 restarts the file (RangeIgnored)
    /// and the download completes. The partial is kept until that 200 arrives.
    /// </summary>
    [Fact]
    public async Task C07_range_rejected_with_403_falls_back_to_one_plain_get_and_completes()
    {
        // arrange
        var content = LoopbackFileServer.Content(1024 * 1024, seed: 108);
        var url = _server.Add("/f", content, new LoopbackFileOptions { RejectRangeStatus = 403 });
        const int offset = 600_000;
        await File.WriteAllBytesAsync(TempPath(), content[..offset]);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), offset, ServerValidators(content), content.Length), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        var restart = Assert.Single(observer.Restarts);
        Assert.Equal(FileRestartReason.RangeIgnored, restart.Reason);
        Assert.Contains("403", restart.Detail);
        var requests = _server.RequestsFor("/f");
        Assert.Equal([403, 403, 200], requests.Select(r => r.Status));
        Assert.Equal([$"bytes={offset}-", $"bytes={offset}-{offset + HttpFileDownloader.MinRangeLength - 1}", null], requests.Select(r => r.Range));
        Assert.Empty(observer.QuickRetries);
    }

    /// <summary>
    /// C08: ranges longer than 300 000 bytes get 403. Transport fix: the range is halved (floor 256 KiB) until the server
    /// accepts it, the rest goes in ranges of that size with no restart, and the accepted size is remembered per host so
    /// the next file on that host asks for it straight away.
    /// </summary>
    [Fact]
    public async Task C08_large_ranges_rejected_are_split_in_halves_and_the_host_limit_is_remembered()
    {
        // arrange
        var content = LoopbackFileServer.Content(1_500_000, seed: 109);
        var options = new LoopbackFileOptions { MaxRangeLength = 300_000 };
        var url = _server.Add("/f", content, options);
        var second = _server.Add("/g", content, options);
        const int offset = 200_000;
        await File.WriteAllBytesAsync(TempPath(), content[..offset]);
        await File.WriteAllBytesAsync(TempPath("g"), content[..offset]);
        var downloader = new HttpFileDownloader(_http);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), offset, ServerValidators(content), content.Length), observer, downloader: downloader);
        var again = await Run(Request(second, TempPath("g"), offset, ServerValidators(content), content.Length), observer, downloader: downloader);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        Assert.IsType<DownloadOutcome.Completed>(again);
        AssertSameBytes(content, TempPath());
        AssertSameBytes(content, TempPath("g"));
        Assert.Empty(observer.Restarts);
        var first = _server.RequestsFor("/f");
        Assert.Equal([403, 403, 403], first.Take(3).Select(r => r.Status));
        Assert.All(first.Skip(3), r => Assert.Equal(206, r.Status));
        Assert.All(_server.RequestsFor("/g"), r => Assert.Equal(206, r.Status));
        Assert.Equal($"bytes={offset}-{offset + HttpFileDownloader.MinRangeLength - 1}", _server.RequestsFor("/g")[0].Range);
    }

    /// <summary>
    /// C10: F (ETag v1, T1) cut at 40 %, then the server holds F' (same size, ETag v2, T2). The resume carries
    /// <c>If-Range: "v1"</c>, gets 200 with F', restarts (ValidatorChanged, naming old and new ETag) and ends with exactly F'.
    /// </summary>
    [Fact]
    public async Task C10_file_changed_between_attempts_restarts_with_the_new_version_never_mixed()
    {
        // arrange
        var v1 = LoopbackFileServer.Content(1_000_000, seed: 110);
        var v2 = LoopbackFileServer.Content(1_000_000, seed: 111);
        var url = _server.Add("/f", v1, new LoopbackFileOptions
        {
            ETag = "\"v1\"",
            LastModified = T1,
            CloseAfter = new Dictionary<int, long> { [0] = 400_000 },
            Versions = [new ContentVersion(1, v2, "\"v2\"", T2)],
        });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);

        // assert
        var completed = Assert.IsType<DownloadOutcome.Completed>(outcome);
        Assert.Equal(new Validators("\"v2\"", T2), completed.Validators);
        AssertSameBytes(v2, TempPath());
        var restart = Assert.Single(observer.Restarts);
        Assert.Equal(FileRestartReason.ValidatorChanged, restart.Reason);
        Assert.Contains("\"v1\"", restart.Detail);
        Assert.Contains("\"v2\"", restart.Detail);
        var resume = _server.RequestsFor("/f")[1];
        Assert.Equal(("\"v1\"", 200), (resume.IfRange, resume.Status));
    }

    /// <summary>
    /// C12: a stable weak ETag. It is never sent in <c>If-Range</c>: with Last-Modified the date is sent; without it the
    /// resume asks for a 4 KiB overlap and verifies it. Both resume with a 206 and re-download ≤ 1 % of the file.
    /// </summary>
    [Fact]
    public async Task C12_weak_etag_is_never_sent_and_the_resume_re_downloads_at_most_one_percent()
    {
        // arrange
        var content = LoopbackFileServer.Content(1024 * 1024, seed: 112);
        var cut = new Dictionary<int, long> { [0] = 500_000 };
        var dated = _server.Add("/dated", content, new LoopbackFileOptions { ETag = "W/\"abc\"", CloseAfter = cut });
        var undated = _server.Add("/undated", content, new LoopbackFileOptions { ETag = "W/\"abc\"", SendLastModified = false, CloseAfter = cut });
        var observer = new RecordingDownloadObserver();

        // act
        var first = await Run(Request(dated, TempPath("dated")), observer);
        var second = await Run(Request(undated, TempPath("undated")), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(first);
        Assert.IsType<DownloadOutcome.Completed>(second);
        AssertSameBytes(content, TempPath("dated"));
        AssertSameBytes(content, TempPath("undated"));
        Assert.Empty(observer.Restarts);
        Assert.Equal("Tue, 02 Jan 2024 03:04:05 GMT", _server.RequestsFor("/dated")[1].IfRange);
        Assert.Null(_server.RequestsFor("/undated")[1].IfRange);
        Assert.All(_server.Requests, r => Assert.False(r.IfRange?.StartsWith("W/") ?? false));
        foreach (var path in new[] { "/dated", "/undated" })
        {
            var resume = _server.RequestsFor(path)[1];
            Assert.Equal(206, resume.Status);
            var resumedFrom = long.Parse(resume.Range!["bytes=".Length..].TrimEnd('-'));
            var reached = observer.Responses.Where(r => r.HttpStatus == 206).Select(r => r.StartOffset).ToArray();
            Assert.Contains(reached, offset => offset - resumedFrom >= 0 && offset - resumedFrom <= content.Length / 100);
        }
    }

    /// <summary>
    /// C13: no ETag, no Last-Modified, ranges supported, cut at 50 %. Policy: overlapVerify (the only one the transport
    /// has; the corpus's configurable restart/resumeBlind are not offered): the resume asks for 4 KiB before the offset and
    /// compares. Unchanged → resumed without restart; changed (F → F', same size) → restarted, ends with exactly F'.
    /// </summary>
    [Fact]
    public async Task C13_no_validators_resume_verifies_an_overlap_and_restarts_when_it_differs()
    {
        // arrange
        var f = LoopbackFileServer.Content(800_000, seed: 113);
        var changed = LoopbackFileServer.Content(800_000, seed: 114);
        var bare = new LoopbackFileOptions { SendETag = false, SendLastModified = false, CloseAfter = new Dictionary<int, long> { [0] = 400_000 } };
        var same = _server.Add("/same", f, bare);
        var swapped = _server.Add("/swapped", f, bare with { Versions = [new ContentVersion(1, changed, null, T1)] });
        var sameObserver = new RecordingDownloadObserver();
        var swappedObserver = new RecordingDownloadObserver();

        // act
        var first = await Run(Request(same, TempPath("same")), sameObserver);
        var second = await Run(Request(swapped, TempPath("swapped")), swappedObserver);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(first);
        AssertSameBytes(f, TempPath("same"));
        Assert.Empty(sameObserver.Restarts);
        var resume = _server.RequestsFor("/same")[1];
        Assert.Equal((null, 206), (resume.IfRange, resume.Status));
        Assert.Equal($"bytes={sameObserver.Responses[1].StartOffset - HttpFileDownloader.OverlapBytes}-", resume.Range);
        Assert.IsType<DownloadOutcome.Completed>(second);
        AssertSameBytes(changed, TempPath("swapped"));
        var restart = Assert.Single(swappedObserver.Restarts);
        Assert.Equal(FileRestartReason.ValidatorChanged, restart.Reason);
        Assert.Contains("differ", restart.Detail);
        Assert.Equal([200, 206, 200], _server.RequestsFor("/swapped").Select(r => r.Status));
    }

    /// <summary>
    /// C15: <c>200 CL=|F|</c> closed cleanly (FIN) one byte short. A transient ConnectionAborted, never Completed, the good
    /// bytes kept; the next call resumes from them with a validator and completes exactly.
    /// </summary>
    [Fact]
    public async Task C15_body_shorter_than_content_length_is_transient_and_resumes_from_the_received_bytes()
    {
        // arrange
        var content = LoopbackFileServer.Content(500_000, seed: 115);
        var url = _server.Add("/f", content, new LoopbackFileOptions { CloseAfter = new Dictionary<int, long> { [0] = content.Length - 1 } });
        var observer = new RecordingDownloadObserver();

        // act
        var short1 = await Run(Request(url, TempPath(), quickRetries: 0), observer);
        var failed = Assert.IsType<DownloadOutcome.Failed>(short1);
        var resumed = await Run(Request(url, TempPath(), failed.BytesOnDisk, observer.Responses[0].Validators, observer.Responses[0].TotalSize), observer);

        // assert
        Assert.Equal((true, BitsErrors.ConnectionAborted, ErrorContext.GeneralTransport),
            (failed.Error.IsTransient, failed.Error.HResult, failed.Error.Context));
        Assert.InRange(failed.BytesOnDisk, 0, content.Length - 1);
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(resumed).Size);
        AssertSameBytes(content, TempPath());
        var resume = _server.RequestsFor("/f")[1];
        Assert.Equal(($"bytes={failed.BytesOnDisk}-", StrongETagOf(content), 206), (resume.Range, resume.IfRange, resume.Status));
    }

    /// <summary>
    /// C16: TCP reset (RST) mid-body on three attempts in a row, the fourth clean. Each attempt resumes where the last one
    /// stopped (three quick retries, each attempt 1 because progress was made), offsets never go back, bytes exact.
    /// </summary>
    [Fact]
    public async Task C16_connection_reset_three_times_resumes_each_time_without_counting_bytes_twice()
    {
        // arrange
        var content = LoopbackFileServer.Content(900_000, seed: 116);
        var resets = new Dictionary<int, long> { [0] = 200_000, [1] = 150_000, [2] = 150_000 };
        var url = _server.Add("/f", content, new LoopbackFileOptions { ResetAfter = resets });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), checkpointBytes: 100_000), observer);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        AssertSameBytes(content, TempPath());
        Assert.Equal(3, observer.QuickRetries.Count);
        Assert.All(observer.QuickRetries, r => Assert.Equal((1, true), (r.Attempt, r.Error.IsTransient)));
        Assert.Equal([200, 206, 206, 206], _server.RequestsFor("/f").Select(r => r.Status));
        var starts = observer.Responses.Select(r => r.StartOffset).ToArray();
        Assert.Equal(starts.Order().Distinct(), starts);
        Assert.Equal(observer.Checkpoints.Order(), observer.Checkpoints);
        Assert.All(observer.Checkpoints, c => Assert.InRange(c, 1, content.Length));
    }

    /// <summary>
    /// C17: HEAD without length, GET chunked with no Content-Length, Range ignored. Accepted as dynamic content (total
    /// unknown, no HEAD sent at all); a chunked body that ends without its terminator is an interruption, and the file
    /// restarts from 0 (reason UnknownLength) with a plain GET.
    /// </summary>
    [Fact]
    public async Task C17_chunked_without_length_is_dynamic_and_an_interruption_restarts_from_zero()
    {
        // arrange
        var content = LoopbackFileServer.Content(600_000, seed: 117);
        var options = new LoopbackFileOptions { Chunked = true, HonourRange = false, HeadOmitsLength = true };
        var whole = _server.Add("/whole", content, options);
        var broken = _server.Add("/broken", content, options with { ChunkedNoTerminatorAt = new HashSet<int> { 0 } });
        var wholeObserver = new RecordingDownloadObserver();
        var brokenObserver = new RecordingDownloadObserver();

        // act
        var first = await Run(Request(whole, TempPath("whole")), wholeObserver);
        var second = await Run(Request(broken, TempPath("broken")), brokenObserver);

        // assert
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(first).Size);
        AssertSameBytes(content, TempPath("whole"));
        Assert.Null(Assert.Single(wholeObserver.Responses).TotalSize);
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(second).Size);
        AssertSameBytes(content, TempPath("broken"));
        Assert.Equal(FileRestartReason.UnknownLength, Assert.Single(brokenObserver.Restarts).Reason);
        Assert.All(_server.RequestsFor("/broken"), r => Assert.Null(r.Range));
        Assert.DoesNotContain(_server.Requests, r => r.Method == "HEAD");
    }

    /// <summary>
    /// C19: a zero-byte file, as <c>200 CL=0</c> and as an empty chunked body. Completed with size 0 and an empty temp file;
    /// one response reported (total 0, or unknown for chunked). The transport never sends a <c>Range: 0-0</c> probe, so
    /// the corpus's 416-to-probe variant cannot arise.
    /// </summary>
    [Fact]
    public async Task C19_zero_byte_file_completes_empty_at_once()
    {
        // arrange
        var sized = _server.Add("/sized", []);
        var chunked = _server.Add("/chunked", [], new LoopbackFileOptions { Chunked = true });
        var observer = new RecordingDownloadObserver();

        // act
        var first = await Run(Request(sized, TempPath("sized")), observer);
        var second = await Run(Request(chunked, TempPath("chunked")), observer);

        // assert
        Assert.Equal(0, Assert.IsType<DownloadOutcome.Completed>(first).Size);
        Assert.Equal(0, Assert.IsType<DownloadOutcome.Completed>(second).Size);
        Assert.Equal(0, new FileInfo(TempPath("sized")).Length);
        Assert.Equal(0, new FileInfo(TempPath("chunked")).Length);
        Assert.Equal([(200, 0L, (long?)0), (200, 0L, null)], observer.Responses.Select(r => (r.HttpStatus, r.StartOffset, r.TotalSize)));
        Assert.All(_server.Requests, r => Assert.Null(r.Range));
    }

    /// <summary>
    /// C20 (opt-in, QMGR_LONG_TESTS=1): 5 GiB + 3 bytes generated on the fly, the first GET closed at 4 GiB + 17. The
    /// resume's range is a 64-bit offset, the size is exact, the SHA-256 matches the generator's. (The FAT32 variant needs a
    /// volume-size probe above the transport; not covered.)
    /// </summary>
    [LongFact]
    public async Task C20_files_beyond_4_gib_resume_at_a_64_bit_offset_with_the_right_hash()
    {
        // arrange
        const long length = 5L * 1024 * 1024 * 1024 + 3;
        const long cut = 4_294_967_296L + 17;
        var url = _server.AddGenerated("/huge", length, seed: 120, new LoopbackFileOptions { CloseAfter = new Dictionary<int, long> { [0] = cut } });
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await new HttpFileDownloader(_http)
            .DownloadAsync(Request(url, TempPath(), checkpointBytes: 256L * 1024 * 1024), observer, NoThrottle, default)
            .WaitAsync(TimeSpan.FromMinutes(20));

        // assert
        Assert.Equal(length, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        var resume = _server.RequestsFor("/huge")[1];
        Assert.Equal((206, observer.Responses[1].StartOffset), (resume.Status, long.Parse(resume.Range!["bytes=".Length..].TrimEnd('-'))));
        Assert.True(observer.Responses[1].StartOffset > uint.MaxValue);
        using var expected = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1024 * 1024];
        for (long position = 0; position < length; position += buffer.Length)
        {
            var n = (int)Math.Min(buffer.Length, length - position);
            LoopbackFileServer.GeneratedBytes(120, position, buffer.AsSpan(0, n));
            expected.AppendData(buffer, 0, n);
        }

        await using var file = File.OpenRead(TempPath());
        Assert.Equal(Convert.ToHexString(expected.GetHashAndReset()), Convert.ToHexString(await SHA256.HashDataAsync(file)));
    }

    /// <summary>
    /// C21: the server gzips on the fly whatever the request says, <c>Content-Length</c> = compressed size, ranges over the
    /// compressed stream. Qmgr asks <c>Accept-Encoding: identity</c> and stores the representation verbatim (no transparent
    /// decompression), so the lengths agree, a cut resumes over compressed bytes and nothing is truncated; the stored
    /// bytes gunzip to F. A server that gzips only on request sends identity.
    /// </summary>
    [Fact]
    public async Task C21_gzip_content_encoding_is_stored_verbatim_and_resumes_over_the_compressed_bytes()
    {
        // arrange
        var content = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 60_000).Select(i => $"line {i} of the catalogue\n")));
        using var compressedStream = new MemoryStream();
        using (var gz = new GZipStream(compressedStream, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(content);
        var compressed = compressedStream.ToArray();
        var always = _server.Add("/always", content, new LoopbackFileOptions
        {
            Gzip = GzipMode.Always,
            CloseAfter = new Dictionary<int, long> { [0] = compressed.Length / 2 },
        });
        var polite = _server.Add("/polite", content, new LoopbackFileOptions { Gzip = GzipMode.WhenAccepted });
        var observer = new RecordingDownloadObserver();

        // act
        var first = await Run(Request(always, TempPath("always")), observer);
        var second = await Run(Request(polite, TempPath("polite")), observer);

        // assert
        Assert.Equal(compressed.Length, Assert.IsType<DownloadOutcome.Completed>(first).Size);
        AssertSameBytes(compressed, TempPath("always"));
        using (var stored = new GZipStream(File.OpenRead(TempPath("always")), CompressionMode.Decompress))
        using (var plain = new MemoryStream())
        {
            stored.CopyTo(plain);
            Assert.Equal(Sha(content), Sha(plain.ToArray()));
        }

        Assert.Equal([200, 206], _server.RequestsFor("/always").Select(r => r.Status));
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(second).Size);
        AssertSameBytes(content, TempPath("polite"));
        Assert.All(_server.Requests, r => Assert.Equal("identity", r.AcceptEncoding));
    }

    /// <summary>
    /// C22: the first two requests get <c>503 Retry-After: 1</c> (the corpus's 3 s scaled down), then 200. The wait is the
    /// server's, not the 50 ms quick delay, and no request comes earlier; the download completes. A Retry-After beyond the
    /// quick-retry limit (30 s) ends the call at once with a transient error carrying it, for the job's TransientError timer.
    /// </summary>
    [Fact]
    public async Task C22_service_unavailable_with_retry_after_waits_as_told_then_completes()
    {
        // arrange
        var content = LoopbackFileServer.Content(100_000, seed: 122);
        var busy = new StatusReply(503, new Dictionary<string, string> { ["Retry-After"] = "1" });
        var url = _server.Add("/f", content, new LoopbackFileOptions { StatusAt = new Dictionary<int, StatusReply> { [0] = busy, [1] = busy } });
        var later = _server.Add("/later", content, new LoopbackFileOptions { StatusOverride = 503, RetryAfter = "120" });
        var observer = new RecordingDownloadObserver();
        var laterObserver = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);
        var deferred = await Run(Request(later, TempPath("later")), laterObserver);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)], observer.QuickRetries.Select(r => r.Delay));
        var requests = _server.RequestsFor("/f");
        Assert.Equal([503, 503, 200], requests.Select(r => r.Status));
        Assert.All(requests.Zip(requests.Skip(1)), p => Assert.True(p.Item2.Time - p.Item1.Time >= TimeSpan.FromMilliseconds(950)));
        var failed = Assert.IsType<DownloadOutcome.Failed>(deferred);
        Assert.Equal((true, (int?)503, (TimeSpan?)TimeSpan.FromSeconds(120)), (failed.Error.IsTransient, failed.Error.HttpStatus, failed.Error.RetryAfter));
        Assert.Empty(laterObserver.QuickRetries);
    }

    /// <summary>
    /// C24: 429 with <c>Retry-After: 1</c>, then 429 with only the IETF <c>RateLimit: "default";r=0;t=1</c> (transport fix:
    /// its <c>t</c> now counts as Retry-After), then 200; and a connection cap of 1 on the server with two downloads at
    /// once. Both complete. Qmgr keeps Decision 6: a 429 uses a quick retry and then the job's TransientError path with
    /// Retry-After honoured; a separate time-based throttle budget and per-host AIMD are not implemented (see FAULT-CASES.md).
    /// </summary>
    [Fact]
    public async Task C24_too_many_requests_honours_retry_after_and_ratelimit_and_completes()
    {
        // arrange
        var content = LoopbackFileServer.Content(100_000, seed: 124);
        var url = _server.Add("/f", content, new LoopbackFileOptions
        {
            StatusAt = new Dictionary<int, StatusReply>
            {
                [0] = new(429, new Dictionary<string, string> { ["Retry-After"] = "1" }),
                [1] = new(429, new Dictionary<string, string> { ["RateLimit"] = "\"default\";r=0;t=1", ["RateLimit-Policy"] = "\"default\";q=5;w=1" }),
            },
        });
        var slow = _server.Add("/slow", content, new LoopbackFileOptions { TrickleBytesPerSecond = 80_000 });
        var other = _server.Add("/other", content);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer);
        _server.MaxConcurrentRequests = 1;
        var slowRun = Run(Request(slow, TempPath("slow")), new RecordingDownloadObserver());
        var otherRun = Run(Request(other, TempPath("other"), quickRetries: 5), new RecordingDownloadObserver());
        var capped = await Task.WhenAll(slowRun, otherRun);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.Equal([(int?)429, 429], observer.QuickRetries.Select(r => r.Error.HttpStatus));
        Assert.Equal([(TimeSpan?)TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)], observer.QuickRetries.Select(r => r.Error.RetryAfter));
        Assert.All(capped, o => Assert.IsType<DownloadOutcome.Completed>(o));
        AssertSameBytes(content, TempPath("slow"));
        AssertSameBytes(content, TempPath("other"));
    }

    /// <summary>
    /// C26: a signed URL expires mid-download: the first GET is cut, every later request gets 403. The job gets a fatal
    /// RemoteFile error with HTTP 403 (BG_E_HTTP_ERROR_403) and the good bytes kept on disk (the fallback plain GET is
    /// tried, but its 403 drops nothing). A fresh URL with the same bytes and validators (BITS SetRemoteName, above the
    /// transport) then resumes from the same offset with a 206, no restart.
    /// </summary>
    [Fact]
    public async Task C26_signed_url_expiring_mid_download_fails_with_403_keeps_progress_and_resumes_on_a_new_url()
    {
        // arrange
        var content = LoopbackFileServer.Content(1024 * 1024, seed: 126);
        var forbidden = Enumerable.Range(1, 10).ToDictionary(i => i, _ => new StatusReply(403));
        _server.Add("/obj", content, new LoopbackFileOptions { StatusAt = forbidden, CloseAfter = new Dictionary<int, long> { [0] = 300_000 } });
        _server.Add("/obj2", content);
        var expiring = new Uri(_server.BaseAddress, "obj?exp=1&sig=abc");
        var renewed = new Uri(_server.BaseAddress, "obj2?exp=2&sig=def");
        var observer = new RecordingDownloadObserver();

        // act
        var expired = await Run(Request(expiring, TempPath()), observer);
        var failed = Assert.IsType<DownloadOutcome.Failed>(expired);
        var resumed = await Run(Request(renewed, TempPath(), failed.BytesOnDisk, observer.Responses[0].Validators, content.Length), observer);

        // assert
        Assert.Equal((ErrorContext.RemoteFile, BitsErrors.ForHttpStatus(403), (int?)403, false),
            (failed.Error.Context, failed.Error.HResult, failed.Error.HttpStatus, failed.Error.IsTransient));
        Assert.DoesNotContain("sig=", failed.Error.Message);
        Assert.True(failed.BytesOnDisk > 0);
        Assert.Empty(observer.Restarts);
        Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(resumed).Size);
        AssertSameBytes(content, TempPath());
        Assert.Equal(($"bytes={failed.BytesOnDisk}-", 206), (_server.RequestsFor("/obj2")[0].Range, _server.RequestsFor("/obj2")[0].Status));
    }

    /// <summary>
    /// C27: <c>200 text/html</c> maintenance page (12 000 bytes) where the job expects a 290 000-byte binary. The transport
    /// has no declared hash or content type to check (those belong to the job and its Complete); its part: the page goes
    /// only into the temp file, the previous final file is untouched, and the reported total (12 000) lets the job see that
    /// the size differs from the one it expects before Complete would rename anything.
    /// </summary>
    [Fact]
    public async Task C27_html_error_page_with_200_stays_in_the_temp_file_and_reports_its_size()
    {
        // arrange
        var page = Encoding.ASCII.GetBytes("<html>maintenance</html>".PadRight(12_000, ' '));
        var url = _server.Add("/f", page, new LoopbackFileOptions { ContentType = "text/html" });
        var good = LoopbackFileServer.Content(290_000, seed: 127);
        await File.WriteAllBytesAsync(Target(), good);
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), expectedSize: 290_000), observer);

        // assert
        Assert.Equal(12_000, Assert.IsType<DownloadOutcome.Completed>(outcome).Size);
        Assert.Equal((long?)12_000, Assert.Single(observer.Responses).TotalSize);
        AssertSameBytes(good, Target());
        AssertSameBytes(page, TempPath());
    }

    /// <summary>
    /// C29: host A (port A) requires <c>Authorization: Bearer T</c> and redirects to a presigned URL on port B, which
    /// answers 400 to any Authorization. The header the caller's handler added is dropped on the redirect (SocketsHttpHandler
    /// removes Authorization on every redirect), so B sees none and the download succeeds. Port B's log proves it.
    /// </summary>
    [Fact]
    public async Task C29_cross_origin_redirect_drops_the_authorization_header()
    {
        // arrange
        await using var storage = await LoopbackFileServer.StartAsync();
        var content = LoopbackFileServer.Content(200_000, seed: 129);
        var presigned = new Uri(storage.Add("/obj", content, new LoopbackFileOptions { RejectAuthorization = true }), "?X-Amz-Signature=abc");
        var url = _server.Add("/f", [], new LoopbackFileOptions { RequireAuthorization = "Bearer T", RedirectTo = presigned.ToString() });
        using var http = NewClient(new BearerHandler("T"));
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await new HttpFileDownloader(http).DownloadAsync(Request(url, TempPath()), observer, NoThrottle, default).WaitAsync(Deadline);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.Equal(("Bearer T", 302), (_server.RequestsFor("/f")[0].Authorization, _server.RequestsFor("/f")[0].Status));
        var atStorage = Assert.Single(storage.RequestsFor("/obj"));
        Assert.Equal(((string?)null, 200), (atStorage.Authorization, atStorage.Status));
    }

    /// <summary>
    /// C30: (a) <c>/f → 307 Location: /f</c> with <c>Set-Cookie: c=1</c>, the cookie then lets the request through: the
    /// handler's cookie jar is updated on the 3xx and the download succeeds. (b) <c>/a ↔ /b</c> forever: fatal
    /// BG_E_HTTP_ERROR_302 after the client's redirect limit (10 hops, from <c>AddQmgrHttpClient</c>; the corpus's 20 is a
    /// suggestion), no quick retries, no retry storm. The chain itself is not listed (the handler does not expose it).
    /// </summary>
    [Fact]
    public async Task C30_self_redirect_with_cookie_succeeds_and_a_redirect_loop_fails_fast()
    {
        // arrange
        var content = LoopbackFileServer.Content(50_000, seed: 130);
        var challenge = _server.Add("/f", content, new LoopbackFileOptions { RedirectTo = "/f", RedirectStatus = 307, RedirectSetCookie = "c=1; Path=/" });
        var loop = _server.Add("/a", [], new LoopbackFileOptions { RedirectTo = "/b" });
        _server.Add("/b", [], new LoopbackFileOptions { RedirectTo = "/a" });
        var observer = new RecordingDownloadObserver();

        // act
        var solved = await Run(Request(challenge, TempPath()), observer);
        var looped = await Run(Request(loop, TempPath("loop")), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(solved);
        AssertSameBytes(content, TempPath());
        Assert.Equal([(307, null), (200, "c=1")], _server.RequestsFor("/f").Select(r => (r.Status, r.Cookie)));
        var failed = Assert.IsType<DownloadOutcome.Failed>(looped);
        Assert.Equal((BitsErrors.ForHttpStatus(302), (int?)302, false, ErrorContext.RemoteFile),
            (failed.Error.HResult, failed.Error.HttpStatus, failed.Error.IsTransient, failed.Error.Context));
        Assert.Equal(11, _server.RequestsFor("/a").Count + _server.RequestsFor("/b").Count);
        Assert.Empty(observer.QuickRetries);
    }

    /// <summary>
    /// C32: (a) a URL with spaces, brackets and ü; (b) a raw <c>Location: /dir/My File [HD].bin</c>; (c) a URL already
    /// holding <c>%20</c>. Each request-target is encoded exactly once: no raw space or non-ASCII byte, no <c>%2520</c>, and
    /// it decodes back to the path.
    /// </summary>
    [Fact]
    public async Task C32_urls_with_spaces_brackets_and_unicode_are_encoded_exactly_once()
    {
        // arrange
        var content = LoopbackFileServer.Content(10_000, seed: 132);
        _server.Add("/dir/My File [HD] ü.bin", content);
        _server.Add("/dir/My File [HD].bin", content);
        _server.Add("/moved", [], new LoopbackFileOptions { RedirectTo = "/dir/My File [HD].bin" });
        var urls = new[]
        {
            new Uri($"{_server.BaseAddress}dir/My File [HD] ü.bin"),
            _server.UrlOf("/moved"),
            new Uri($"{_server.BaseAddress}dir/My%20File%20[HD].bin"),
        };
        var observer = new RecordingDownloadObserver();

        // act
        var outcomes = new List<DownloadOutcome>();
        for (var i = 0; i < urls.Length; i++)
        {
            outcomes.Add(await Run(Request(urls[i], TempPath($"u{i}")), observer));
        }

        // assert
        Assert.All(outcomes, o => Assert.IsType<DownloadOutcome.Completed>(o));
        var targets = _server.Requests.Where(r => r.Status == 200).Select(r => r.RawTarget).ToArray();
        Assert.Equal(3, targets.Length);
        Assert.All(targets, t => Assert.DoesNotContain(' ', t));
        Assert.All(targets, t => Assert.True(t.All(char.IsAscii), t));
        Assert.All(targets, t => Assert.DoesNotContain("%25", t));
        Assert.Equal(["/dir/My File [HD] ü.bin", "/dir/My File [HD].bin", "/dir/My File [HD].bin"], targets.Select(Uri.UnescapeDataString));
    }

    /// <summary>
    /// C33: <c>Content-Disposition</c> names with traversal, absolute, drive and UNC paths and an encoded <c>../</c>. Qmgr
    /// never takes a file name from the server (the caller names every target; no destination-directory mode exists), so
    /// every byte lands in the caller's temp path and nothing appears outside it.
    /// </summary>
    [Fact]
    public async Task C33_content_disposition_path_traversal_never_chooses_where_bytes_go()
    {
        // arrange
        var content = LoopbackFileServer.Content(5_000, seed: 133);
        var dispositions = new[]
        {
            "attachment; filename=\"../../../../outside/success\"",
            "attachment; filename=\"/outside/abs\"",
            "attachment; filename=\"..\\\\..\\\\x.exe\"",
            "attachment; filename=\"C:\\\\Windows\\\\x\"",
            "attachment; filename=\"\\\\\\\\host\\\\share\\\\x\"",
            "attachment; filename*=UTF-8''..%2F..%2Fx",
        };
        var downloads = _dir.Sub("downloads");
        var observer = new RecordingDownloadObserver();

        // act
        var outcomes = new List<DownloadOutcome>();
        for (var i = 0; i < dispositions.Length; i++)
        {
            var url = _server.Add($"/d{i}", content, new LoopbackFileOptions { ContentDisposition = dispositions[i] });
            outcomes.Add(await Run(Request(url, TempOf(Path.Combine(downloads, $"file{i}.bin"))), observer));
        }

        // assert
        Assert.All(outcomes, o => Assert.IsType<DownloadOutcome.Completed>(o));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => Path.Combine("downloads", $".file{i}.bin.qmgr-0123abcd.tmp")).Order(StringComparer.Ordinal), FilesOnDisk());
        Assert.False(Directory.Exists("/outside"));
    }

    /// <summary>
    /// C34: Windows reserved names, trailing dots/spaces, ADS and <c>?</c> in <c>Content-Disposition</c> are ignored (names come
    /// from the caller). A caller-named target such as <c>NUL</c> or <c>evil.</c> gets a hidden temp beside it that keeps
    /// the name visible (<c>.NUL.qmgr-….tmp</c>, never a device name itself) and the bytes land there. Portable-name
    /// sanitising of caller targets is the API's job (not the transport's); see FAULT-CASES.md.
    /// </summary>
    [Fact]
    public async Task C34_reserved_names_from_the_server_are_ignored_and_temp_names_are_never_device_names()
    {
        // arrange
        var content = LoopbackFileServer.Content(3_000, seed: 134);
        var names = new[] { "NUL", "CON.txt", "com1 .txt", "evil.", "name ", "a.txt:stream", "what?.pptx" };
        var observer = new RecordingDownloadObserver();

        // act
        var outcomes = new List<DownloadOutcome>();
        for (var i = 0; i < names.Length; i++)
        {
            var url = _server.Add($"/n{i}", content, new LoopbackFileOptions { ContentDisposition = $"attachment; filename=\"{names[i]}\"" });
            outcomes.Add(await Run(Request(url, TempPath(names[i])), observer));
        }

        // assert
        Assert.All(outcomes, o => Assert.IsType<DownloadOutcome.Completed>(o));
        Assert.Equal(names.Select(n => $".{n}.qmgr-0123abcd.tmp").Order(StringComparer.Ordinal), FilesOnDisk());
        Assert.All(names, n => AssertSameBytes(content, TempPath(n)));
    }

    /// <summary>
    /// C36: URL paths with percent-encoding and <c>%2F</c> go to the server as sent and never name a file; a caller's target
    /// whose name is 254 UTF-8 bytes (legal) gets a temp name within NAME_MAX (transport fix in <see cref="TempFiles"/>:
    /// the temp name used to add 19 bytes and fail with ENAMETOOLONG).
    /// </summary>
    [Fact]
    public async Task C36_encoded_url_names_never_choose_paths_and_long_target_names_still_get_a_temp_file()
    {
        // arrange
        var content = LoopbackFileServer.Content(4_000, seed: 136);
        _server.Add("/%5BAB%5DMy%20Movie_%28HD%29.mkv".Replace("%5B", "[").Replace("%5D", "]").Replace("%20", " ").Replace("%28", "(").Replace("%29", ")"), content);
        _server.Add("/a%2Fb.txt", content);
        var longName = string.Concat(Enumerable.Repeat("ü", 125)) + ".bin";
        var observer = new RecordingDownloadObserver();

        // act
        var movie = await Run(Request(new Uri(_server.BaseAddress, "%5BAB%5DMy%20Movie_%28HD%29.mkv"), TempPath("movie.mkv")), observer);
        var slash = await Run(Request(new Uri(_server.BaseAddress, "a%2Fb.txt"), TempPath("b.txt")), observer);
        var longTemp = TempPath(longName);
        var named = await Run(Request(_server.UrlOf("/a%2Fb.txt"), longTemp), observer);

        // assert
        Assert.Equal(254, Encoding.UTF8.GetByteCount(longName));
        Assert.InRange(Encoding.UTF8.GetByteCount(Path.GetFileName(longTemp)), 1, TempFiles.MaxNameBytes);
        Assert.All(new[] { movie, slash, named }, o => Assert.IsType<DownloadOutcome.Completed>(o));
        Assert.Equal("/a%2Fb.txt", _server.RequestsFor("/a%2Fb.txt")[0].RawTarget);
        Assert.Equal(3, FilesOnDisk().Length);
        Assert.All(FilesOnDisk(), f => Assert.EndsWith(".qmgr-0123abcd.tmp", f));
        AssertSameBytes(content, longTemp);
    }

    /// <summary>
    /// C37: the target exists as (a) identical content, (b) different content, (c) a directory. The transport writes only
    /// the temp file and leaves each target untouched; the conflict policy is decided at Complete above the transport
    /// (<c>qmgr transfer</c> refuses an existing FILE unless <c>--overwrite</c>; a directory makes Complete fail).
    /// </summary>
    [Fact]
    public async Task C37_existing_destination_is_untouched_by_the_transfer()
    {
        // arrange
        var content = LoopbackFileServer.Content(20_000, seed: 137);
        var other = LoopbackFileServer.Content(20_000, seed: 138);
        var url = _server.Add("/f", content);
        await File.WriteAllBytesAsync(Target("same.bin"), content);
        await File.WriteAllBytesAsync(Target("different.bin"), other);
        _dir.Sub("folder.bin");
        var observer = new RecordingDownloadObserver();

        // act
        var outcomes = new List<DownloadOutcome>();
        foreach (var name in new[] { "same.bin", "different.bin", "folder.bin" })
        {
            outcomes.Add(await Run(Request(url, TempPath(name)), observer));
        }

        // assert
        Assert.All(outcomes, o => Assert.IsType<DownloadOutcome.Completed>(o));
        AssertSameBytes(content, Target("same.bin"));
        AssertSameBytes(other, Target("different.bin"));
        Assert.True(Directory.Exists(Target("folder.bin")));
        Assert.Empty(Directory.GetFileSystemEntries(Target("folder.bin")));
        Assert.All(new[] { "same.bin", "different.bin", "folder.bin" }, n => AssertSameBytes(content, TempPath(n)));
    }

    /// <summary>
    /// C39 (root only): the temp file sits on a 2 MiB tmpfs already holding 1 MiB; a 1.5 MiB download hits ENOSPC. Fatal
    /// LocalFile error with HRESULT_FROM_WIN32(ERROR_DISK_FULL), the good bytes reported and kept; after space is freed the
    /// next call resumes from them and completes exactly. (Auto-suspend and a free-space pre-check are job-level; not here.)
    /// </summary>
    [RootMountFact]
    public async Task C39_disk_full_is_a_fatal_local_error_that_keeps_the_partial_and_resumes_after_space_is_freed()
    {
        // arrange
        var mount = _dir.Sub("small");
        var mounted = await RunToolAsync("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount);
        Assert.True(mounted == 0, "mount -t tmpfs failed; this test needs root and a kernel that allows tmpfs mounts");
        try
        {
            var filler = Path.Combine(mount, "filler");
            await File.WriteAllBytesAsync(filler, new byte[1024 * 1024]);
            var content = LoopbackFileServer.Content(1536 * 1024, seed: 139);
            var url = _server.Add("/f", content);
            var temp = TempOf(Path.Combine(mount, "file.bin"));
            var observer = new RecordingDownloadObserver();

            // act
            var full = await Run(Request(url, temp), observer);
            var failed = Assert.IsType<DownloadOutcome.Failed>(full);
            File.Delete(filler);
            var resumed = await Run(Request(url, temp, failed.BytesOnDisk, observer.Responses[0].Validators, content.Length), observer);

            // assert
            Assert.Equal((ErrorContext.LocalFile, BitsErrors.DiskFull, false, (int?)null),
                (failed.Error.Context, failed.Error.HResult, failed.Error.IsTransient, failed.Error.HttpStatus));
            Assert.InRange(failed.BytesOnDisk, 1, content.Length - 1);
            Assert.Equal(content.Length, Assert.IsType<DownloadOutcome.Completed>(resumed).Size);
            AssertSameBytes(content, temp);
            Assert.Equal($"bytes={failed.BytesOnDisk}-", _server.RequestsFor("/f")[1].Range);
        }
        finally
        {
            await RunToolAsync("umount", "-l", mount);
        }
    }

    /// <summary>
    /// C40: the transport never pre-allocates (no SetLength to the full size, no fallocate): at every checkpoint the temp
    /// file is exactly as long as the bytes written, so file systems without allocation support work unchanged.
    /// </summary>
    [Fact]
    public async Task C40_temp_file_grows_sequentially_without_preallocation()
    {
        // arrange
        var content = LoopbackFileServer.Content(1_000_000, seed: 140);
        var url = _server.Add("/f", content);
        var lengths = new List<(long Offset, long Length)>();
        var observer = new RecordingDownloadObserver { OnCheckpointHook = offset => lengths.Add((offset, new FileInfo(TempPath()).Length)) };

        // act
        var outcome = await Run(Request(url, TempPath(), checkpointBytes: 100_000), observer);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.NotEmpty(lengths);
        Assert.All(lengths, l => Assert.Equal(l.Offset, l.Length));
    }

    /// <summary>
    /// C41: headers, 40 % of the body, then silence with the socket open. The idle timeout (500 ms here) makes it a
    /// transient Timeout and the quick retry resumes at the bytes received. A server that stalls before sending any byte on
    /// every attempt ends with a transient Timeout and 0 bytes, which the job's no-progress timeout turns into an error.
    /// </summary>
    [Fact]
    public async Task C41_stalled_connection_hits_the_idle_timeout_and_resumes()
    {
        // arrange
        var content = LoopbackFileServer.Content(500_000, seed: 141);
        var url = _server.Add("/f", content, new LoopbackFileOptions { StallAfter = new Dictionary<int, long> { [0] = 200_000 } });
        var dead = _server.Add("/dead", content, new LoopbackFileOptions { StallAfter = Enumerable.Range(0, 3).ToDictionary(i => i, _ => 0L) });
        var observer = new RecordingDownloadObserver();
        var deadObserver = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath(), idleTimeout: TimeSpan.FromMilliseconds(500)), observer);
        var stuck = await Run(Request(dead, TempPath("dead"), quickRetries: 2, idleTimeout: TimeSpan.FromMilliseconds(500)), deadObserver);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        var retry = Assert.Single(observer.QuickRetries);
        Assert.Equal((BitsErrors.Timeout, true), (retry.Error.HResult, retry.Error.IsTransient));
        Assert.Equal(("bytes=200000-", 206), (_server.RequestsFor("/f")[1].Range, _server.RequestsFor("/f")[1].Status));
        var failed = Assert.IsType<DownloadOutcome.Failed>(stuck);
        Assert.Equal((BitsErrors.Timeout, true, 0L), (failed.Error.HResult, failed.Error.IsTransient, failed.BytesOnDisk));
        Assert.Equal(3, _server.RequestsFor("/dead").Count);
    }

    /// <summary>
    /// C45 (opt-in, QMGR_LONG_TESTS=1): the real <c>qmgr</c> executable SIGKILLed 20 times at random points of a throttled
    /// transfer, each time restarted with <c>qmgr serve</c>. Every resume asks for exactly a journaled checkpoint
    /// (data flushed before its offset is journaled), the final bytes are exact, one FileTransferred.
    /// </summary>
    [LongFact]
    public async Task C45_twenty_sigkills_resume_at_journaled_offsets_and_the_file_is_exact()
    {
        // arrange
        var deadline = TimeSpan.FromSeconds(90);
        var dataDir = _dir.File("data");
        var journal = new Journal(dataDir);
        var content = LoopbackFileServer.Content(24 * 1024 * 1024, seed: 145);
        var url = _server.Add("/big.bin", content);
        var target = Path.Combine(_dir.Sub("out"), "big.bin");
        var random = new Random(145);
        var process = QmgrProcess.Start("transfer", "--data-dir", dataDir, "--max-bandwidth", "1048576", url.ToString(), target);

        // act
        for (var kill = 0; kill < 20; kill++)
        {
            var seen = journal.Events<Qmgr.Groups.GroupEvents.FileProgressCheckpointed>().Count;
            await journal.WaitForAsync(events => events.OfType<Qmgr.Groups.GroupEvents.FileProgressCheckpointed>().Skip(seen).FirstOrDefault(), deadline);
            await Task.Delay(random.Next(0, 700));
            process.Kill();
            process.Dispose();
            process = QmgrProcess.Start("serve", "--data-dir", dataDir, "--urls", "http://127.0.0.1:0");
        }

        process.Kill();
        process.Dispose();
        var finish = await QmgrProcess.RunAsync(deadline, "serve", "--data-dir", dataDir, "--urls", "http://127.0.0.1:0", "--exit-when-idle");

        // assert
        Assert.True(finish.ExitCode == 0, finish.ToString());
        Assert.Equal(Sha(content), Sha(File.ReadAllBytes(target)));
        var checkpoints = journal.Events<Qmgr.Groups.GroupEvents.FileProgressCheckpointed>().Select(c => c.BytesTransferred).ToHashSet();
        var resumes = _server.RequestsFor("/big.bin").Where(r => r.Range is not null).Select(r => long.Parse(r.Range!["bytes=".Length..].TrimEnd('-')));
        Assert.All(resumes, offset => Assert.Contains(offset, checkpoints));
        Assert.Single(journal.Events<Qmgr.Groups.GroupEvents.FileTransferred>());
    }

    // C46 (two nodes running the same job) runs on a real three-process cluster: Cluster/ClusterFailoverSpecs
    // (A_paused_node_that_lost_its_lease_writes_nothing_after_it_runs_again, A_killed_nodes_download_resumes…).

    /// <summary>
    /// C47: many small files (300 × 1 KiB here; the corpus's 20 000-job group and memory bounds are the group actor's).
    /// The transport's part: every file exact and one keep-alive connection reused for all of them, no connection per file.
    /// </summary>
    [Fact]
    public async Task C47_many_small_files_reuse_one_keep_alive_connection()
    {
        // arrange
        var files = Enumerable.Range(0, 300).Select(i => (Path: $"/s{i}", Content: LoopbackFileServer.Content(1024, seed: 1000 + i))).ToArray();
        foreach (var (path, content) in files)
        {
            _server.Add(path, content);
        }

        var downloader = new HttpFileDownloader(_http);
        var observer = new RecordingDownloadObserver();

        // act
        var outcomes = new List<DownloadOutcome>();
        foreach (var (path, _) in files)
        {
            outcomes.Add(await Run(Request(_server.UrlOf(path), TempPath(path.Trim('/'))), observer, downloader: downloader));
        }

        // assert
        Assert.All(outcomes, o => Assert.Equal(1024, Assert.IsType<DownloadOutcome.Completed>(o).Size));
        Assert.All(files, f => AssertSameBytes(f.Content, TempPath(f.Path.Trim('/'))));
        Assert.Single(_server.Requests.Select(r => r.ConnectionId).Distinct());
    }

    // C48 (an API caller writing outside the allowed roots) is Service/RestApiSpecs.C48_…: it needs the REST API.

    /// <summary>
    /// C49: bandwidth limits are enforced by the <see cref="BandwidthThrottle"/> the governor passes in; the transport's part is
    /// that no byte reaches the disk before it is paid for. The test's throttle checks the file on disk never holds more
    /// than the bytes granted so far, and the grants add up to the file. (Aggregate rates across jobs: the governor's specs.)
    /// </summary>
    [Fact]
    public async Task C49_no_byte_is_written_before_the_throttle_grants_it()
    {
        // arrange
        var content = LoopbackFileServer.Content(700_000, seed: 149);
        var url = _server.Add("/f", content);
        long granted = 0;
        var overruns = 0;
        BandwidthThrottle throttle = async (bytes, ct) =>
        {
            if (File.Exists(TempPath()) && new FileInfo(TempPath()).Length > granted)
            {
                overruns++;
            }

            await Task.Yield();
            granted += bytes;
        };
        var observer = new RecordingDownloadObserver();

        // act
        var outcome = await Run(Request(url, TempPath()), observer, throttle);

        // assert
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.Equal(content.Length, granted);
        Assert.Equal(0, overruns);
    }

    /// <summary>
    /// C50: a job time limit (BITS MaxDownloadTime) is the job actor's timer; when it fires it cancels the transfer. The
    /// transport's part: a cancelled transfer keeps its flushed bytes, and the validators it reported make the next call
    /// resume with <c>If-Range</c> and a 206 — no restart from 0 across the time slice.
    /// </summary>
    [Fact]
    public async Task C50_cancelled_by_a_time_limit_resumes_later_with_the_same_validators()
    {
        // arrange
        var content = LoopbackFileServer.Content(200_000, seed: 150);
        var url = _server.Add("/f", content, new LoopbackFileOptions { TrickleBytesPerSecond = 400_000 });
        using var limit = new CancellationTokenSource();
        var first = new RecordingDownloadObserver { OnCheckpointHook = _ => limit.Cancel() };
        var second = new RecordingDownloadObserver();

        // act
        var stopped = await Record.ExceptionAsync(() => Run(Request(url, TempPath(), checkpointBytes: 40_000), first, cancellationToken: limit.Token));
        var checkpoint = Assert.Single(first.Checkpoints);
        var validators = Assert.Single(first.Responses).Validators;
        var outcome = await Run(Request(url, TempPath(), checkpoint, validators, content.Length), second);

        // assert
        Assert.IsAssignableFrom<OperationCanceledException>(stopped);
        Assert.IsType<DownloadOutcome.Completed>(outcome);
        AssertSameBytes(content, TempPath());
        Assert.Empty(second.Restarts);
        var resume = _server.RequestsFor("/f")[1];
        Assert.Equal(($"bytes={checkpoint}-", StrongETagOf(content), 206), (resume.Range, resume.IfRange, resume.Status));
    }

    private static async Task<int> RunToolAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        await process.WaitForExitAsync().WaitAsync(Deadline);
        return process.ExitCode;
    }

    /// <summary>A caller's handler that adds <c>Authorization: Bearer TOKEN</c> to every request it sends.</summary>
    private sealed class BearerHandler(string token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
