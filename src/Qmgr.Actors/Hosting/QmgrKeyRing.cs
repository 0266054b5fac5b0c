using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Qmgr.Persistence;

namespace Qmgr.Hosting;

/// <summary>Where the Data Protection key ring that encrypts job secrets at rest lives, per store.</summary>
public static class QmgrKeyRing
{
    /// <summary>
    /// Adds Data Protection (application name <c>qmgr</c>) and <see cref="Jobs.SecretProtector"/>. SQLite: the key ring
    /// is XML files in <c>DATA_DIR/keys</c> (mode 0700 outside Windows). PostgreSQL: the key ring is the shared table of
    /// <see cref="PostgresXmlRepository"/> (its <see cref="PostgresXmlRepository.Schema"/> must exist), and the first
    /// <see cref="Jobs.SecretProtector"/> resolved loads it under an advisory lock (<see cref="PostgresXmlRepository.EnsureKey"/>)
    /// so that nodes starting together share one key.
    /// </summary>
    public static IServiceCollection AddQmgrKeyRing(this IServiceCollection services, QmgrOptions options)
    {
        var dataProtection = services.AddDataProtection().SetApplicationName("qmgr");
        // Data Protection's hosted service reads (on a new data directory: creates and writes) the key ring at host start;
        // without it the ring is read on the first Protect or Unprotect, so a node that handles no secret (a one-shot
        // `qmgr transfer`) loads no XML and makes no key. Matched by name: the service is internal to the package.
        var warmUp = services.LastOrDefault(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService)
                                                 && d.ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService");
        if (warmUp is not null) services.Remove(warmUp);
        if (options.Store == QmgrStore.Postgres)
        {
            var connectionString = options.EffectiveConnectionString;
            dataProtection.AddKeyManagementOptions(o => o.XmlRepository = new PostgresXmlRepository(connectionString));
            services.AddSingleton(sp =>
            {
                var provider = sp.GetRequiredService<IDataProtectionProvider>();
                PostgresXmlRepository.EnsureKey(connectionString, provider);
                return new Jobs.SecretProtector(provider);
            });
            return services;
        }
        // the key ring itself is plain XML (no certificate or DPAPI on Linux): it lives in a directory only the
        // process user can read, beside the journal it protects
        var keys = Path.Combine(options.DataDirectory, "keys");
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(keys);
        else
        {
            Directory.CreateDirectory(keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            // CreateDirectory leaves an existing directory's mode alone: tighten one made by an older version or by hand
            File.SetUnixFileMode(keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        dataProtection.PersistKeysToFileSystem(new DirectoryInfo(keys));
        services.AddSingleton<Jobs.SecretProtector>();
        return services;
    }
}
