using Akka.Actor;
using Akka.Event;
using Qmgr.Transport;

namespace Qmgr.Groups;

/// <summary>
/// Child of a <see cref="GroupActor"/> that works through its webhook outbox, in order, one delivery at a time: POSTs the
/// journaled body with the group's secret (<see cref="WebhookSender"/>, piped back, never blocking the mailbox), and on a
/// 2xx tells the parent (<see cref="Delivered"/>), which journals it; on failure it waits the next of
/// <c>qmgr.webhooks.retry-delays</c> (the last repeats) and tries again. Not persisted: the parent re-sends its pending
/// deliveries after a restart.
/// </summary>
public sealed class WebhookDeliverer : ReceiveActor, IWithTimers
{
    private readonly WebhookSender _sender;
    private readonly Func<string, string> _unprotect;
    private readonly QmgrSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Queue<Deliver> _queue = new();
    private readonly HashSet<Guid> _known = [];
    private int _attempts;
    private bool _sending;

    public WebhookDeliverer(WebhookSender sender, Func<string, string> unprotect, QmgrSettings settings)
    {
        _sender = sender;
        _unprotect = unprotect;
        _settings = settings;
        Receive<Deliver>(d =>
        {
            if (!_known.Add(d.Delivery.DeliveryId)) return;
            _queue.Enqueue(d);
            SendNext();
        });
        Receive<Sent>(OnSent);
        Receive<Retry>(_ => SendNext());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props; <paramref name="unprotect"/> turns the secret's ciphertext into the secret.</summary>
    public static Props Props(WebhookSender sender, Func<string, string> unprotect, QmgrSettings settings) =>
        Akka.Actor.Props.Create(() => new WebhookDeliverer(sender, unprotect, settings));

    private void SendNext()
    {
        if (_sending || !_queue.TryPeek(out var head) || Timers.IsTimerActive("retry")) return;
        _sending = true;
        _attempts++;
        string secret;
        try
        {
            secret = _unprotect(head.ProtectedSecret);
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            Self.Tell(new Sent(head.Delivery.DeliveryId, $"the webhook secret cannot be decrypted with this node's key ring: {ex.Message}"));
            return;
        }
        var d = head.Delivery;
        _sender.SendAsync(d.DeliveryId, d.Kind, d.Url, d.Body, secret, _settings.WebhookTimeout, CancellationToken.None)
            .PipeTo(Self, success: error => new Sent(d.DeliveryId, error), failure: ex => new Sent(d.DeliveryId, ex.Message));
    }

    private void OnSent(Sent sent)
    {
        _sending = false;
        var head = _queue.Peek();
        if (sent.Error is null)
        {
            Context.Parent.Tell(new Delivered(sent.DeliveryId, _attempts));
            _queue.Dequeue();
            _attempts = 0;
            SendNext();
            return;
        }
        var delays = _settings.WebhookRetryDelays;
        var delay = delays[Math.Min(_attempts - 1, delays.Count - 1)];
        _log.Warning("Webhook delivery [{DeliveryId}] ({Kind}) to {Url} failed (attempt {Attempt}): {Reason}; retry in {Delay}",
            sent.DeliveryId, head.Delivery.Kind, RedactedUrl(head.Delivery.Url), _attempts, sent.Error, delay);
        Timers.StartSingleTimer("retry", Retry.Instance, delay);
    }

    // receivers often put a token in the query: logs name only scheme, host and path
    private static string RedactedUrl(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Path) : "(invalid URL)";

    /// <summary>Deliver <paramref name="Delivery"/> with the secret whose ciphertext is <paramref name="ProtectedSecret"/> (once per id).</summary>
    public sealed record Deliver(WebhookDelivery Delivery, string ProtectedSecret);

    /// <summary>To the parent: a 2xx answered <paramref name="DeliveryId"/> after <paramref name="Attempts"/> attempts.</summary>
    public sealed record Delivered(Guid DeliveryId, int Attempts);

    private sealed record Sent(Guid DeliveryId, string? Error);

    private sealed class Retry
    {
        public static readonly Retry Instance = new();
    }
}
