using System.Collections.Immutable;

namespace Qmgr.Transport;

/// <summary>
/// Byte-range set arithmetic for on-demand files (BITS <c>IBackgroundCopyFile6</c>): a set is an immutable list of
/// <see cref="FileRange"/> with concrete lengths (never <see cref="FileRange.LengthToEof"/>), sorted by offset, without
/// overlaps or touching neighbours (adjacent ranges are merged). Offsets and lengths in bytes. Pure functions.
/// </summary>
public static class FileRangeSet
{
    /// <summary>The set holding <paramref name="set"/>'s bytes and [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>).</summary>
    public static ImmutableList<FileRange> Add(ImmutableList<FileRange> set, long start, long length)
    {
        if (length <= 0) return set;
        var end = start + length;
        var result = ImmutableList.CreateBuilder<FileRange>();
        var inserted = false;
        foreach (var r in set)
        {
            var rEnd = r.InitialOffset + r.Length;
            if (rEnd < start)
            {
                result.Add(r);
            }
            else if (r.InitialOffset > end)
            {
                if (!inserted) { result.Add(new FileRange(start, end - start)); inserted = true; }
                result.Add(r);
            }
            else
            {
                start = Math.Min(start, r.InitialOffset);
                end = Math.Max(end, rEnd);
            }
        }
        if (!inserted) result.Add(new FileRange(start, end - start));
        return result.ToImmutable();
    }

    /// <summary>The union of <paramref name="set"/> and every range of <paramref name="ranges"/> (concrete lengths).</summary>
    public static ImmutableList<FileRange> AddAll(ImmutableList<FileRange> set, IEnumerable<FileRange> ranges) =>
        ranges.Aggregate(set, (s, r) => Add(s, r.InitialOffset, r.Length));

    /// <summary>Bytes in the set.</summary>
    public static long Total(IEnumerable<FileRange> set) => set.Sum(r => r.Length);

    /// <summary>True when every byte of [<paramref name="start"/>, <paramref name="end"/>) is in the set (an empty span is covered).</summary>
    public static bool Covers(IReadOnlyList<FileRange> set, long start, long end) => FirstMissing(set, start, end) is null;

    /// <summary>
    /// The first gap of the set inside [<paramref name="start"/>, <paramref name="end"/>) as (offset, exclusive end), or
    /// null when the span is covered. <paramref name="end"/> may be <see cref="long.MaxValue"/> for "to the end of an
    /// unknown size"; the gap then ends at the next filled range or at <see cref="long.MaxValue"/>.
    /// </summary>
    public static (long Start, long End)? FirstMissing(IReadOnlyList<FileRange> set, long start, long end)
    {
        var at = start;
        foreach (var r in set)
        {
            if (at >= end) return null;
            var rEnd = r.InitialOffset + r.Length;
            if (rEnd <= at) continue;
            if (r.InitialOffset > at) return (at, Math.Min(end, r.InitialOffset));
            at = rEnd;
        }
        return at < end ? (at, end) : null;
    }

    /// <summary>
    /// The span a requested range stands for once the file's size is known: [offset, offset + length), a
    /// BG_LENGTH_TO_EOF range up to <paramref name="size"/> (or <see cref="long.MaxValue"/> while the size is unknown).
    /// </summary>
    public static (long Start, long End) Span(FileRange range, long? size) =>
        (range.InitialOffset, range.ToEndOfFile ? size ?? long.MaxValue : range.InitialOffset + range.Length);

    /// <summary>True when the set holds every byte of <paramref name="range"/> (a BG_LENGTH_TO_EOF range needs the size).</summary>
    public static bool Covers(IReadOnlyList<FileRange> set, FileRange range, long? size)
    {
        if (range.ToEndOfFile && size is null) return false;
        var (start, end) = Span(range, size);
        return Covers(set, start, end);
    }
}
