using Akka.Actor;
using Akka.Coordination;
using Akka.Event;
using Npgsql;

namespace Qmgr.Cluster;

/// <summary>
/// An Akka.Coordination <see cref="Lease"/> kept in PostgreSQL: one row of <c>qmgr_leases</c> per lease name, holding
/// its owner, its expiry (database clock) and a fencing token that grows by one each time the owner changes. Shards
/// hold one each (<c>akka.cluster.sharding.use-lease = "qmgr.cluster.lease"</c>), so a shard has one writer in the
/// cluster; <see cref="ShardFence"/> asks <see cref="CheckLease"/> before a write.
/// </summary>
/// <remarks>
/// Contract (Akka.Coordination <see cref="Lease"/>): <see cref="Acquire()"/> completes with true when this owner now
/// holds the lease, false when another owner holds it, and fails with <see cref="LeaseTimeoutException"/> or
/// <see cref="LeaseException"/> when the database could not answer within <c>lease-operation-timeout</c>. While held,
/// the row is renewed every <c>heartbeat-interval</c> for <c>heartbeat-timeout</c> more — every lease of one owner on
/// one database in one statement (<see cref="Renewal"/>: a node holding 200 shard leases makes one round trip and one
/// commit a second, not 200). A renewal that finds another
/// owner (or no row) calls the lease-lost callback once. A renewal that cannot reach the database calls nothing: nobody
/// else can take the lease without the database either, but <see cref="CheckLease"/> turns false once the row may have
/// expired, and true again when a later renewal finds the row still ours. Validity is measured on a monotonic clock
/// from the start of the last successful acquire or renewal request, so a process paused (SIGSTOP) for longer than
/// <c>heartbeat-timeout</c> sees the lease as not held the instant it resumes, before any renewal runs.
/// </remarks>
public sealed class PostgresLease : Lease, IDisposable
{
    /// <summary>
    /// DDL of the lease table, idempotent (<c>CREATE TABLE IF NOT EXISTS</c>). Run once per database under an advisory
    /// lock at node start (concurrent first runs must not race); the lease never creates it itself.
    /// </summary>
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS qmgr_leases (
            name text PRIMARY KEY,
            owner text NOT NULL,
            expires_at timestamptz NOT NULL,
            fencing_token bigint NOT NULL
        )
        """;

    // one statement, database clock: take the row when it is free, expired or already ours; a new owner bumps the token
    private const string AcquireSql = """
        INSERT INTO qmgr_leases AS l (name, owner, expires_at, fencing_token)
        VALUES (@name, @owner, now() + @ttl, 1)
        ON CONFLICT (name) DO UPDATE
        SET owner = EXCLUDED.owner,
            expires_at = EXCLUDED.expires_at,
            fencing_token = CASE WHEN l.owner = EXCLUDED.owner THEN l.fencing_token ELSE l.fencing_token + 1 END
        WHERE l.owner = EXCLUDED.owner OR l.expires_at <= now()
        RETURNING fencing_token
        """;

    // every held lease of one owner at once; a name missing from the answer was taken by another owner
    private const string RenewSql = "UPDATE qmgr_leases SET expires_at = now() + @ttl WHERE owner = @owner AND name = ANY(@names) RETURNING name, fencing_token";

    // expired rather than deleted: the fencing token must keep growing across owners
    private const string ReleaseSql = "UPDATE qmgr_leases SET expires_at = now() WHERE name = @name AND owner = @owner RETURNING fencing_token";

    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log;
    private readonly TimeSpan _ttl;
    private readonly Lock _gate = new();
    private bool _held;
    private long _validFrom;
    private long _fencingToken;
    private Action<Exception>? _leaseLost;
    private readonly Renewal _renewal;
    private bool _renewing;
    private bool _disposed;

    /// <summary>
    /// The constructor Akka.Coordination's <c>LeaseProvider</c> calls by reflection (<c>lease-class</c>): settings from
    /// the lease's HOCON block, whose <c>connection-string</c> key names the database; when it is empty,
    /// <c>akka.persistence.journal.sql.connection-string</c> of <paramref name="system"/> does. Renewals stop when the
    /// actor system terminates (the row then expires after <c>heartbeat-timeout</c>, unless released first).
    /// </summary>
    public PostgresLease(LeaseSettings settings, ExtendedActorSystem system)
        : this(settings, ConnectionStringFor(settings, system), TimeProvider.System, Logging.GetLogger(system, typeof(PostgresLease)))
    {
        system.RegisterOnTermination(Dispose);
    }

    /// <summary>
    /// A lease on the database of <paramref name="connectionString"/>, timing validity and heartbeats with
    /// <paramref name="timeProvider"/> (its monotonic timestamp, never its wall clock). For tests and embedding.
    /// </summary>
    public PostgresLease(LeaseSettings settings, string connectionString, TimeProvider timeProvider, ILoggingAdapter? log = null)
        : base(settings)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _connectionString = connectionString;
        _time = timeProvider;
        _log = log ?? NoLogger.Instance;
        _ttl = settings.TimeoutSettings.HeartbeatTimeout;
        _renewal = Renewal.For(connectionString, settings.OwnerName, settings.TimeoutSettings.HeartbeatInterval, _ttl, timeProvider, _log);
    }

    /// <summary>The fencing token of the last successful acquire or renewal (0 before the first): it grows by one each
    /// time the lease changes owner, so a write stamped with an older token came from a former owner.</summary>
    public long FencingToken
    {
        get { lock (_gate) return _fencingToken; }
    }

    /// <inheritdoc />
    public override Task<bool> Acquire() => Acquire(null);

    /// <inheritdoc cref="Lease.Acquire(Action{Exception})" />
    public override async Task<bool> Acquire(Action<Exception>? leaseLostCallback)
    {
        var started = _time.GetTimestamp();
        var token = await RunAsync(AcquireSql, "acquire").ConfigureAwait(false);
        if (token is null) return false;
        lock (_gate)
        {
            _held = true;
            _validFrom = started;
            _fencingToken = token.Value;
            if (leaseLostCallback is not null) _leaseLost = leaseLostCallback;
            if (!_renewing && !_disposed)
            {
                _renewing = true;
                _renewal.Add(this);
            }
        }
        _log.Debug("Lease [{LeaseName}] acquired by [{Owner}] with fencing token {FencingToken}", Settings.LeaseName, Settings.OwnerName, token.Value);
        return true;
    }

    /// <summary>Releases the lease when this owner holds it (its row expires at once, so another owner may take it);
    /// false when the row was not ours. Renewals stop either way; the lease-lost callback is not called.</summary>
    public override async Task<bool> Release()
    {
        StopHeartbeat(clearHeld: true);
        var released = await RunAsync(ReleaseSql, "release").ConfigureAwait(false) is not null;
        _log.Debug("Lease [{LeaseName}] released by [{Owner}]: {Released}", Settings.LeaseName, Settings.OwnerName, released);
        return released;
    }

    /// <summary>True only while this owner certainly holds the lease: acquired, not lost or released, and less than
    /// <c>heartbeat-timeout</c> since the start of the last successful acquire or renewal request (monotonic clock).</summary>
    public override bool CheckLease()
    {
        lock (_gate) return _held && _time.GetElapsedTime(_validFrom) < _ttl;
    }

    /// <summary>Stops renewing without releasing (as a crash would: the row expires after <c>heartbeat-timeout</c>).</summary>
    public void Dispose()
    {
        lock (_gate) _disposed = true;
        StopHeartbeat(clearHeld: true);
    }

    private static string ConnectionStringFor(LeaseSettings settings, ActorSystem system)
    {
        var own = settings.LeaseConfig.GetString("connection-string", "");
        var connectionString = string.IsNullOrEmpty(own) ? system.Settings.Config.GetString("akka.persistence.journal.sql.connection-string", "") : own;
        if (string.IsNullOrEmpty(connectionString))
            throw new ArgumentException($"lease [{settings.LeaseName}]: no connection-string in its block, nor akka.persistence.journal.sql.connection-string");
        return connectionString;
    }

    /// <summary>The outcome of one batched renewal for this lease: <paramref name="token"/> when the row is still ours
    /// (valid again from <paramref name="started"/>), null when another owner holds it (the lease-lost callback runs once).</summary>
    private void Renewed(long started, long? token)
    {
        Action<Exception>? lost;
        lock (_gate)
        {
            if (!_held) return;
            if (token is { } t)
            {
                _validFrom = started;
                _fencingToken = t;
                return;
            }
            _held = false;
            lost = _leaseLost;
            _leaseLost = null;
        }
        StopHeartbeat(clearHeld: false);
        _log.Warning("Lease [{LeaseName}] lost by [{Owner}]: another owner holds it", Settings.LeaseName, Settings.OwnerName);
        lost?.Invoke(new LeaseException($"Lease {Settings.LeaseName} was taken by another owner"));
    }

    private void StopHeartbeat(bool clearHeld)
    {
        bool renewing;
        lock (_gate)
        {
            if (clearHeld)
            {
                _held = false;
                _leaseLost = null;
            }
            renewing = _renewing;
            _renewing = false;
        }
        if (renewing) _renewal.Remove(this);
    }

    /// <summary>
    /// The heartbeat of every lease one owner holds on one database with one timing: each <c>heartbeat-interval</c>, one
    /// <c>UPDATE … WHERE owner = @owner AND name = ANY(@names)</c> renews them all; its answer says which are still ours.
    /// The loop runs while at least one lease is held. A database that cannot be reached renews nothing and calls
    /// nothing (one warning per round): <see cref="CheckLease"/> turns false by the clock.
    /// </summary>
    private sealed class Renewal
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string, TimeSpan, TimeSpan, TimeProvider), Renewal> All = new();

        private readonly string _connectionString;
        private readonly string _owner;
        private readonly TimeSpan _interval;
        private readonly TimeSpan _ttl;
        private readonly TimeProvider _time;
        private readonly ILoggingAdapter _log;
        private readonly Lock _gate = new();
        private readonly HashSet<PostgresLease> _leases = [];
        private bool _running;

        private Renewal(string connectionString, string owner, TimeSpan interval, TimeSpan ttl, TimeProvider time, ILoggingAdapter log)
        {
            _connectionString = connectionString;
            _owner = owner;
            _interval = interval;
            _ttl = ttl;
            _time = time;
            _log = log;
        }

        public static Renewal For(string connectionString, string owner, TimeSpan interval, TimeSpan ttl, TimeProvider time, ILoggingAdapter log) =>
            All.GetOrAdd((connectionString, owner, interval, ttl, time), _ => new Renewal(connectionString, owner, interval, ttl, time, log));

        public void Add(PostgresLease lease)
        {
            lock (_gate)
            {
                _leases.Add(lease);
                if (_running) return;
                _running = true;
            }
            _ = RunAsync();
        }

        public void Remove(PostgresLease lease)
        {
            lock (_gate) _leases.Remove(lease);
        }

        private async Task RunAsync()
        {
            using var timer = new PeriodicTimer(_interval, _time);
            while (await timer.WaitForNextTickAsync().ConfigureAwait(false))
            {
                PostgresLease[] leases;
                lock (_gate)
                {
                    if (_leases.Count == 0)
                    {
                        _running = false;
                        return;
                    }
                    leases = [.. _leases];
                }
                var started = _time.GetTimestamp();
                Dictionary<string, long> ours;
                try
                {
                    ours = await RenewAsync(leases.Select(l => l.Settings.LeaseName).ToArray(), leases[0].Settings.TimeoutSettings.OperationTimeout).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // the database is unreachable (or the renewal failed otherwise): nobody can take these leases meanwhile;
                    // CheckLease turns false by the clock, and the next tick tries again
                    _log.Warning("{Count} lease(s) of [{Owner}] not renewed, retrying: {Reason}", leases.Length, _owner, ex.Message);
                    continue;
                }
                foreach (var lease in leases)
                    lease.Renewed(started, ours.TryGetValue(lease.Settings.LeaseName, out var token) ? token : null);
            }
        }

        private Task<Dictionary<string, long>> RenewAsync(string[] names, TimeSpan operationTimeout) =>
            ExecuteAsync(_connectionString, RenewSql, operationTimeout, $"Leases of {_owner}: renewal", async (command, ct) =>
            {
                command.Parameters.AddWithValue("owner", _owner);
                command.Parameters.AddWithValue("names", names);
                command.Parameters.AddWithValue("ttl", _ttl);
                var ours = new Dictionary<string, long>(names.Length);
                await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
                while (await reader.ReadAsync(ct).ConfigureAwait(false)) ours[reader.GetString(0)] = reader.GetInt64(1);
                return ours;
            });
    }

    /// <summary>Runs one lease statement under <c>lease-operation-timeout</c>; the fencing token it returned, or null
    /// when it matched no row. Database faults become <see cref="LeaseTimeoutException"/> / <see cref="LeaseException"/>.</summary>
    private Task<long?> RunAsync(string sql, string operation) =>
        ExecuteAsync(_connectionString, sql, Settings.TimeoutSettings.OperationTimeout, $"Lease {Settings.LeaseName}: {operation}", async (command, ct) =>
        {
            command.Parameters.AddWithValue("name", Settings.LeaseName);
            command.Parameters.AddWithValue("owner", Settings.OwnerName);
            command.Parameters.AddWithValue("ttl", _ttl);
            return await command.ExecuteScalarAsync(ct).ConfigureAwait(false) as long?;
        });

    /// <summary>Opens a connection and runs <paramref name="sql"/> through <paramref name="run"/>, all within
    /// <paramref name="timeout"/>. Database faults become <see cref="LeaseTimeoutException"/> (timeout) or
    /// <see cref="LeaseException"/>, their message starting with <paramref name="what"/>.</summary>
    private static async Task<T> ExecuteAsync<T>(string connectionString, string sql, TimeSpan timeout, string what,
        Func<NpgsqlCommand, CancellationToken, Task<T>> run)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(deadline.Token).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(sql, connection);
            return await run(command, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested)
        {
            throw new LeaseTimeoutException($"{what} timed out after {timeout}", ex);
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new LeaseException($"{what} failed: {ex.Message}", ex);
        }
    }
}
