using Microsoft.Data.Sqlite;
using Qmgr.Groups;
using Qmgr.Jobs;
using Qmgr.Persistence;
using Qmgr.Tests.Support;
using Xunit;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Tests.Chaos;

/// <summary>
/// What the chaos run found, each made deterministic: the state a SIGKILL left is rebuilt on disk and in the journal
/// (instead of hoping a random kill lands in a window of milliseconds), then the real <c>qmgr</c> recovers it.
/// </summary>
public sealed class ChaosFindingsSpecs() : CliSpecs(TimeSpan.FromSeconds(120))
{
    private Journal Journal => new(DataDir);

    /// <summary>
    /// Chaos finding 1 (seeds 9022 and 9035 of the chaos runs; fixed on main by d188459): an AutoComplete job
    /// (<c>qmgr transfer</c>) whose Transferred state was journaled but whose JobCompleted was not when the service was
    /// SIGKILLed stayed Transferred for ever: GroupActor sent itself AutoComplete only after persisting a change to
    /// Transferred, and recovery never re-sent it (README: "the job completes itself once transferred ... even after
    /// recovery in another process"). Two forms: killed before the renames (seed 9022: the bytes in the temp files) and
    /// after them (seed 9035: the files in place, no temp file, JobCompleted missing).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_autocomplete_job_killed_between_transferred_and_its_completion_is_completed_by_the_next_serve(bool renamedBeforeTheKill)
    {
        // arrange: a transfer to its end, then the journal (and the disk) put back as a SIGKILL before JobCompleted leaves them
        var content = LoopbackFileServer.Content(300_000, seed: 9022);
        var url = Server.Add("/autocomplete.bin", content);
        var target = Path.Combine(Dir.Sub("out"), "autocomplete.bin");
        await Ok("transfer", url.AbsoluteUri, target);
        var job = Journal.Groups().Single().Jobs.Single();
        RewindJournalBefore<JobCompleted>();
        if (!renamedBeforeTheKill) File.Move(target, job.Files.Single().TempName);
        Assert.Equal(JobState.Transferred, Journal.Groups().Single().Jobs.Single().State);

        // act
        var serve = await Run("serve", "--urls", "http://127.0.0.1:0", "--exit-when-idle");

        // assert
        var recovered = Journal.Groups().Single().Jobs.Single();
        Assert.True(serve.ExitCode == 0, serve.ToString());
        Assert.Equal(JobState.Acknowledged, recovered.State);
        Assert.Equal(content, File.ReadAllBytes(target));
        Assert.False(File.Exists(job.Files.Single().TempName));
    }

    /// <summary>
    /// Deletes the first event of type <typeparamref name="T"/> and every later one of its group (journal, tags and
    /// snapshots), as if the process had died just before writing it.
    /// </summary>
    private void RewindJournalBefore<T>() where T : IGroupEvent
    {
        var path = Path.Combine(DataDir, "qmgr.db");
        var cut = new SqliteStore(path).ReadEvents().First(e => e.Event is T);
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        foreach (var sql in new[]
                 {
                     "DELETE FROM journal WHERE persistence_id = $pid AND sequence_number >= $seq",
                     "DELETE FROM tags WHERE persistence_id = $pid AND sequence_nr >= $seq",
                     "DELETE FROM snapshot WHERE persistence_id = $pid AND sequence_number >= $seq",
                 })
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$pid", cut.PersistenceId);
            command.Parameters.AddWithValue("$seq", cut.SequenceNr);
            command.ExecuteNonQuery();
        }
    }
}
