using System.Threading.Channels;
using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Xunit;

namespace Qmgr.Tests.Cluster;

/// <summary>
/// Notifications across a real two-node cluster (two embedded nodes joined over loopback TCP, each with its own SQLite
/// journal): a group publishes on the pub-sub topic, and the <see cref="NotificationRelay"/> of the node that does not
/// run it puts them on that node's event stream, where its <see cref="IQueueManager.Notifications"/> observers hear
/// them in the order the group persisted them.
/// </summary>
public sealed class ClusterNotificationSpecs : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();

    public new void Dispose()
    {
        base.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_group_running_on_one_node_notifies_an_observer_on_the_other_node_in_order()
    {
        // arrange: node A and node B joined to it, both Up; a job made through B, wherever its group runs
        using var deadline = new CancellationTokenSource(Deadline);
        await using var nodeA = HostedQmgr.Start(_dir.File("a"));
        var addressA = Akka.Cluster.Cluster.Get(nodeA.System).SelfAddress.ToString();
        await using var nodeB = HostedQmgr.Start(_dir.File("b"), seedNodes: [addressA]);
        await AwaitAssertAsync(() => Assert.Equal(2, Akka.Cluster.Cluster.Get(nodeB.System).State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up)),
            Deadline, TimeSpan.FromMilliseconds(50));
        var group = await QueueManager.Create(nodeB.System, "alice").CreateGroupAsync("across", cancellationToken: deadline.Token);
        var job = await group.CreateJobAsync("j", cancellationToken: deadline.Token);
        var runner = await group.GetNodeAsync(deadline.Token);
        Assert.NotNull(runner);
        var other = runner == addressA ? nodeB : nodeA;
        var heard = Channel.CreateUnbounded<QmgrNotification.Modified>();
        using var subscription = QueueManager.Create(other.System, "alice").Notifications.Subscribe(new Observer(heard.Writer, job.Id));

        // act: the other node's subscription reaches the group's node by pub-sub gossip (about a second after joining),
        // so change the description until one change is heard there ...
        for (var i = 0; !heard.Reader.TryPeek(out _); i++)
        {
            await job.SetPropertyAsync(JobProperty.Description, $"warm-up {i}", deadline.Token);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
            wait.CancelAfter(TimeSpan.FromMilliseconds(500));
            try { await heard.Reader.WaitToReadAsync(wait.Token); }
            catch (OperationCanceledException) when (!deadline.IsCancellationRequested) { }
        }
        while (heard.Reader.TryRead(out _)) { }
        // ... then make five changes, one after another
        for (var i = 0; i < 5; i++) await job.SetPropertyAsync(JobProperty.Description, $"change {i}", deadline.Token);

        // assert: the other node heard the five, in the order they were persisted
        var descriptions = new List<string>();
        while (descriptions.Count < 5 || descriptions[^1] != "change 4")
            descriptions.Add((await heard.Reader.ReadAsync(deadline.Token)).Job.Description);
        Assert.Equal(["change 0", "change 1", "change 2", "change 3", "change 4"], descriptions.SkipWhile(d => d.StartsWith("warm-up", StringComparison.Ordinal)));
    }

    private sealed class Observer(ChannelWriter<QmgrNotification.Modified> writer, Guid jobId) : IObserver<QmgrNotification>
    {
        public void OnNext(QmgrNotification value)
        {
            if (value is QmgrNotification.Modified m && m.Job.Id == jobId) writer.TryWrite(m);
        }

        public void OnCompleted() { }
        public void OnError(Exception error) { }
    }
}
