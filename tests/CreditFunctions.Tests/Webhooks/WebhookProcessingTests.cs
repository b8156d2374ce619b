using System.Net;
using CreditGrants.Storage.Webhooks;

namespace CreditFunctions.Tests.Webhooks;

/// <summary>
/// Deliveries processed through the webhook queue (issue #21, items 1 and 4): once per webhook-id whatever Polar repeats,
/// updates older than what was applied are not applied, failures are retried then recorded, and the customer directory
/// follows customer.* events.
/// </summary>
public sealed class WebhookProcessingTests : IAsyncLifetime
{
    // Recent enough that a customer.created of then is still trusted by the directory (CustomerDirectory:TrustFor, 1 hour).
    private static readonly DateTimeOffset Created = DateTimeOffset.UtcNow.AddMinutes(-30);
    private WebhookApp _app = null!;

    public async Task InitializeAsync() => _app = await WebhookApp.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private static string NewId() => "msg_" + Guid.NewGuid().ToString("N");

    private static string Customer(string type, Guid id, string externalId, DateTimeOffset? modified = null, DateTimeOffset? deleted = null) =>
        PolarWebhookPayloads.Customer(type, id, externalId, $"{externalId}@credits.dev", Created, modified, deleted);

    private async Task<bool> KnownAsync(string externalId) => (await _app.Directory.KnownAsync([externalId])).ContainsKey(externalId);

    [Fact]
    public async Task A_delivery_polar_sends_ten_times_is_processed_once()
    {
        var (id, body) = (NewId(), Customer("customer.created", Guid.NewGuid(), "ten-times"));

        // Ten attempts whose answers Polar never saw, before the queue ran; then the queue; then more attempts.
        var first = new List<HttpStatusCode>();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            first.Add((await _app.DeliverAsync(body, id)).Status);
        }

        await _app.DrainAsync();
        var later = await _app.DeliverAsync(body, id);
        await _app.DrainAsync();

