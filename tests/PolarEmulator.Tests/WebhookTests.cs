using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator.Tests.Support;
using PolarEmulator.Webhooks;

namespace PolarEmulator.Tests;

/// <summary>Webhooks out: Standard Webhooks–signed deliveries in Polar's payload schemas, retried, one at a time, logged.</summary>
public sealed class WebhookTests
{
    private const string Secret = "whsec_dGVzdC1zZWNyZXQtb2YtdGhlLWVtdWxhdG9y";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static Task<PolarEmulatorServer> StartAsync(WebhookReceiver receiver, TimeProvider? time = null, TimeSpan? retryBase = null) =>
        PolarEmulatorServer.StartAsync(new EmulatorOptions
        {
            TimeProvider = time ?? TimeProvider.System,
            WebhookEndpoints = [new WebhookEndpointOptions(receiver.Url, Secret)],
            WebhookRetryBase = retryBase ?? EmulatorOptions.DefaultWebhookRetryBase,
        });

    private static async Task<IReadOnlyList<WebhookDelivery>> SettledAsync(PolarEmulatorServer server, int count)
    {
        using var timeout = new CancellationTokenSource(Patience);
        return await server.WaitForWebhooksAsync(d => d.Count >= count && d.All(x => x.Status != WebhookDelivery.Pending), timeout.Token);
    }

