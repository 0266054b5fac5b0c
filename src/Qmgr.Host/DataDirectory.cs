namespace Qmgr.Host;

/// <summary>
/// The data directory (Decision 13): <c>--data-dir</c>, else <c>QMGR_DATA_DIR</c>, else <c>$XDG_DATA_HOME/qmgr</c>,
/// else <c>~/.local/share/qmgr</c>. Holds <c>qmgr.db</c>, <c>logs/</c> and <c>qmgr.lock</c>.
/// </summary>
public sealed class DataDirectory
{
    private DataDirectory(string path) => Path = path;

    /// <summary>Absolute path of the directory.</summary>
    public string Path { get; }

    /// <summary>The SQLite store.</summary>
    public string DatabasePath => System.IO.Path.Combine(Path, "qmgr.db");

    /// <summary>The rolling log files' directory.</summary>
    public string LogsPath => System.IO.Path.Combine(Path, "logs");

    private string LockPath => System.IO.Path.Combine(Path, "qmgr.lock");

    // The lock holder's pid lives beside the lock: .NET takes flock on every open, so the locked file cannot be read.
    private string PidPath => System.IO.Path.Combine(Path, "qmgr.pid");

    /// <summary>Resolves the directory from the option and the environment (not created).</summary>
    public static DataDirectory Resolve(string? option)
    {
        var dir = option;
        if (string.IsNullOrWhiteSpace(dir)) dir = Environment.GetEnvironmentVariable("QMGR_DATA_DIR");
        if (string.IsNullOrWhiteSpace(dir))
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            dir = System.IO.Path.Combine(string.IsNullOrWhiteSpace(xdg) ? System.IO.Path.Combine(home, ".local", "share") : xdg, "qmgr");
        }
        return new DataDirectory(System.IO.Path.GetFullPath(dir));
    }

    /// <summary>
    /// Takes the exclusive lock (one process owns a data directory). Returns the lock to dispose at exit, or null with
    /// <paramref name="reason"/> naming the holder's pid when another process has it.
    /// </summary>
    public IDisposable? TryLock(out string reason)
    {
        Directory.CreateDirectory(Path);
        try
        {
            var stream = new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(PidPath, Environment.ProcessId.ToString());
            reason = "";
            return new Held(stream, PidPath);
        }
        catch (IOException)
        {
            var pid = File.Exists(PidPath) ? File.ReadAllText(PidPath).Trim() : "unknown";
            reason = $"data directory {Path} is in use by another qmgr process (pid {pid})";
            return null;
        }
    }

    /// <summary>True when another process holds the lock now (checked by taking and releasing it at once).</summary>
    public bool IsLocked()
    {
        if (!File.Exists(LockPath)) return false;
        try
        {
            using var probe = new FileStream(LockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    // Releasing the lock removes the pid file first, so a later loser never names a dead holder.
    private sealed class Held(FileStream lockStream, string pidPath) : IDisposable
    {
        public void Dispose()
        {
            try { File.Delete(pidPath); } catch (IOException) { }
            lockStream.Dispose();
        }
    }
}
