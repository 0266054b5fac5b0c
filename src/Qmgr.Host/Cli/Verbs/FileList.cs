using System.Text;
using Qmgr.Groups;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// Files named on the command line or in a list file, checked before anything is queued. A list file (bitsadmin
/// <c>/addfileset</c>, aria2c <c>-i</c>) has one file per line: <c>URL FILE [SHA256]</c>, separated by blanks; a FILE with
/// blanks is written in double quotes; blank lines and lines starting with <c>#</c> are skipped. A relative FILE is
/// taken from the current directory.
/// </summary>
public static class FileList
{
    /// <summary>BITS MaxFilesPerJob (<c>qmgr.limits.max-files-per-job</c> default): the CLI checks it before creating anything.</summary>
    public const int MaxFilesPerJob = 200;

    /// <summary>BITS's longest URL (<c>qmgr.limits.max-url-length</c> default).</summary>
    public const int MaxUrlLength = 2200;

    /// <summary>One line of a list file.</summary>
    public sealed record Entry(int Line, string Url, string File, string? Sha256);

    /// <summary>The entries of list file <paramref name="path"/>; a malformed line is a <see cref="CliError"/> naming its number.</summary>
    public static IReadOnlyList<Entry> Read(string path)
    {
        string[] lines;
        try
        {
            lines = System.IO.File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CliError.Usage($"cannot read the list file {path}: {e.Message}");
        }
        var entries = new List<Entry>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var fields = Split(line);
            if (fields is null || fields.Count is < 2 or > 3 || (fields.Count == 3 && !IsSha256(fields[2])))
                throw CliError.Usage($"{path}:{i + 1}: expected URL FILE [SHA256]: {line}");
            entries.Add(new Entry(i + 1, fields[0], fields[1], fields.Count == 3 ? fields[2] : null));
        }
        return entries;
    }

    /// <summary>True for 64 hex digits.</summary>
    public static bool IsSha256(string s) => s.Length == 64 && s.All(Uri.IsHexDigit);

    // blank-separated fields, double quotes around a field with blanks; null when a quote is not closed
    private static List<string>? Split(string line)
    {
        var fields = new List<string>();
        var i = 0;
        while (i < line.Length)
        {
            if (char.IsWhiteSpace(line[i])) { i++; continue; }
            var field = new StringBuilder();
            if (line[i] == '"')
            {
                var end = line.IndexOf('"', i + 1);
                if (end < 0) return null;
                field.Append(line, i + 1, end - i - 1);
                i = end + 1;
                if (i < line.Length && !char.IsWhiteSpace(line[i])) return null;
            }
            else
            {
                while (i < line.Length && !char.IsWhiteSpace(line[i])) field.Append(line[i++]);
            }
            fields.Add(field.ToString());
        }
        return fields;
    }

    /// <summary>
    /// A checked file: an absolute http(s) URL of at most <see cref="MaxUrlLength"/> characters; FILE made absolute, naming
    /// a file in an existing directory. <paramref name="download"/>: FILE is written, so an existing one is refused unless
    /// <paramref name="overwrite"/> (<paramref name="overwriteHint"/> says how to allow it); otherwise (uploads) FILE must exist.
    /// <paramref name="where"/> prefixes the refusal (e.g. the list file's line).
    /// </summary>
    public static GroupCommands.FileSpec Check(string url, string file, string? sha256, bool download, bool overwrite, string overwriteHint, string where = "")
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw CliError.Usage($"{where}not an absolute http or https URL: {url}");
        if (uri.AbsoluteUri.Length > MaxUrlLength)
            throw CliError.Usage($"{where}URL longer than {MaxUrlLength} characters ({uri.AbsoluteUri.Length}): {url[..Math.Min(60, url.Length)]}...");
        var local = Path.GetFullPath(file);
        if (Path.EndsInDirectorySeparator(file) || Directory.Exists(local)) throw CliError.Usage($"{where}FILE must name a file, not a directory: {file}");
        var dir = Path.GetDirectoryName(local);
        if (dir is null || !Directory.Exists(dir)) throw CliError.Usage($"{where}directory does not exist: {dir}");
        if (download && System.IO.File.Exists(local) && !overwrite) throw CliError.Usage($"{where}{local} exists ({overwriteHint})");
        if (!download && !System.IO.File.Exists(local)) throw CliError.Usage($"{where}no such file to upload: {local}");
        if (sha256 is not null && !IsSha256(sha256)) throw CliError.Usage($"{where}SHA-256 must be 64 hex digits: {sha256}");
        return new GroupCommands.FileSpec(uri.AbsoluteUri, local, sha256);
    }

    /// <summary>Refuses a local file named twice in <paramref name="files"/>.</summary>
    public static void CheckDistinct(IEnumerable<GroupCommands.FileSpec> files)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in files)
            if (!seen.Add(f.LocalName)) throw CliError.Usage($"{f.LocalName} is named twice");
    }
}