    /// <summary>Standard Webhooks' signature, computed here from the spec: HMAC-SHA256 keyed with the whole secret's UTF-8 bytes.</summary>
    private static string ExpectedSignature(string id, string timestamp, string body) =>
        "v1," + Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}")));

    [Fact]
    public async Task Creating_a_customer_delivers_a_signed_customer_created_webhook_in_polars_schema()
    {
        await using var receiver = new WebhookReceiver();
        await using var server = await StartAsync(receiver);
        using var client = EmulatorFixture.ClientFor(server);

        var customer = await client.CreateCustomerAsync(externalId: "ada");
        var deliveries = await SettledAsync(server, 2);

        var created = deliveries.Single(d => d.Type == "customer.created");
        var received = receiver.Received.Single(r => r.Headers["webhook-id"] == created.Id);
        Assert.Equal(ExpectedSignature(created.Id, received.Headers["webhook-timestamp"], received.Body), received.Headers["webhook-signature"]);
        Assert.Equal("polar.sh webhooks", received.Headers["user-agent"]);
        Assert.Equal(created.Payload, received.Body);
        PolarSchema.AssertValid("WebhookCustomerCreatedPayload", received.Body);
        Assert.Equal(customer.Id(), JsonDocument.Parse(received.Body).RootElement.GetProperty("data").Id());
        Assert.Equal(["customer.created", "customer.state_changed"], deliveries.Select(d => d.Type));
    }

    [Fact]
    public async Task Every_lifecycle_webhook_matches_its_payload_schema()
    {
        await using var receiver = new WebhookReceiver();
        await using var server = await StartAsync(receiver);
        using var client = EmulatorFixture.ClientFor(server);
        var meter = await client.CreateMeterForEventAsync("api_usage", """{"func":"sum","property":"units"}""");
        var customer = await client.CreateCustomerAsync(externalId: "ada");
        (await client.PatchJsonAsync($"v1/customers/{customer.Id()}", """{"name":"Ada"}""")).EnsureSuccessStatusCode();
        using var subscribed = await client.PostJsonAsync("__emulator/subscriptions", $$"""{"customer_id":"{{customer.Id()}}","meter_id":"{{meter.Id()}}","units":10}""");
        var subscription = await subscribed.ExpectAsync(HttpStatusCode.Created);
        (await client.PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle", new ByteArrayContent([]))).EnsureSuccessStatusCode();
        (await client.PostAsync($"__emulator/subscriptions/{subscription.Id()}/cancel", new ByteArrayContent([]))).EnsureSuccessStatusCode();
        (await client.PostAsync($"__emulator/subscriptions/{subscription.Id()}/revoke", new ByteArrayContent([]))).EnsureSuccessStatusCode();
        using var purchased = await client.PostJsonAsync("__emulator/orders", $$"""{"customer_id":"{{customer.Id()}}","meter_id":"{{meter.Id()}}","units":5}""");
        var order = await purchased.ExpectAsync(HttpStatusCode.Created);
        (await client.PostAsync($"__emulator/orders/{order.Id()}/refund", new ByteArrayContent([]))).EnsureSuccessStatusCode();
        (await client.DeleteAsync($"v1/customers/{customer.Id()}")).EnsureSuccessStatusCode();

        var deliveries = await SettledAsync(server, 16);

        var schemas = new Dictionary<string, string>
        {
            ["customer.created"] = "WebhookCustomerCreatedPayload",
            ["customer.updated"] = "WebhookCustomerUpdatedPayload",
            ["customer.deleted"] = "WebhookCustomerDeletedPayload",
            ["customer.state_changed"] = "WebhookCustomerStateChangedPayload",
            ["order.paid"] = "WebhookOrderPaidPayload",
            ["order.refunded"] = "WebhookOrderRefundedPayload",
            ["subscription.created"] = "WebhookSubscriptionCreatedPayload",
            ["subscription.active"] = "WebhookSubscriptionActivePayload",
            ["subscription.cycled"] = "WebhookSubscriptionCycledPayload",
            ["subscription.canceled"] = "WebhookSubscriptionCanceledPayload",
            ["subscription.revoked"] = "WebhookSubscriptionRevokedPayload",
        };
        Assert.Equal(schemas.Keys.Order(), deliveries.Select(d => d.Type).Distinct().Order());
        Assert.All(deliveries, d => Assert.Equal(WebhookDelivery.Succeeded, d.Status));
        Assert.All(deliveries, d => PolarSchema.AssertValid(schemas[d.Type], d.Payload));
    }

    [Fact]
    public async Task A_failed_delivery_is_retried_after_the_base_then_twice_the_base_with_the_same_webhook_id()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var receiver = new WebhookReceiver(500, 503);
        await using var server = await StartAsync(receiver, time, TimeSpan.FromSeconds(2));
        using var client = EmulatorFixture.ClientFor(server);
        using var timeout = new CancellationTokenSource(Patience);

        var customer = await client.CreateCustomerAsync();
        await server.WaitForWebhooksAsync(d => d.Any(x => x.Type == "customer.created" && x.Attempts.Count == 1), timeout.Token);
        time.Advance(TimeSpan.FromSeconds(2));
        await server.WaitForWebhooksAsync(d => d.Any(x => x.Type == "customer.created" && x.Attempts.Count == 2), timeout.Token);
        time.Advance(TimeSpan.FromSeconds(4));
        var deliveries = await server.WaitForWebhooksAsync(d => d.Any(x => x.Type == "customer.created" && x.Status == WebhookDelivery.Succeeded), timeout.Token);

        var delivery = deliveries.First(d => d.Type == "customer.created");
        Assert.Equal(new int?[] { 500, 503, 200 }, delivery.Attempts.Select(a => a.Status));
        Assert.Equal([TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)], delivery.Attempts.Take(2).Select(a => a.NextAttemptAt!.Value - a.At));
        Assert.Equal(3, receiver.Received.Count(r => r.Headers["webhook-id"] == delivery.Id));
        Assert.Contains(customer.Id(), delivery.Payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_ten_failed_attempts_a_delivery_is_failed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var receiver = new WebhookReceiver([.. Enumerable.Repeat(500, 10)]);
        await using var server = await StartAsync(receiver, time, TimeSpan.FromSeconds(1));
        using var client = EmulatorFixture.ClientFor(server);
        using var timeout = new CancellationTokenSource(Patience);

        await client.CreateCustomerAsync();
        for (var attempt = 1; attempt < WebhookDispatcher.MaxAttempts; attempt++)
        {
            var n = attempt;
            await server.WaitForWebhooksAsync(d => d[0].Attempts.Count == n, timeout.Token);
            time.Advance(WebhookDispatcher.Backoff(TimeSpan.FromSeconds(1), attempt));
        }

        var deliveries = await server.WaitForWebhooksAsync(d => d[0].Status != WebhookDelivery.Pending, timeout.Token);

        Assert.Equal(WebhookDelivery.Failed, deliveries[0].Status);
        Assert.Equal(10, deliveries[0].Attempts.Count);
        Assert.Null(deliveries[0].Attempts[^1].NextAttemptAt);
    }

    [Fact]
    public void The_wait_doubles_from_the_base_and_stops_at_twenty_minutes()
    {
        var waits = Enumerable.Range(1, 9).Select(n => WebhookDispatcher.Backoff(TimeSpan.FromSeconds(15), n).TotalSeconds);

        Assert.Equal([15, 30, 60, 120, 240, 480, 960, 1200, 1200], waits);
    }

    [Fact]
    public async Task An_endpoint_gets_one_delivery_at_a_time_in_order()
    {
        await using var receiver = new WebhookReceiver();
        var release = receiver.Hold();
        await using var server = await StartAsync(receiver);
        using var client = EmulatorFixture.ClientFor(server);
        using var timeout = new CancellationTokenSource(Patience);

        for (var i = 0; i < 3; i++)
        {
            await client.CreateCustomerAsync();
        }

        await server.WaitForWebhooksAsync(d => d.Count == 6, timeout.Token);
        release();
        var deliveries = await SettledAsync(server, 6);

        Assert.Equal(1, receiver.MaxInFlight);
        Assert.Equal(deliveries.Select(d => d.Id), receiver.Received.Select(r => r.Headers["webhook-id"]));
    }

    [Fact]
    public async Task An_endpoint_added_over_http_gets_a_generated_secret_and_later_deliveries_are_logged()
    {
        await using var receiver = new WebhookReceiver();
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions());
        using var client = EmulatorFixture.ClientFor(server);
        await client.CreateCustomerAsync();

        using var added = await client.PostJsonAsync("__emulator/webhooks/endpoints", $$"""{"url":"{{receiver.Url}}"}""");
        var endpoint = await added.ExpectAsync(HttpStatusCode.Created);
        await client.CreateCustomerAsync();
        await SettledAsync(server, 2);
        using var logged = await client.GetAsync("__emulator/webhooks/deliveries");
        var log = await logged.ExpectAsync(HttpStatusCode.OK);

        Assert.StartsWith("whsec_", endpoint.GetProperty("secret").GetString(), StringComparison.Ordinal);
        var items = log.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["customer.created", "customer.state_changed"], items.Select(i => i.GetProperty("type").GetString()));
        Assert.All(items, i => Assert.Equal("succeeded", i.GetProperty("status").GetString()));
        Assert.Equal(200, items[0].GetProperty("attempts")[0].GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Options_with_a_relative_endpoint_url_or_no_retry_wait_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => PolarEmulatorServer.StartAsync(
            new EmulatorOptions { WebhookEndpoints = [new WebhookEndpointOptions(new Uri("hooks", UriKind.Relative))] }));
        await Assert.ThrowsAsync<ArgumentException>(() => PolarEmulatorServer.StartAsync(new EmulatorOptions { WebhookRetryBase = TimeSpan.Zero }));
    }

    [Fact]
    public async Task An_endpoint_url_must_be_absolute_http()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions());
        using var client = EmulatorFixture.ClientFor(server);

        using var response = await client.PostJsonAsync("__emulator/webhooks/endpoints", """{"url":"ftp://127.0.0.1/x"}""");
        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);

        Assert.Equal("url", body.GetProperty("detail")[0].GetProperty("loc")[1].GetString());
    }
}
