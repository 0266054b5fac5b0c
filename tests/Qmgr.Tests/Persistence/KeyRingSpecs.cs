using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection;
using Qmgr.Hosting;
using Qmgr.Jobs;
using Qmgr.Persistence;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Persistence;

/// <summary>
/// The Data Protection key ring in PostgreSQL (<see cref="PostgresXmlRepository"/>): separate nodes (separate service
/// providers) on one database decrypt each other's job secrets.
/// </summary>
public sealed class KeyRingSpecs(PostgresDatabase database) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    public async Task InitializeAsync()
    {
        await database.ScalarAsync(PostgresXmlRepository.Schema);
        await database.ScalarAsync(PostgresXmlRepository.Schema); // idempotent
        await database.ScalarAsync($"TRUNCATE {PostgresXmlRepository.Table}");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A node's services as <c>AddQmgr</c> registers them for the PostgreSQL store.</summary>
    private ServiceProvider Node() => new ServiceCollection()
        .AddQmgrKeyRing(new QmgrOptions { DataDirectory = "unused", Store = QmgrStore.Postgres, ConnectionString = database.ConnectionString })
        .BuildServiceProvider();

    /// <summary>Data Protection on the shared repository alone, without <see cref="PostgresXmlRepository.EnsureKey"/>.</summary>
    private ServiceProvider BareNode()
    {
        var services = new ServiceCollection();
        services.AddDataProtection().SetApplicationName("qmgr")
            .AddKeyManagementOptions(o => o.XmlRepository = new PostgresXmlRepository(database.ConnectionString));
        return services.BuildServiceProvider();
    }

    private async Task<long> KeyCountAsync() => (long)(await database.ScalarAsync($"SELECT count(*) FROM {PostgresXmlRepository.Table} WHERE friendly_name LIKE 'key-%'"))!;

    /// <summary>The key id a Data Protection payload names (bytes 4..20, after the magic header).</summary>
    private static Guid KeyIdOf(byte[] payload) => new(payload.AsSpan(4, 16));

    [Fact]
    public async Task Credentials_protected_by_one_node_are_unprotected_by_another()
    {
        // arrange
        await using var first = Node();
        await using var second = Node();
        var credentials = new PlainCredentials("alice", "s3cret");

        // act
        var ciphertext = first.GetRequiredService<SecretProtector>().Protect(credentials);
        var clear = second.GetRequiredService<SecretProtector>().UnprotectCredentials(ciphertext);

        // assert
        Assert.Equal(credentials, clear);
        Assert.Equal(1, await KeyCountAsync());
    }

    [Fact]
    public async Task Nodes_starting_together_end_up_with_one_key()
    {
        // arrange
        var nodes = Enumerable.Range(0, 4).Select(_ => Node()).ToList();
        try
        {
            // act: every node loads its key ring at once
            var protectors = await Task.WhenAll(nodes.Select(n => Task.Run(() => n.GetRequiredService<SecretProtector>()))).WaitAsync(Deadline);
            var headers = protectors.Select((p, i) => p.ProtectHeaders($"X-Node: {i}")).ToList();

            // assert: one key, and every node reads every other node's ciphertext
            Assert.Equal(1, await KeyCountAsync());
            foreach (var reader in protectors)
                Assert.Equal(headers.Select((_, i) => $"X-Node: {i}"), headers.Select(reader.UnprotectHeaders));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Two_first_keys_both_stay_in_the_ring_and_each_node_decrypts_the_other()
    {
        // arrange: without the advisory lock each node may create a first key; the second one is made explicitly here
        await using var first = BareNode();
        await using var second = BareNode();
        var fromFirst = first.GetDataProtector("spec").Protect("one"u8.ToArray()); // creates and stores key A
        second.GetRequiredService<IKeyManager>().CreateNewKey(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(90)); // key B

        // act: the second node protects with its newer key B; the first node's cached ring holds only A
        var fromSecond = second.GetDataProtector("spec").Protect("two"u8.ToArray());
        var secondReadsFirst = second.GetDataProtector("spec").Unprotect(fromFirst);
        var firstReadsSecond = first.GetDataProtector("spec").Unprotect(fromSecond); // Data Protection reloads the ring on an unknown key (first 2 minutes)

        // assert
        Assert.NotEqual(KeyIdOf(fromFirst), KeyIdOf(fromSecond));
        Assert.Equal(2, await KeyCountAsync());
        Assert.Equal("one"u8.ToArray(), secondReadsFirst);
        Assert.Equal("two"u8.ToArray(), firstReadsSecond);
    }
}
