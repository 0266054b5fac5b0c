using System.Collections.Immutable;
using System.Globalization;

namespace Qmgr.Transport;

// BITS ON_DEMAND_MODE / IBackgroundCopyFile6 (bits-spec §2.10, T25): random access into a full-size sparse temp file.
public sealed partial class HttpFileDownloader
{
    /// <summary>
    /// Fetches an on-demand file as <see cref="DownloadRequest.OnDemand"/> plans it. The temp file is set to the remote
    /// file's size (sparse: <c>SetLength</c>, then positioned writes) and each missing piece is one <c>GET</c> with
    /// <c>Range: bytes=a-b</c> (RFC 9110 §14.2) and, once a response gave one, <c>If-Range</c> with the file's validator
    /// (strong ETag, else Last-Modified; §13.1.5). Order: the parts of each requested range not yet present, in the order
    /// requested (overlaps are split off, never fetched twice); then, when no range was requested, the gaps from the
    /// download position to the end and then from the start. Written bytes are flushed and reported with
    /// <see cref="IDownloadObserver.OnFilled"/> every checkpoint and at the end of every piece.
    /// </summary>
    /// <remarks>
    /// <para>Outcomes: <see cref="DownloadOutcome.Completed"/> (fsynced) once every byte is present;
    /// <see cref="DownloadOutcome.RequestedRangesFilled"/> once the plan's requested ranges are present and the file is
    /// not complete; otherwise <see cref="DownloadOutcome.Failed"/>:</para>
    /// <list type="bullet">
    /// <item>a <c>200</c> whose validators did not change (the server ignores <c>Range</c>, or lost range support) →
    /// <see cref="BitsErrors.RandomAccessNotSupported"/>, fatal;</item>
    /// <item>a requested range outside the remote file (seen at the first answer when the size was unknown when it was
    /// requested), or a <c>416</c> → <see cref="BitsErrors.InvalidRange"/>, fatal;</item>
    /// <item>a <c>206</c> whose <c>Content-Range</c> does not start where asked, runs past the piece, or gives no complete
    /// length while the size is unknown → <see cref="BitsErrors.InvalidServerResponse"/>, fatal.</item>
    /// </list>
    /// <para>A changed remote file (If-Range answered <c>200</c> with new validators, or a <c>206</c> / <c>416</c> with
    /// another validator or size) drops every filled byte and starts over (<see cref="FileRestartReason.ValidatorChanged"/>;
    /// requests still pending stay), as BITS restarts a file whose time stamp or size changed; a second change in one
    /// call is a transient <see cref="BitsErrors.InvalidServerResponse"/>. A temp file shorter than the journaled map
    /// starts over with <see cref="FileRestartReason.TempFileShort"/>. Transient faults get the quick retries of
    /// Decision 6 and continue with the piece they interrupted (its written part is already reported).</para>
    /// </remarks>
    private async Task<DownloadOutcome> RunOnDemandAsync(
        DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, FileStream file, CancellationToken ct)
    {
        var session = new OnDemandSession(this, request, observer, throttle, file);
        return await GuardAsync(request, session.RunAsync, session.TryReport, () => session.BytesOnDisk, ct).ConfigureAwait(false);
    }

