using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Transport;

/// <summary>The filled-map arithmetic of on-demand files (<see cref="FileRangeSet"/>).</summary>
public sealed class FileRangeSetSpecs
{
    [Fact]
    public void Adding_ranges_keeps_them_sorted_and_merges_overlapping_and_touching_ones()
    {
        // act
        var set = FileRangeSet.AddAll([], [new FileRange(100, 10), new FileRange(0, 10), new FileRange(10, 5), new FileRange(105, 20), new FileRange(50, 1)]);

        // assert
        Assert.Equal([new FileRange(0, 15), new FileRange(50, 1), new FileRange(100, 25)], set);
        Assert.Equal(41, FileRangeSet.Total(set));
        Assert.Equal([new FileRange(0, 125)], FileRangeSet.Add(set, 10, 100));
    }

    [Fact]
    public void The_first_missing_span_and_coverage_honour_the_size_for_ranges_to_the_end_of_the_file()
    {
        // arrange
        var set = FileRangeSet.AddAll([], [new FileRange(0, 15), new FileRange(50, 10)]);

        // act / assert
        Assert.Equal((15L, 50L), FileRangeSet.FirstMissing(set, 0, 100));
        Assert.Equal((60L, 100L), FileRangeSet.FirstMissing(set, 50, 100));
        Assert.Equal((60L, long.MaxValue), FileRangeSet.FirstMissing(set, 55, long.MaxValue));
        Assert.Null(FileRangeSet.FirstMissing(set, 52, 58));
        Assert.True(FileRangeSet.Covers(set, new FileRange(50, FileRange.LengthToEof), 60));
        Assert.False(FileRangeSet.Covers(set, new FileRange(50, FileRange.LengthToEof), null)); // the size is unknown
        Assert.False(FileRangeSet.Covers(set, new FileRange(10, 10), 100));
    }
}
