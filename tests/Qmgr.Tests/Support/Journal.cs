using Qmgr.Groups;
using Qmgr.Persistence;

namespace Qmgr.Tests.Support;

/// <summary>Reads a data directory's journal (via <see cref="SqliteStore"/>) and waits on it with a deadline, never sleeping blind.</summary>
public sealed class Journal(string dataDirectory)
{
    private readonly SqliteStore _reader = new(Path.Combine(dataDirectory, "qmgr.db"));

    /// <summary>Every journaled group event, in order.</summary>
    public IReadOnlyList<IGroupEvent> Events() => _reader.ReadEvents().Select(e => e.Event).ToList();

    /// <summary>Every event of type <typeparamref name="T"/>.</summary>
    public IReadOnlyList<T> Events<T>() where T : IGroupEvent => Events().OfType<T>().ToList();

    /// <summary>Every group folded from the journal.</summary>
    public IReadOnlyList<GroupState> Groups() => _reader.ReadGroups();

    /// <summary>Polls the journal every 50 ms until <paramref name="condition"/> holds; throws <see cref="TimeoutException"/> after <paramref name="deadline"/>.</summary>
    public async Task<T> WaitForAsync<T>(Func<IReadOnlyList<IGroupEvent>, T?> condition, TimeSpan deadline) where T : class
    {
        using var timeout = new CancellationTokenSource(deadline);
        while (true)
        {
            try
            {
                if (condition(Events()) is { } found) return found;
            }
            catch (System.Data.Common.DbException)
            {
                // the writer may hold the database for a moment; read again
            }
            try
            {
                await Task.Delay(50, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the journal did not reach the expected state within {deadline}");
            }
        }
    }
}