    private sealed class OnDemandSession(
        HttpFileDownloader owner, DownloadRequest request, IDownloadObserver observer, BandwidthThrottle throttle, FileStream file)
    {
        private readonly List<FileRange> _requested = [.. request.OnDemand!.Requested];
        private readonly bool _requestedOnly = request.OnDemand!.Requested.Count > 0;
        private readonly long _position = request.OnDemand!.Position;
        private ImmutableList<FileRange> _filled = FileRangeSet.AddAll([], request.OnDemand!.Filled);
        private long? _size = request.ExpectedSize;
        private Validators _validators = request.Validators ?? Validators.None;
        private bool _announced;
        private int _restarts;
        // the piece being written: bytes [_segmentStart, _at) are on disk but not reported yet
        private long _segmentStart;
        private long _at;
        private long _sinceCheckpoint;
        private long _lastCheckpointAt;

        /// <summary>Bytes of the remote file in the temp file (reported or not).</summary>
        public long BytesOnDisk => FileRangeSet.Total(_filled) + (_at - _segmentStart);

        public async Task<DownloadOutcome> RunAsync(CancellationToken ct)
        {
            Prepare();
            return await owner.AttemptUntilDoneAsync(request, observer, file, AttemptAsync, QuickRetryable, () => BytesOnDisk,
                _ => Task.FromResult<DownloadOutcome>(_size is { } size && FileRangeSet.Covers(_filled, 0, size)
                    ? new DownloadOutcome.Completed(size, _validators)
                    : new DownloadOutcome.RequestedRangesFilled(_validators)), ct).ConfigureAwait(false);
        }

        /// <summary>Reports what the current piece wrote, when cancelled (the bytes reached the OS and are correct).</summary>
        public void TryReport()
        {
            try
            {
                Report();
            }
            catch (Exception ex) when (IsLocalFault(ex) || ex is ObjectDisposedException)
            {
                // cancelling: unreported bytes are fetched again next time
            }
        }

        // The journaled map is the truth: a temp file shorter than it lost bytes, so everything starts over.
        private void Prepare()
        {
            var end = _filled.Count == 0 ? 0 : _filled[^1].InitialOffset + _filled[^1].Length;
            if (file.Length < end)
            {
                observer.OnRestarted(FileRestartReason.TempFileShort, $"temp file holds {file.Length} bytes, the filled map reaches {end}");
                _filled = [];
                _size = null;
                _validators = Validators.None;
                file.SetLength(0);
            }
            else if (_size is { } size && file.Length != size)
            {
                file.SetLength(size);
            }
        }

        /// <summary>The next piece to fetch as (first byte, last byte or null = to the end), or null when the plan is done.</summary>
        private (long From, long? To)? Next()
        {
            _requested.RemoveAll(r => FileRangeSet.Covers(_filled, r, _size));
            if (_requested.Count > 0)
            {
                var (start, end) = FileRangeSet.Span(_requested[0], _size);
                var gap = FileRangeSet.FirstMissing(_filled, start, end)!.Value;
                return (gap.Start, gap.End == long.MaxValue ? null : gap.End - 1);
            }

            if (_requestedOnly)
            {
                return null;
            }

            if (_size is { } size)
            {
                if (FileRangeSet.Covers(_filled, 0, size))
                {
                    return null;
                }

                var gap = FileRangeSet.FirstMissing(_filled, _position < size ? _position : 0, size)
                    ?? FileRangeSet.FirstMissing(_filled, 0, size)!.Value;
                return (gap.Start, gap.End - 1);
            }

            var open = FileRangeSet.FirstMissing(_filled, _position, long.MaxValue)!.Value;
            return (open.Start, open.End == long.MaxValue ? null : open.End - 1);
        }

        private async Task<Step> AttemptAsync(CancellationToken ct)
        {
            if (SchemeError(request.Url) is { } scheme)
            {
                return Step.Fault(scheme);
            }

            if (Next() is not { } piece)
            {
                return Step.Completed;
            }

            var (from, to) = piece;
            var asked = $"Range: bytes={from}-{to}";
            var (sent, conditional, fault) = await owner.SendRangedAsync(request, HttpMethod.Get, from, to, _validators, ct).ConfigureAwait(false);
            if (sent is not { } response)
            {
                return Step.Fault(fault!);
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                var validators = ValidatorsOf(response);
                switch (status)
                {
                    case 200 when conditional && Differ(_validators, validators):
                        return RemoteChanged($"validators changed from {_validators} to {validators}; HTTP 200 to {asked} with If-Range");

                    case 200:
                        return Step.Fault(Fatal(BitsErrors.RandomAccessNotSupported, 200,
                            $"Server ignored {asked} (HTTP 200) for {Redacted(request.Url)}: on-demand files need a server that honours Range"));

                    case 206:
                        return await AcceptAsync(response, from, to, validators, asked, ct).ConfigureAwait(false);

                    case 416:
                        if (response.Content.Headers.ContentRange is { HasLength: true, Length: { } remoteSize })
                        {
                            if (_size is null)
                            {
                                return LearnSize(remoteSize) is { } outside ? Step.Fault(outside) : Step.Again;
                            }

                            if (_size != remoteSize)
                            {
                                return RemoteChanged($"size changed from {_size} to {remoteSize} bytes (HTTP 416 to {asked})");
                            }
                        }

                        return Step.Fault(Fatal(BitsErrors.InvalidRange, 416,
                            $"HTTP 416 to {asked}: the range lies outside the remote file {Redacted(request.Url)}"));

                    default:
                        return Step.Fault(owner.StatusError(response, status, request.Url));
                }
            }
        }

        /// <summary>The remote size is known now: the temp file takes it (sparse) and every requested range must lie inside.</summary>
        private TransferError? LearnSize(long size)
        {
            _size = size;
            file.SetLength(size);
            foreach (var r in _requested)
            {
                if (r.InitialOffset >= size || !r.ToEndOfFile && r.InitialOffset + r.Length > size)
                {
                    return Fatal(BitsErrors.InvalidRange, null,
                        $"requested range {r.InitialOffset}:{(r.ToEndOfFile ? "eof" : r.Length.ToString(CultureInfo.InvariantCulture))} lies outside the remote file {Redacted(request.Url)} ({size} bytes)");
                }
            }

            return null;
        }

        /// <summary>The remote file is another one now: drop every filled byte and start over without If-Range.</summary>
        private Step RemoteChanged(string detail)
        {
            if (_restarts++ > 0)
            {
                return Step.Fault(ChangedAgain(request.Url, detail));
            }

            observer.OnRestarted(FileRestartReason.ValidatorChanged, detail);
            _filled = [];
            _size = null;
            _validators = Validators.None;
            _announced = false;
            file.SetLength(0);
            return Step.Again;
        }

        private async Task<Step> AcceptAsync(
            HttpResponseMessage response, long from, long? to, Validators validators, string asked, CancellationToken ct)
        {
            var contentRange = response.Content.Headers.ContentRange;
            if (!ContentRangeFits(contentRange, from, to))
            {
                return Step.Fault(ContentRangeMisfit(contentRange, asked, request.Url));
            }

            if (contentRange.HasLength && contentRange.Length is { } remoteSize)
            {
                if (_size is { } known && known != remoteSize)
                {
                    return RemoteChanged($"size changed from {known} to {remoteSize} bytes on HTTP 206 to {asked}");
                }
            }
            else if (_size is null)
            {
                return Step.Fault(Fatal(BitsErrors.InvalidServerResponse, 206,
                    $"HTTP 206 without the file's complete length to {asked}: an on-demand file needs its size"));
            }

            if (!_validators.IsEmpty && !validators.IsEmpty && Differ(_validators, validators))
            {
                return RemoteChanged($"validators changed from {_validators} to {validators} on HTTP 206 to {asked}");
            }

            if (_size is null && LearnSize(contentRange.Length!.Value) is { } outside)
            {
                return Step.Fault(outside);
            }

            if (!validators.IsEmpty)
            {
                _validators = validators;
            }

            if (!_announced)
            {
                _announced = true;
                observer.OnResponse(new ResponseInfo(206, from, _size, _validators));
            }

            var remaining = (to ?? contentRange.To ?? _size!.Value - 1) - from + 1;
            file.Position = from;
            _segmentStart = _at = from;
            _sinceCheckpoint = 0;
            _lastCheckpointAt = owner._time.GetTimestamp();
            var step = await CopyRangeAsync(response, request, throttle, file, from, remaining, asked, () => BytesOnDisk, Wrote, ct)
                .ConfigureAwait(false);
            Report();
            return step;
        }

        private void Wrote(int n)
        {
            _at += n;
            _sinceCheckpoint += n;
            MaybeCheckpoint();
        }

        private void MaybeCheckpoint()
        {
            if (_sinceCheckpoint >= request.CheckpointBytes
                || owner._time.GetElapsedTime(_lastCheckpointAt, owner._time.GetTimestamp()) >= request.CheckpointInterval)
            {
                Report();
            }
        }

        /// <summary>Flushes and reports the bytes written since the last report (Decision 8: flush, then journal).</summary>
        private void Report()
        {
            _sinceCheckpoint = 0;
            _lastCheckpointAt = owner._time.GetTimestamp();
            if (_at <= _segmentStart)
            {
                return;
            }

            file.Flush(flushToDisk: false);
            var range = new FileRange(_segmentStart, _at - _segmentStart);
            _filled = FileRangeSet.Add(_filled, range.InitialOffset, range.Length);
            _segmentStart = _at;
            observer.OnFilled(range);
        }
    }
}
