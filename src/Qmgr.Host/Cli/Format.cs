using System.Globalization;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli;

/// <summary>Human-readable sizes and one-line job descriptions for the CLI.</summary>
public static class Format
{
    /// <summary>Bytes as B, KiB, MiB or GiB with one decimal.</summary>
    public static string Bytes(long? bytes)
    {
        if (bytes is null) return "?";
        double v = bytes.Value;
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : v.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[u];
    }

    /// <summary>Progress as <c>transferred / total (percent)</c>; the total and percent are <c>?</c> / left out while unknown.</summary>
    public static string Progress(long transferred, long? total) =>
        $"{Bytes(transferred)} / {Bytes(total)}" + (total is > 0 ? $" ({(100.0 * transferred / total.Value).ToString("0.0", CultureInfo.InvariantCulture)}%)" : "");

    /// <summary>The one-line reason of a failed job: file, HTTP status or local error, code, context and state.</summary>
    public static string Failure(Job job)
    {
        var e = job.Error;
        if (e is null) return $"job {job.Id:D} ended in state {job.State}";
        // the direction of the transfer: a download goes URL -> FILE, an upload FILE -> URL
        var file = e.FileIndex is int i && i < job.Files.Count
            ? job.Type == JobType.Download ? $"{job.Files[i].RemoteName} -> {job.Files[i].LocalName}: " : $"{job.Files[i].LocalName} -> {job.Files[i].RemoteName}: "
            : "";
        var http = e.HttpStatus is int s ? $"HTTP {s}, " : "";
        return $"{file}{e.Message} ({http}code 0x{e.HResult:X8}, context {e.Context}, job state {job.State})";
    }
}
