using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Embedding;

/// <summary>The Data Protection key ring in <c>DATA_DIR/keys</c> is readable by the process user only (README, "Data directory").</summary>
public sealed class KeyRingSpecs : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task An_existing_key_directory_with_a_looser_mode_is_tightened_to_0700_at_start()
    {
        if (OperatingSystem.IsWindows()) return; // Unix modes only

        // arrange: a keys directory made by hand (or an older version) with mode 0755
        var data = _dir.File("data");
        var keys = Path.Combine(data, "keys");
        Directory.CreateDirectory(keys);
        File.SetUnixFileMode(keys, (UnixFileMode)0b111_101_101);

        // act
        await using var qmgr = HostedQmgr.Start(data);

        // assert
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keys));
    }
}
