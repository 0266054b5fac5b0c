using System.CommandLine;
using System.Globalization;
using System.Threading.Channels;
using Qmgr.Api;
using Qmgr.Jobs;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// <c>qmgr monitor [--group ID]</c>, after <c>bitsadmin /monitor</c>: the caller's unfinished jobs, redrawn on every
/// notification <see cref="IQueueManager.Notifications"/> pushes (no polling), until Ctrl+C (exit 0). On a terminal a
/// live table with progress bars; when stdout is redirected, plain lines: one per job at the start, then one per state
/// change (always) and per progress (at most every 500 ms per job). In process the monitor runs the node on the data
/// directory, so it also carries on the unfinished jobs it shows, as <c>qmgr serve</c> would.
/// </summary>
public static class MonitorCommand
{
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(500);

    public static Command Create(CliConnection connection)
    {
        var group = new Option<string?>("--group") { Description = "only this group's jobs (id or a prefix of it)" };
        return Verb.Create(connection, "monitor", "Watch the caller's unfinished jobs until Ctrl+C (like bitsadmin /monitor)", group)
            .WithAction(connection, (parse, qm, ct) => RunAsync(qm, parse.GetValue(group), parse.GetValue(connection.Json)));
    }

    private static async Task<int> RunAsync(IQueueManager qm, string? groupText, bool json)
    {
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
        Console.CancelKeyPress += onCancel;
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM,
            c => { c.Cancel = true; stop.Cancel(); });
        try
        {
            Guid? only = groupText is null ? null : (await Resolve.GroupAsync(qm, groupText, stop.Token)).Group.Id;
            // subscribe first, then read: a change persisted between the two is seen either way
            var changes = Channel.CreateUnbounded<QmgrNotification>(new UnboundedChannelOptions { SingleReader = true });
            using var subscription = qm.Notifications.Subscribe(new ChannelObserver(changes.Writer));
            var rows = new Dictionary<Guid, Job>();
            foreach (var (_, state) in await Resolve.GroupsAsync(qm, stop.Token))
                if (only is null || state.Id == only)
                    foreach (var job in state.Jobs.Where(j => !j.State.IsFinal())) rows[job.Id] = job;
            var plain = json || Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive;
            var lines = new PlainLines(json);
            if (plain)
            {
                foreach (var job in rows.Values) lines.Snapshot(job);
                await foreach (var n in changes.Reader.ReadAllAsync(stop.Token))
                {
                    if (only is not null && n.GroupId != only) continue;
                    Apply(rows, n);
                    lines.Show(n);
                }
            }
            else
            {
                await AnsiConsole.Live(Table(rows)).AutoClear(false).StartAsync(async ctx =>
                {
                    ctx.Refresh();
                    await foreach (var n in changes.Reader.ReadAllAsync(stop.Token))
                    {
                        if (only is not null && n.GroupId != only) continue;
                        Apply(rows, n);
                        ctx.UpdateTarget(Table(rows));
                    }
                });
            }
            return ExitCodes.Done; // the stream ended (a service stopped)
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return ExitCodes.Done;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static void Apply(Dictionary<Guid, Job> rows, QmgrNotification n)
    {
        // a group's notifications arrive in the order they were persisted: the latest copy is the job now
        if (n.Job.State.IsFinal()) rows.Remove(n.Job.Id);
        else rows[n.Job.Id] = n.Job;
    }

    private static IRenderable Table(Dictionary<Guid, Job> rows)
    {
        var table = new Table().Border(TableBorder.Simple).Title($"qmgr monitor — {rows.Count} unfinished job{(rows.Count == 1 ? "" : "s")} (Ctrl+C to stop)")
            .AddColumn(new TableColumn("job").NoWrap()).AddColumn(new TableColumn("state").NoWrap()).AddColumn(new TableColumn("progress").NoWrap())
            .AddColumn(new TableColumn("bytes").RightAligned().NoWrap()).AddColumn(new TableColumn("files").RightAligned().NoWrap()).AddColumn("name");
        foreach (var j in rows.Values.OrderBy(j => j.CreationTime))
        {
            var note = j.State == JobState.TransientError && j.RetryDueAt is { } due ? $"\n[yellow]retry at {due.ToLocalTime():HH:mm:ss}[/]" : "";
            if (j.Error is { } e && j.State is JobState.Error or JobState.TransientError) note += $"\n[red]{Markup.Escape(e.Message)}[/]";
            table.AddRow(new Text(j.Id.ToString("D")), new Markup(ListCommand.StateMarkup(j.State)), new Markup(Bar(j.BytesTransferred, j.BytesTotal)),
                new Text($"{Format.Bytes(j.BytesTransferred)} / {Format.Bytes(j.BytesTotal)}"), new Text($"{j.FilesTransferred}/{j.Files.Count}"),
                new Markup(Markup.Escape(j.DisplayName) + note));
        }
        return table;
    }

    private static string Bar(long transferred, long? total, int width = 16)
    {
        if (total is not > 0) return $"[grey]{new string('░', width)}[/]    ?";
        var fraction = Math.Clamp((double)transferred / total.Value, 0, 1);
        var full = (int)Math.Round(fraction * width);
        return $"[green]{new string('█', full)}[/][grey]{new string('░', width - full)}[/] {(fraction * 100).ToString("0", CultureInfo.InvariantCulture),3}%";
    }

    /// <summary>Redirected output: one line per state change, per progress at most every 500 ms per job (or one JSON object a line).</summary>
    private sealed class PlainLines(bool json)
    {
        private readonly Dictionary<Guid, DateTimeOffset> _lastProgress = new();

        public void Snapshot(Job job) => Write(job, "snapshot", null);

        public void Show(QmgrNotification n)
        {
            switch (n)
            {
                case QmgrNotification.StateChanged s:
                    _lastProgress[s.Job.Id] = DateTimeOffset.UtcNow;
                    Write(s.Job, "state", $"{s.From} -> {s.To}");
                    break;
                case QmgrNotification.Progress or QmgrNotification.FileTransferred:
                    var now = DateTimeOffset.UtcNow;
                    if (_lastProgress.TryGetValue(n.Job.Id, out var last) && now - last < ProgressEvery) return;
                    _lastProgress[n.Job.Id] = now;
                    Write(n.Job, "progress", null);
                    break;
            }
        }

        private void Write(Job j, string kind, string? transition)
        {
            if (json)
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
                {
                    time = DateTimeOffset.Now, kind, job = j.Id, state = j.State.ToString(), transition, displayName = j.DisplayName,
                    bytesTransferred = j.BytesTransferred, bytesTotal = j.BytesTotal, filesTransferred = j.FilesTransferred, files = j.Files.Count,
                    retryDueAt = j.State == JobState.TransientError ? j.RetryDueAt : null, error = j.Error?.Message,
                }, new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
                return;
            }
            var retry = j.State == JobState.TransientError && j.RetryDueAt is { } due ? $"  retry at {due.ToLocalTime():HH:mm:ss}" : "";
            var error = j.Error is { } e && j.State is JobState.Error or JobState.TransientError ? $"  {e.Message}" : "";
            Console.WriteLine($"{DateTimeOffset.Now:HH:mm:ss} {j.Id:D} {transition ?? j.State.ToString()}  " +
                              $"{Format.Progress(j.BytesTransferred, j.BytesTotal)}  files {j.FilesTransferred}/{j.Files.Count}  {j.DisplayName}{retry}{error}");
        }
    }

    private sealed class ChannelObserver(ChannelWriter<QmgrNotification> writer) : IObserver<QmgrNotification>
    {
        public void OnNext(QmgrNotification value) => writer.TryWrite(value);
        public void OnCompleted() => writer.TryComplete();
        public void OnError(Exception error) => writer.TryComplete(error);
    }
}
