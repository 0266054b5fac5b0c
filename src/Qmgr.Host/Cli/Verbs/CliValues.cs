using System.Globalization;
using System.Text.RegularExpressions;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// The CLI's value syntax. Sizes and rates: a whole number of bytes, or a number with a K, M, G or T suffix in powers
/// of 1024 (<c>10M</c> = 10485760), optionally followed by <c>B</c> / <c>iB</c> and <c>/s</c>. Durations: whole seconds,
/// or numbers with s, m, h or d suffixes, alone or combined (<c>90</c>, <c>90s</c>, <c>10m</c>, <c>1h30m</c>, <c>2d</c>).
/// Names (priorities, job types, properties) are case-insensitive. Every refusal is a <see cref="CliError"/> (exit 2)
/// naming what was typed.
/// </summary>
public static partial class CliValues
{
    [GeneratedRegex(@"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?(?:/s)?\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"^(?:(\d+)([smhd]))+$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();

    /// <summary>Bytes (or bytes per second) from <paramref name="text"/>; <paramref name="what"/> names the value in the refusal.</summary>
    public static long Size(string text, string what)
    {
        var m = SizePattern().Match(text);
        if (!m.Success) throw CliError.Usage($"{what} must be a number of bytes, optionally with a K, M, G or T suffix (powers of 1024, e.g. 10M): {text}");
        var shift = m.Groups[2].Value.ToUpperInvariant() switch { "K" => 10, "M" => 20, "G" => 30, "T" => 40, _ => 0 };
        decimal bytes;
        try
        {
            bytes = decimal.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * (1L << shift);
        }
        catch (OverflowException)
        {
            bytes = decimal.MaxValue;
        }
        if (bytes > long.MaxValue) throw CliError.Usage($"{what} is too large: {text}");
        if (bytes != decimal.Truncate(bytes)) throw CliError.Usage($"{what} must be a whole number of bytes: {text}");
        return (long)bytes;
    }

    /// <summary>Whole seconds from <paramref name="text"/> (plain seconds or s/m/h/d components).</summary>
    public static long Seconds(string text, string what)
    {
        var t = text.Trim();
        if (long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var plain)) return plain;
        var m = DurationPattern().Match(t);
        if (!m.Success) throw CliError.Usage($"{what} must be whole seconds, or a duration such as 90s, 10m, 2h, 1d or 1h30m: {text}");
        long total = 0;
        try
        {
            for (var i = 0; i < m.Groups[1].Captures.Count; i++)
            {
                var n = long.Parse(m.Groups[1].Captures[i].Value, CultureInfo.InvariantCulture);
                var unit = char.ToLowerInvariant(m.Groups[2].Captures[i].Value[0]) switch { 's' => 1L, 'm' => 60L, 'h' => 3600L, _ => 86400L };
                total = checked(total + checked(n * unit));
            }
        }
        catch (Exception e) when (e is OverflowException or FormatException)
        {
            throw CliError.Usage($"{what} is too large: {text}");
        }
        return total;
    }

    /// <summary>A priority name: foreground, high, normal or low.</summary>
    public static JobPriority Priority(string text) =>
        Enum.TryParse<JobPriority>(text, ignoreCase: true, out var p) && Enum.IsDefined(p) && !text.Trim().All(char.IsDigit)
            ? p : throw CliError.Usage($"priority must be foreground, high, normal or low: {text}");

    /// <summary>A job type: download, upload or upload-reply.</summary>
    public static JobType Type(string text) => text.Trim().ToLowerInvariant() switch
    {
        "download" => JobType.Download,
        "upload" => JobType.Upload,
        "upload-reply" or "uploadreply" => JobType.UploadReply,
        _ => throw CliError.Usage($"type must be download, upload or upload-reply: {text}"),
    };

    /// <summary>An enum member by name (case-insensitive, never a number); <paramref name="what"/> names the choice.</summary>
    public static T Name<T>(string text, string what) where T : struct, Enum =>
        !text.Trim().All(char.IsDigit) && Enum.TryParse<T>(text.Trim(), ignoreCase: true, out var v) && Enum.IsDefined(v)
            ? v : throw CliError.Usage($"{what} must be one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}: {text}");

    /// <summary>A non-negative integer, decimal or <c>0x</c> hexadecimal (flags).</summary>
    public static long Integer(string text, string what)
    {
        var t = text.Trim();
        var ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.TryParse(t[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v)
            : long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        return ok ? v : throw CliError.Usage($"{what} must be a non-negative integer (decimal or 0x hexadecimal): {text}");
    }
}
