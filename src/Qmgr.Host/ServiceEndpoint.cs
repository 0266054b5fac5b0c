using System.Security.Cryptography;
using System.Text.Json;

namespace Qmgr.Host;

/// <summary>
/// What a running <c>qmgr serve</c> leaves in its data directory so the CLI finds it: <c>service.json</c> (its base URL and
/// pid, removed when it stops) and <c>api-token</c> (the local administrator's bearer token, mode 0600, created on the
/// first start and kept).
/// </summary>
public sealed record ServiceEndpoint(string Url, int Pid)
{
    private static string FilePath(DataDirectory dataDir) => Path.Combine(dataDir.Path, "service.json");

    /// <summary>The administrator token file of <paramref name="dataDir"/>.</summary>
    public static string TokenPath(DataDirectory dataDir) => Path.Combine(dataDir.Path, "api-token");

    /// <summary>
    /// The service holding <paramref name="dataDir"/>, or null when none does. A file left by a killed service is
    /// ignored: it counts only while the data-directory lock is held by someone.
    /// </summary>
    public static ServiceEndpoint? Read(DataDirectory dataDir)
    {
        var path = FilePath(dataDir);
        if (!File.Exists(path)) return null;
        if (!dataDir.IsLocked()) return null;
        try
        {
            return JsonSerializer.Deserialize<ServiceEndpoint>(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes the endpoint file (readable by the user only); <see cref="Remove"/> deletes it.</summary>
    public void Write(DataDirectory dataDir) => WritePrivate(FilePath(dataDir), JsonSerializer.Serialize(this));

    /// <summary>Deletes the endpoint file.</summary>
    public static void Remove(DataDirectory dataDir) => File.Delete(FilePath(dataDir));

    /// <summary>The administrator token from <c>api-token</c>, or null when there is none.</summary>
    public static string? ReadToken(DataDirectory dataDir)
    {
        var path = TokenPath(dataDir);
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The administrator token, created on first use: 32 random bytes, base64url, in a file of mode 0600.</summary>
    public static string EnsureToken(DataDirectory dataDir)
    {
        if (ReadToken(dataDir) is { Length: > 0 } existing) return existing;
        Directory.CreateDirectory(dataDir.Path);
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        WritePrivate(TokenPath(dataDir), token + "\n");
        return token;
    }

    private static void WritePrivate(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream)) writer.Write(text);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