        Assert.All(first, s => Assert.Equal(HttpStatusCode.Accepted, s));
        Assert.Equal(HttpStatusCode.OK, later.Status);
        Assert.Contains("\"outcome\":\"duplicate\"", later.Body, StringComparison.Ordinal);
        Assert.Single(_app.Handler.Handled);
        var delivery = await _app.DeliveryAsync(id);
        Assert.Equal((WebhookDeliveryState.Processed, 11), (delivery!.State, delivery.Receipts));
    }

    [Fact]
    public async Task Ten_receipts_of_one_delivery_at_the_same_time_are_processed_once()
    {
        var (id, body) = (NewId(), Customer("customer.created", Guid.NewGuid(), "at-once"));

        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => _app.DeliverAsync(body, id)));
        var messages = (await _app.Store.Queue.ReceiveMessagesAsync(32, TimeSpan.FromMinutes(5))).Value;
        var function = new CreditFunctions.Functions.ProcessPolarWebhook(
            Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<WebhookProcessor>(_app.Services));
        await Task.WhenAll(messages.Select(m => function.Run(m, CancellationToken.None)));

        Assert.All(answers, a => Assert.True(a.Status is HttpStatusCode.Accepted or HttpStatusCode.OK, a.Body));
        Assert.Single(_app.Handler.Handled);
        Assert.Equal(WebhookDeliveryState.Processed, (await _app.DeliveryAsync(id))!.State);
    }

    [Fact]
    public async Task An_update_delivered_after_a_newer_one_is_superseded_and_not_dispatched()
    {
        var customer = Guid.NewGuid();
        var (newer, older) = (NewId(), NewId());
        await _app.DeliverAsync(Customer("customer.updated", customer, "out-of-order", Created.AddMinutes(20)), newer);
        await _app.DrainAsync();

        var answer = await _app.DeliverAsync(Customer("customer.updated", customer, "out-of-order", Created.AddMinutes(10)), older);
        await _app.DrainAsync();

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.Equal([newer], _app.Handler.Handled.Select(h => h.WebhookId));
        var superseded = await _app.DeliveryAsync(older);
        Assert.Equal(WebhookDeliveryState.Superseded, superseded!.State);
        Assert.Contains(newer, superseded.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_update_at_the_same_modified_at_as_the_one_applied_is_dispatched()
    {
        var customer = Guid.NewGuid();
        await _app.DeliverAsync(Customer("customer.updated", customer, "same-time", Created.AddMinutes(5)), NewId());
        await _app.DeliverAsync(Customer("customer.updated", customer, "same-time", Created.AddMinutes(5)), NewId());
        await _app.DrainAsync();

        Assert.Equal(2, _app.Handler.Handled.Count);
    }

    [Fact]
    public async Task The_directory_learns_a_created_customer_and_forgets_a_deleted_one_even_when_an_older_update_comes_last()
    {
        var customer = Guid.NewGuid();
        await _app.DeliverAsync(Customer("customer.created", customer, "signup-1"), NewId());
        await _app.DrainAsync();
        Assert.True(await KnownAsync("signup-1"));
        var requests = _app.Emulator.RequestCount;

        await _app.DeliverAsync(Customer("customer.deleted", customer, "signup-1", Created.AddMinutes(1), Created.AddMinutes(2)), NewId());
        await _app.DrainAsync();
        Assert.False(await KnownAsync("signup-1"));
        // Polar's retry of an update made before the deletion arrives last, and must not bring the customer back.
        await _app.DeliverAsync(Customer("customer.updated", customer, "signup-1", Created.AddMinutes(1)), NewId());
        await _app.DrainAsync();

        Assert.False(await KnownAsync("signup-1"));
        Assert.Equal(requests, _app.Emulator.RequestCount);
    }

    [Fact]
    public async Task A_failing_handler_is_retried_and_the_delivery_processed_once_it_succeeds()
    {
        var (id, body) = (NewId(), Customer("customer.created", Guid.NewGuid(), "flaky"));
        _app.Handler.FailuresToCome = 2;

        await _app.DeliverAsync(body, id);
        var deliveries = await _app.DrainAsync();

        Assert.Equal(3, deliveries.Count);
        Assert.Equal([true, true, false], deliveries.Select(d => d.Error is not null));
        Assert.Single(_app.Handler.Handled);
        var delivery = await _app.DeliveryAsync(id);
        Assert.Equal((WebhookDeliveryState.Processed, 3), (delivery!.State, delivery.Attempts));
        Assert.Null(delivery.ClaimedBy);
    }

    [Fact]
    public async Task When_a_later_handler_fails_the_retry_does_not_call_the_handlers_done_before_it_again()
    {
        var (id, body) = (NewId(), Customer("customer.created", Guid.NewGuid(), "second-fails"));
        _app.Second.FailuresToCome = 1;

        await _app.DeliverAsync(body, id);
        await _app.DrainAsync();

        Assert.Single(_app.Handler.Handled);
        Assert.Equal(2, _app.Second.Calls);
        Assert.True(await KnownAsync("second-fails"));
        Assert.Equal(["recording", "second", "customer-directory", "grant-rules"], (await _app.DeliveryAsync(id))!.Handlers);
    }

    [Fact]
    public async Task A_delivery_that_fails_every_attempt_is_recorded_failed_and_polars_redelivery_processes_it_anew()
    {
        var (id, body) = (NewId(), Customer("customer.created", Guid.NewGuid(), "failing"));
        _app.Handler.FailuresToCome = 5;

        await _app.DeliverAsync(body, id);
        var deliveries = await _app.DrainAsync();

        Assert.Equal(5, deliveries.Count);
        var failed = await _app.DeliveryAsync(id);
        Assert.Equal(WebhookDeliveryState.Failed, failed!.State);
        Assert.Contains("the handler failed on purpose", failed.Reason, StringComparison.Ordinal);
        Assert.Single((await _app.Store.PoisonQueue.PeekMessagesAsync(10)).Value);

        // Redelivered from Polar's dashboard (the same webhook-id): it is queued anew and processed.
        var again = await _app.DeliverAsync(body, id);
        await _app.DrainAsync();

        Assert.Equal(HttpStatusCode.Accepted, again.Status);
        Assert.Single(_app.Handler.Handled);
        Assert.Equal(WebhookDeliveryState.Processed, (await _app.DeliveryAsync(id))!.State);
    }

    [Fact]
    public async Task A_message_naming_no_delivery_is_dropped_and_one_that_is_no_message_fails()
    {
        var function = new CreditFunctions.Functions.ProcessPolarWebhook(
            Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<WebhookProcessor>(_app.Services));

        await function.Run(Azure.Storage.Queues.Models.QueuesModelFactory.QueueMessage("m1", "r", BinaryData.FromString(new WebhookMessage("w-gone", "gone").ToJson()), 1),
            CancellationToken.None);
        await Assert.ThrowsAsync<WebhookMessageException>(() =>
            function.Run(Azure.Storage.Queues.Models.QueuesModelFactory.QueueMessage("m2", "r", BinaryData.FromString("{}"), 1), CancellationToken.None));
        Assert.Empty(_app.Handler.Handled);
    }
}
