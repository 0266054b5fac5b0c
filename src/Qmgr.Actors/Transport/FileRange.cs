using System.Text.Json.Serialization;

namespace Qmgr.Transport;

/// <summary>
/// One byte range of a remote file (BITS <c>BG_FILE_RANGE</c>): zero-based <see cref="InitialOffset"/> and
/// <see cref="Length"/> in bytes, &gt; 0 or <see cref="LengthToEof"/> (the rest of the remote file). A file added with
/// ranges (<c>IBackgroundCopyJob3::AddFileWithRanges</c>) is the concatenation of its ranges in the order given;
/// its <see cref="Qmgr.Jobs.JobFile.BytesTotal"/> is the sum of the requested bytes (bits-spec §2.4, §2.10).
/// </summary>
public sealed record FileRange(long InitialOffset, long Length)
{
    /// <summary>BITS <c>BG_LENGTH_TO_EOF</c>, (UINT64)-1: as a signed 64-bit value, -1.</summary>
    public const long LengthToEof = -1;

    /// <summary>True when the range runs to the end of the remote file.</summary>
    [JsonIgnore] public bool ToEndOfFile => Length == LengthToEof;
}
