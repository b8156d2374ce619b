using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CreditGrants.Webhooks;
using PolarEmulator;

namespace CreditFunctions.Tests.Webhooks;

/// <summary>
/// The app's payload validation against what the emulator sends (itself checked against Polar's schema and Polar's SDK):
/// every webhook of a customer's whole lifecycle is valid for the app, so none would be rejected.
/// </summary>
public sealed class EmulatorPayloadTests
{
    [Fact]
    public async Task Every_webhook_of_a_customers_lifecycle_is_a_valid_payload_for_the_app()
    {
        // Nothing listens on the endpoint: the emulator's log keeps every payload it built, which is all this needs.
        await using var polar = await PolarEmulatorServer.StartAsync(new EmulatorOptions
        {
            SeedMeter = true,
            WebhookRetryBase = TimeSpan.FromHours(1),
            WebhookEndpoints = [new PolarEmulator.Webhooks.WebhookEndpointOptions(new Uri("http://127.0.0.1:9/hooks"), "whsec_x")],
        });
        using var client = new HttpClient { BaseAddress = polar.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", polar.Token);
        async Task<string> PostAsync(string path, string body)
        {
            using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, text);
            return (string)JsonNode.Parse(text)!["id"]!;
        }

        var meter = (string)JsonNode.Parse(await client.GetStringAsync("v1/meters/"))!["items"]![0]!["id"]!;
        var customer = await PostAsync("v1/customers/", """{"email":"ada@credits.dev","external_id":"ada"}""");
        using (var patch = new HttpRequestMessage(HttpMethod.Patch, $"v1/customers/{customer}") { Content = new StringContent("""{"name":"Ada"}""", Encoding.UTF8, "application/json") })
        {
            (await client.SendAsync(patch)).EnsureSuccessStatusCode();
        }

        var subscription = await PostAsync("__emulator/subscriptions", $$"""{"customer_id":"{{customer}}","meter_id":"{{meter}}","units":10}""");
        await PostAsync($"__emulator/subscriptions/{subscription}/cycle", "{}");
        (await client.PostAsync($"__emulator/subscriptions/{subscription}/revoke", new ByteArrayContent([]))).EnsureSuccessStatusCode();
        var order = await PostAsync("__emulator/orders", $$"""{"customer_id":"{{customer}}","meter_id":"{{meter}}","units":5}""");
        await PostAsync($"__emulator/orders/{order}/refund", "{}");
        (await client.DeleteAsync($"v1/customers/{customer}")).EnsureSuccessStatusCode();

        var deliveries = polar.WebhookDeliveries;
        var verdicts = deliveries.Select(d => (d.Type, PolarWebhookSchemas.Default.Validate(Encoding.UTF8.GetBytes(d.Payload)))).ToArray();

        Assert.All(verdicts, v => Assert.True(v.Item2.Verdict == WebhookVerdict.Valid, $"{v.Type}: {v.Item2.Reason}"));
        Assert.Superset(
            new HashSet<string> { "customer.created", "customer.updated", "customer.deleted", "customer.state_changed", "subscription.created",
                "subscription.active", "subscription.cycled", "subscription.revoked", "order.paid", "order.refunded" },
            deliveries.Select(d => d.Type).ToHashSet());
    }
}
