namespace Qmgr.Transport;

/// <summary>
/// Where local files may go. Targets are the caller's absolute paths, normalised (no <c>..</c>); server-sent names
/// (Content-Disposition, redirect URLs) never choose a path. With allowed roots configured
/// (<c>qmgr.paths.allowed-roots</c>), a target must lie inside one of them once its existing parent directories'
/// symlinks are resolved, so a link cannot lead a write outside.
/// </summary>
public static class PathPolicy
{
    /// <summary>True when <paramref name="localPath"/> (absolute) may be written; always true without roots.</summary>
    public static bool IsAllowed(string localPath, IReadOnlyList<string> allowedRoots)
    {
        if (allowedRoots.Count == 0) return true;
        var resolved = Resolve(Path.GetFullPath(localPath));
        return allowedRoots.Select(r => Path.TrimEndingDirectorySeparator(Resolve(r))).Any(root =>
            resolved.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal));
    }

    // The path with its deepest existing directory's symlinks resolved (the file itself need not exist).
    private static string Resolve(string path)
    {
        var dir = Path.GetDirectoryName(path);
        var name = Path.GetFileName(path);
        if (dir is null) return path;
        var existing = new DirectoryInfo(dir);
        var rest = new Stack<string>();
        while (existing is { Exists: false } && existing.Parent is not null)
        {
            rest.Push(existing.Name);
            existing = existing.Parent;
        }
        var real = existing.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? existing.FullName;
        real = RealPath(real);
        return Path.Combine([real, .. rest, name]);
    }

    // Resolves symlinks of every ancestor too (ResolveLinkTarget only looks at the last component).
    private static string RealPath(string dir)
    {
        var parts = dir.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var current = Path.GetPathRoot(dir) ?? "/";
        foreach (var part in parts)
        {
            current = Path.Combine(current, part);
            var info = new DirectoryInfo(current);
            if (info.LinkTarget is not null)
                current = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? current;
        }
        return current;
    }
}
