using System.Text.Json;
using Qmgr.Api;
using Qmgr.Jobs;
using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Service;

/// <summary>Per-group webhooks: signed JSON POSTs of the notifications a job's flags select, at least once, across a
/// service restart (the outbox is in the journal). Real Kestrel service, real SQLite, loopback receiver.</summary>
public sealed class WebhookSpecs : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private const string Timings = "qmgr.webhooks.retry-delays = [200ms]\n";
    private readonly TempDirectory _dir = new();
    private LoopbackFileServer _files = null!;
    private WebhookReceiver _receiver = null!;
    private ServiceNode? _service;

    public async Task InitializeAsync()
    {
        _files = await LoopbackFileServer.StartAsync();
        _receiver = await WebhookReceiver.StartAsync();
        _service = await ServiceNode.StartAsync(_dir.File("data"), Timings);
    }

    public async Task DisposeAsync()
    {
        if (_service is not null) await _service.DisposeAsync();
        await _receiver.DisposeAsync();
        await _files.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();

    private static void AssertSigned(WebhookReceiver.Received r, string secret) =>
        Assert.Equal(WebhookSender.Signature(r.Body, secret), r.Signature);

    private async Task<(IGroup Group, IJob Job, string Secret)> JobWithWebhookAsync(string path, byte[] content, LoopbackFileOptions? options = null)
    {
        using var alice = await _service!.ConnectAsync(ServiceNode.AliceToken);
        var group = await alice.CreateGroupAsync("hooked");
        var secret = await group.SetWebhookAsync(_receiver.Url.AbsoluteUri);
        var job = await group.CreateJobAsync("j");
        await job.AddFilesAsync([(_files.Add(path, content, options).AbsoluteUri, _dir.File(path.Trim('/')))]);
        await job.ResumeAsync();
        return (group, job, secret!);
    }

    [Fact]
    public async Task A_transferred_job_and_a_failed_job_are_posted_once_each_with_a_valid_signature()
    {
        var (_, ok, secret) = await JobWithWebhookAsync("/ok.bin", LoopbackFileServer.Content(10_000, 1));
        var (_, bad, badSecret) = await JobWithWebhookAsync("/gone.bin", [], new LoopbackFileOptions { StatusOverride = 404 });

        var transferred = await _receiver.WaitForAsync(r => r.Event == "job-transferred", Deadline);
        var failed = await _receiver.WaitForAsync(r => r.Event == "job-error", Deadline);

        AssertSigned(transferred, secret);
        AssertSigned(failed, badSecret);
        using var body = JsonDocument.Parse(transferred.Body);
        Assert.Equal("job-transferred", body.RootElement.GetProperty("event").GetString());
        Assert.Equal(ok.Id, body.RootElement.GetProperty("job").GetProperty("id").GetGuid());
        Assert.Equal("Transferred", body.RootElement.GetProperty("job").GetProperty("state").GetString());
        Assert.Equal(transferred.DeliveryId, body.RootElement.GetProperty("deliveryId").GetString());
        using var error = JsonDocument.Parse(failed.Body);
        Assert.Equal(bad.Id, error.RootElement.GetProperty("job").GetProperty("id").GetGuid());
        Assert.Equal(404, error.RootElement.GetProperty("job").GetProperty("error").GetProperty("httpStatus").GetInt32());
        // default notify flags (transferred | error): no modification posts for Queued, Connecting, Transferring
        Assert.Equal(2, _receiver.All.Count);
    }

    [Fact]
    public async Task A_delivery_due_while_the_service_was_stopped_is_sent_after_the_restart()
    {
        _receiver.Failing = true;
        var (group, job, secret) = await JobWithWebhookAsync("/later.bin", LoopbackFileServer.Content(5_000, 2));
        var refused = await _receiver.WaitForAsync(r => r.Event == "job-transferred" && r.Refused, Deadline);

        await _service!.DisposeAsync();
        _service = null;
        _receiver.Failing = false;
        var before = _receiver.All.Count;
        _service = await ServiceNode.StartAsync(_dir.File("data"), Timings);
        using var alice = await _service.ConnectAsync(ServiceNode.AliceToken);
        await alice.EnumGroupsAsync(); // qmgr serve wakes every group at start; here the test does

        var delivered = await _receiver.WaitForAsync(r => !r.Refused && r.DeliveryId == refused.DeliveryId, Deadline);
        AssertSigned(delivered, secret);
        Assert.Equal(refused.Body, delivered.Body);
        Assert.True(_receiver.All.Count > before);
        var deadline = DateTime.UtcNow + Deadline;
        while ((await (await alice.GetGroupAsync(group.Id)).GetStateAsync()).PendingDeliveries.Count > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.Empty((await (await alice.GetGroupAsync(group.Id)).GetStateAsync()).PendingDeliveries);
        Assert.Equal(JobState.Transferred, (await (await alice.GetJobAsync(job.Id)).GetAsync()).State);
    }
}
