using System.Globalization;

namespace Qmgr.Transport;

// BITS AddFileWithRanges (bits-spec §2.10): the temp file is the concatenation of the requested ranges in the order given.
public sealed partial class HttpFileDownloader
{
    /// <summary>
    /// Fetches <see cref="DownloadRequest.Ranges"/> with one <c>GET</c> and <c>Range: bytes=a-b</c> per range (RFC 9110
    /// §14.2), appending each body to the temp file. <see cref="DownloadRequest.Offset"/> counts bytes of the
    /// concatenation: a resume finds the range holding that byte and asks for the rest of that range only, with
    /// <c>If-Range</c> (strong ETag, else Last-Modified) once a response gave a validator.
    /// </summary>
    /// <remarks>
    /// <para>Outcomes, as BITS reports them (all fatal, the job enters Error):</para>
    /// <list type="bullet">
    /// <item>a <c>200</c> to a ranged GET whose validators did not change: the server ignores <c>Range</c> →
    /// <see cref="BitsErrors.InsufficientRangeSupport"/> (Decision 7's restart does not apply: a whole body is not the
    /// concatenation asked for);</item>
    /// <item>a <c>416</c>, or a complete length (<c>Content-Range: …/T</c>) that ends before a requested range →
    /// <see cref="BitsErrors.InvalidRange"/>, checked for every range at the first answer;</item>
    /// <item>a <c>206</c> whose <c>Content-Range</c> does not start where asked, runs past the range, or gives no complete
    /// length while a <c>BG_LENGTH_TO_EOF</c> range needs it → <see cref="BitsErrors.InvalidServerResponse"/>.</item>
    /// </list>
    /// <para>A changed remote file (If-Range answered <c>200</c> with new validators, or a <c>206</c> with a different
    /// ETag / Last-Modified) restarts the file from byte 0 with <see cref="FileRestartReason.ValidatorChanged"/>, as BITS
    /// restarts a file whose time stamp or size changed; a second change within one call is a transient
    /// <see cref="BitsErrors.InvalidServerResponse"/>. Transient faults (resets, 5xx, short bodies) get the quick retries
    /// of Decision 6 and resume inside the range they interrupted.</para>
    /// </remarks>
    private async Task<DownloadOutcome> RunRangesAsync(
        DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, FileStream file, CancellationToken ct)
    {
        var session = new RangedSession(this, request, observer, throttle, file);
        return await GuardAsync(request, session.RunAsync, () => FlushQuietly(file), () => session.Offset, ct).ConfigureAwait(false);
    }

    private static TransferError MaxSizeError(DownloadRequest request, long bytes, long cap) =>
        new(ErrorContext.RemoteFile, BitsErrors.MaxDownloadSizeLimitReached, null,
            $"{Redacted(request.Url)}: {bytes} bytes would pass the job's MAX_DOWNLOAD_SIZE ({cap} bytes left)", IsTransient: false, RetryAfter: null);

