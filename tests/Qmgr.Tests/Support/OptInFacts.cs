using Xunit;

namespace Qmgr.Tests.Support;

/// <summary>A long-running fact that runs only when the environment variable <c>QMGR_LONG_TESTS=1</c>; skipped otherwise.</summary>
public sealed class LongFactAttribute : FactAttribute
{
    public LongFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("QMGR_LONG_TESTS") != "1")
        {
            Skip = "long test: set QMGR_LONG_TESTS=1 to run it";
        }
    }
}

/// <summary>A fact that mounts a file system (tmpfs) and so needs root on Linux; skipped, with the reason, elsewhere.</summary>
public sealed class RootMountFactAttribute : FactAttribute
{
    public RootMountFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "needs Linux tmpfs";
        }
        else if (Environment.UserName != "root")
        {
            Skip = "needs root to mount a size-limited tmpfs";
        }
        else if (!File.Exists("/proc/filesystems") || !File.ReadAllText("/proc/filesystems").Contains("tmpfs"))
        {
            Skip = "the kernel lists no tmpfs";
        }
    }
}
