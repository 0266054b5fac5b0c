namespace Qmgr.Transport;

/// <summary>Temp-file naming beside the target (Decision 14). Placeholder until the transport branch lands.</summary>
public static class TempFiles
{
    /// <summary><c>/dir/NAME</c> → <c>/dir/.NAME.qmgr-XXXXXXXX.tmp</c>.</summary>
    public static string TempPathFor(string targetPath, string suffix8hex) =>
        Path.Combine(Path.GetDirectoryName(targetPath)!, $".{Path.GetFileName(targetPath)}.qmgr-{suffix8hex}.tmp");

    /// <summary>Deletes <paramref name="path"/>; a missing file is fine.</summary>
    public static void Delete(string path)
    {
        if (File.Exists(path)) File.Delete(path);
    }
}
