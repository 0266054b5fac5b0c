using System.Security.Cryptography;

namespace Qmgr.Transport;

/// <summary>
/// Naming and crash cut-back of the hidden temporary files that hold a file's bytes until <c>Complete</c>
/// (DESIGN Decision 14: <c>.NAME.qmgr-XXXXXXXX.tmp</c> beside the target; Decision 8: cut back to the last journaled
/// offset after a crash).
/// </summary>
public static class TempFiles
{
    /// <summary>
    /// The temp path for <paramref name="targetPath"/>: same directory, name <c>.NAME.qmgr-XXXXXXXX.tmp</c>, with NAME cut
    /// to <see cref="MaxNameBytes"/> − <see cref="TempNameOverheadBytes"/> UTF-8 bytes when longer. Only the caller's target
    /// chooses the path: nothing a server sends (Content-Disposition, redirects) is ever part of it.
    /// </summary>
    /// <param name="targetPath">the final path the caller named (made absolute with <see cref="Path.GetFullPath(string)"/>).</param>
    /// <param name="suffix8hex">exactly 8 hexadecimal characters (lower-cased in the result), e.g. from <see cref="NewSuffix"/>.</param>
    /// <exception cref="ArgumentException">the suffix is not 8 hex characters, or the target has no file name.</exception>
    public static string TempPathFor(string targetPath, string suffix8hex)
    {
        ArgumentException.ThrowIfNullOrEmpty(targetPath);
        ArgumentNullException.ThrowIfNull(suffix8hex);
        if (suffix8hex.Length != 8 || !suffix8hex.All(Uri.IsHexDigit))
        {
            throw new ArgumentException("The temp-file suffix must be 8 hexadecimal characters.", nameof(suffix8hex));
        }

        var full = Path.GetFullPath(targetPath);
        var name = Path.GetFileName(full);
        var directory = Path.GetDirectoryName(full);
        if (string.IsNullOrEmpty(name) || directory is null)
        {
            throw new ArgumentException($"'{targetPath}' does not name a file.", nameof(targetPath));
        }

        return Path.Combine(directory, $".{Shorten(name, MaxNameBytes - TempNameOverheadBytes)}.qmgr-{suffix8hex.ToLowerInvariant()}.tmp");
    }

    /// <summary>The longest file name, in UTF-8 bytes, that Linux, macOS and Windows file systems accept (NAME_MAX = 255).</summary>
    public const int MaxNameBytes = 255;

    /// <summary>Bytes the temp name adds to the target's name: <c>.</c> + <c>.qmgr-XXXXXXXX.tmp</c> (19).</summary>
    public const int TempNameOverheadBytes = 19;

    /// <summary>
    /// <paramref name="name"/> cut to at most <paramref name="maxBytes"/> UTF-8 bytes on a character (rune) boundary, so the
    /// temp name of a target whose own name is up to <see cref="MaxNameBytes"/> long still fits (fault case C36); the
    /// suffix keeps temp names of targets that share a long prefix apart.
    /// </summary>
    private static string Shorten(string name, int maxBytes)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(name) <= maxBytes)
        {
            return name;
        }

        var kept = new System.Text.StringBuilder();
        var bytes = 0;
        foreach (var rune in name.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > maxBytes)
            {
                break;
            }

            bytes += rune.Utf8SequenceLength;
            kept.Append(rune.ToString());
        }

        return kept.ToString();
    }

    /// <summary>A fresh random 8-character lower-case hex suffix for <see cref="TempPathFor"/>.</summary>
    public static string NewSuffix() => RandomNumberGenerator.GetHexString(8, lowercase: true);

    /// <summary>
    /// Cuts the file at <paramref name="path"/> back to <paramref name="offset"/> bytes if it is longer (junk written
    /// after the last checkpoint before a crash) and returns the length it now has: <paramref name="offset"/>, or less
    /// when the file was shorter (it is never extended), or 0 when it does not exist (nothing is created).
    /// </summary>
    /// <param name="path">temp file path.</param>
    /// <param name="offset">the last journaled offset in bytes, ≥ 0.</param>
    /// <exception cref="IOException">the file exists but cannot be opened or truncated.</exception>
    public static long CutBack(string path, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (!File.Exists(path))
        {
            return 0;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        return CutBack(stream, offset);
    }

    /// <summary>Same as <see cref="CutBack(string, long)"/> on an open, writable stream; flushes the new length to disk when it cuts.</summary>
    public static long CutBack(FileStream stream, long offset)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var length = stream.Length;
        if (length <= offset)
        {
            return length;
        }

        stream.SetLength(offset);
        stream.Flush(flushToDisk: true);
        return offset;
    }

    /// <summary>Deletes the file; a missing file or directory is not an error. Returns true when a file was deleted.</summary>
    /// <exception cref="IOException">the file exists but cannot be deleted.</exception>
    public static bool Delete(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            File.Delete(path);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
    }
}