    private sealed class RangedSession(
        HttpFileDownloader owner, DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, FileStream file)
    {
        private readonly IReadOnlyList<FileRange> _ranges = request.Ranges!;
        private readonly long?[] _lengths = request.Ranges!.Select(r => r.ToEndOfFile ? (long?)null : r.Length).ToArray();
        private Validators _validators = request.Validators ?? Validators.None;
        private long _offset;
        private bool _announced;
        private long? _announcedTotal;
        private int _restarts;
        private long _sinceCheckpoint;
        private long _lastCheckpointAt;

        /// <summary>Good bytes of the concatenation on disk.</summary>
        public long Offset => _offset;

        private long? Total => _lengths.All(l => l is not null) ? _lengths.Sum(l => l!.Value) : null;

        public async Task<DownloadOutcome> RunAsync(CancellationToken ct)
        {
            ResolveFromExpectedSize();
            var kept = TempFiles.CutBack(file, request.Offset);
            if (kept < request.Offset)
            {
                observer.OnRestarted(FileRestartReason.TempFileShort, $"temp file holds {kept} bytes, journal says {request.Offset}");
                Truncate();
            }
            else if (request.Offset > 0 && request.Method is { } custom)
            {
                // a job with a custom HTTP method never resumes: its file starts again from byte 0 (bits-spec T28)
                observer.OnRestarted(FileRestartReason.CustomHttpMethod, $"HTTP method {custom}: {request.Offset} bytes are not resumed");
                Truncate();
            }
            else
            {
                _offset = request.Offset;
            }

            return await owner.AttemptUntilDoneAsync(request, observer, file, AttemptAsync, QuickRetryable, () => _offset,
                _ => Task.FromResult<DownloadOutcome>(new DownloadOutcome.Completed(_offset, _validators)), ct).ConfigureAwait(false);
        }

        // The journaled total (sum of the ranges) gives the length of the one BG_LENGTH_TO_EOF range there can be.
        private void ResolveFromExpectedSize()
        {
            var open = Array.FindIndex(_lengths, l => l is null);
            if (open >= 0 && request.ExpectedSize is { } total)
            {
                var rest = total - _lengths.Where(l => l is not null).Sum(l => l!.Value);
                if (rest > 0)
                {
                    _lengths[open] = rest;
                }
            }
        }

        private void Truncate()
        {
            file.SetLength(0);
            file.Position = 0;
            _offset = 0;
            _sinceCheckpoint = 0;
        }

        /// <summary>The range holding byte <see cref="_offset"/> of the concatenation and the offset inside it; null when every range is on disk.</summary>
        private (int Index, long Inner)? Locate()
        {
            long start = 0;
            for (var i = 0; i < _ranges.Count; i++)
            {
                if (_lengths[i] is not { } length || _offset < start + length)
                {
                    return (i, _offset - start);
                }

                start += length;
            }

            return null;
        }

        private async Task<Step> AttemptAsync(CancellationToken ct)
        {
            if (SchemeError(request.Url) is { } scheme)
            {
                return Step.Fault(scheme);
            }

            if (Locate() is not { } at)
            {
                return Step.Completed;
            }

            var (index, inner) = at;

            var range = _ranges[index];
            var from = range.InitialOffset + inner;
            long? to = _lengths[index] is { } length ? range.InitialOffset + length - 1 : null;
            var asked = $"Range: bytes={from}-{to}";
            var (sent, conditional, fault) = await owner.SendRangedAsync(request, MethodOf(request), from, to, _validators, ct).ConfigureAwait(false);
            if (sent is not { } response)
            {
                return Step.Fault(fault!);
            }

            using (response)
            {
                observer.OnResponseHeaders(HeaderBlock(response));
                var status = (int)response.StatusCode;
                var validators = ValidatorsOf(response);
                switch (status)
                {
                    case 200 when conditional && Differ(_validators, validators):
                        return RemoteChanged($"validators changed from {_validators} to {validators}; HTTP 200 to {asked} with If-Range");

                    case 200:
                        return Step.Fault(Fatal(BitsErrors.InsufficientRangeSupport, 200,
                            $"Server ignored {asked} (HTTP 200) for {Redacted(request.Url)}: ranges need a server that honours Range"));

                    case 206:
                        return await AcceptAsync(response, index, from, to, validators, asked, ct).ConfigureAwait(false);

                    case 416:
                        var size = response.Content.Headers.ContentRange is { HasLength: true } unsatisfied
                            ? $"{unsatisfied.Length} bytes" : "size not given";
                        return Step.Fault(Fatal(BitsErrors.InvalidRange, 416,
                            $"HTTP 416 to {asked}: the range lies outside the remote file {Redacted(request.Url)} ({size})"));

                    default:
                        return Step.Fault(owner.StatusError(response, status, request.Url));
                }
            }
        }

        /// <summary>The remote file is another one now: drop the bytes and start over from the first range, without If-Range.</summary>
        private Step RemoteChanged(string detail)
        {
            if (_restarts++ > 0)
            {
                return Step.Fault(ChangedAgain(request.Url, detail));
            }

            observer.OnRestarted(FileRestartReason.ValidatorChanged, detail);
            Truncate();
            _validators = Validators.None;
            _announced = false;
            for (var i = 0; i < _ranges.Count; i++)
            {
                _lengths[i] = _ranges[i].ToEndOfFile ? null : _ranges[i].Length;
            }

            return Step.Again;
        }

        private async Task<Step> AcceptAsync(
            HttpResponseMessage response, int index, long from, long? to, Validators validators, string asked, CancellationToken ct)
        {
            var contentRange = response.Content.Headers.ContentRange;
            if (!ContentRangeFits(contentRange, from, to))
            {
                return Step.Fault(ContentRangeMisfit(contentRange, asked, request.Url));
            }

            if (_offset > 0 && !validators.IsEmpty && Differ(_validators, validators))
            {
                return RemoteChanged($"validators changed from {_validators} to {validators} on HTTP 206 to {asked}");
            }

            if (contentRange.HasLength && contentRange.Length is { } remoteSize)
            {
                for (var i = 0; i < _ranges.Count; i++)
                {
                    var r = _ranges[i];
                    if (r.InitialOffset >= remoteSize || !r.ToEndOfFile && r.InitialOffset + r.Length > remoteSize)
                    {
                        return Step.Fault(Fatal(BitsErrors.InvalidRange, 206,
                            $"range {r.InitialOffset}:{(r.ToEndOfFile ? "eof" : r.Length.ToString(CultureInfo.InvariantCulture))} lies outside the remote file {Redacted(request.Url)} ({remoteSize} bytes)"));
                    }

                    if (r.ToEndOfFile)
                    {
                        _lengths[i] = remoteSize - r.InitialOffset;
                    }
                }
            }
            else if (_lengths[index] is null)
            {
                return Step.Fault(Fatal(BitsErrors.InvalidServerResponse, 206,
                    $"HTTP 206 without the file's complete length to {asked}: a BG_LENGTH_TO_EOF range needs it"));
            }

            if (!validators.IsEmpty)
            {
                _validators = validators;
            }

            var total = Total;
            if (request.MaxBytes is { } cap && total is { } sum && sum > cap)
            {
                return Step.Fault(MaxSizeError(request, sum, cap));
            }

            if (!_announced || total != _announcedTotal)
            {
                _announced = true;
                _announcedTotal = total;
                observer.OnResponse(new ResponseInfo(206, _offset, total, _validators));
                _lastCheckpointAt = owner._time.GetTimestamp();
            }

            // bytes this range still needs; the server may send fewer (then the next request continues the range)
            var remaining = (to ?? contentRange.To ?? long.MaxValue - 1) - from + 1;
            file.Position = _offset;
            return await CopyRangeAsync(response, request, throttle, file, from, remaining, asked, () => _offset, Wrote, ct).ConfigureAwait(false);
        }

        private void Wrote(int n)
        {
            _offset += n;
            _sinceCheckpoint += n;
            MaybeCheckpoint();
        }

        private void MaybeCheckpoint()
        {
            var now = owner._time.GetTimestamp();
            if (_sinceCheckpoint < request.CheckpointBytes && owner._time.GetElapsedTime(_lastCheckpointAt, now) < request.CheckpointInterval)
            {
                return;
            }

            file.Flush(flushToDisk: false);
            _sinceCheckpoint = 0;
            _lastCheckpointAt = now;
            observer.OnCheckpoint(_offset);
        }
    }
}
