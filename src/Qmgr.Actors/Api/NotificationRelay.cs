using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;

namespace Qmgr.Api;

/// <summary>
/// Carries <see cref="QmgrNotification"/>s across the cluster. A <see cref="Groups.GroupActor"/> publishes each
/// notification on the DistributedPubSub topic <see cref="Topic"/> (<see cref="Publication"/>); this actor, one per node
/// (<see cref="Name"/>, started and subscribed by <c>AddQmgr</c>), is that node's only subscriber and republishes every notification
/// on the node's event stream, so the local subscribers (<see cref="IQueueManager.Notifications"/>, callbacks, the
/// legacy facade, the service's event feed) hear the jobs of every group whichever node runs it.
/// </summary>
/// <remarks>
/// One topic for every kind and every group: every node's subscribers want all of them (each filters by owner or job
/// itself), so per-kind or per-group topics would only multiply subscriptions. Order: one group is one publisher, and
/// pub-sub keeps each publisher's order to each subscriber, so a node sees one group's notifications in the order they
/// were persisted (not across a hand-over of the group to another node). On a single node the mediator is local and
/// the relay is two in-process hops from the group. A node that has just joined hears other nodes' notifications once
/// its subscription has reached them by gossip (<c>akka.cluster.pub-sub.gossip-interval</c>).
/// </remarks>
public sealed class NotificationRelay : ReceiveActor
{
    /// <summary>The DistributedPubSub topic of every notification.</summary>
    public const string Topic = "qmgr-notifications";

    /// <summary>The relay's actor name under <c>/user</c>.</summary>
    public const string Name = "qmgr-notification-relay";

    private readonly ILoggingAdapter _log = Context.GetLogger();

    public NotificationRelay()
    {
        Receive<QmgrNotification>(n => Context.System.EventStream.Publish(n));
        Receive<SubscribeAck>(ack => _log.Debug("Subscribed to notification topic [{Topic}]", ack.Subscribe.Topic));
    }

    /// <summary>The message a group sends to the node's pub-sub mediator to publish <paramref name="notification"/> cluster-wide.</summary>
    public static Publish Publication(QmgrNotification notification) => new(Topic, notification);

    /// <summary>The message that subscribes <paramref name="relay"/> to <see cref="Topic"/> at the node's mediator.</summary>
    public static Subscribe Subscription(IActorRef relay) => new(Topic, relay);
}
