using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.DependencyInjection;

namespace CreditFunctions.Tests.Webhooks;

/// <summary>
/// Carry-over through the webhook pipeline (issue #21 item 3): the emulator's own deliveries of a subscription's start and
/// renewals, signed and posted to the endpoint (each ten times, and replayed under new ids), the webhook queue, the
/// carry-over handler, the credits in the balance after each reset.
/// </summary>
public sealed class CarryOverWebhookTests : IAsyncLifetime
{
    private WebhookApp _app = null!;

    public async Task InitializeAsync()
    {
        _app = await WebhookApp.StartAsync();
        _app.Emulator.AddWebhookEndpoint(new Uri("http://127.0.0.1:9/hooks"), WebhookApp.Secret);
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private static string NewId() => "msg_" + Guid.NewGuid().ToString("N");

    private static async Task<JsonNode> PostAsync(HttpClient client, string path, string body)
    {
        using var answer = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        return JsonNode.Parse(await answer.EnsureSuccessStatusCode().Content.ReadAsStringAsync())!;
    }

    /// <summary>Delivers every webhook the emulator sent since <paramref name="from"/>, each ten times, plus a replay; then drains the queue.</summary>
    private async Task DeliverSinceAsync(int from)
    {
        foreach (var delivery in _app.Emulator.WebhookDeliveries.Skip(from))
        {
            for (var i = 0; i < 10; i++)
            {
                await _app.DeliverAsync(delivery.Payload, delivery.Id);
            }

            await _app.DeliverAsync(delivery.Payload, NewId());
        }

        Assert.All(await _app.DrainAsync(), d => Assert.Null(d.Error));
    }

    [Fact]
    public async Task Carry_over_credits_survive_a_subscriptions_start_and_renewal_once_each_however_often_the_webhooks_come()
    {
        var grants = _app.Services.GetRequiredService<GrantService>();
        await grants.GrantAsync(new CreditGrant(new GrantId("wco-promo"), CustomerRef.External("wco", "wco@credits.dev"), 100, "API Calls", "promo",
            "test", CarryOver: true));
        await grants.GrantAsync(new CreditGrant(new GrantId("wco-plain"), CustomerRef.External("wco"), 40, "API Calls", null, "test"));
        var polar = _app.Services.GetRequiredService<IPolarGateway>();
        await polar.IngestAsync([new PolarEvent("api_usage", null, "wco", null, null,
            new Dictionary<string, System.Text.Json.JsonElement> { ["units"] = PolarMetadata.Number(30) })]);
        var customer = (await polar.FindCustomerByExternalIdAsync("wco"))!.Id;
        var meter = (await polar.FindMeterAsync("API Calls"))!.Id;
        using var client = new HttpClient { BaseAddress = _app.Emulator.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _app.Emulator.Token);

        var sent = _app.Emulator.WebhookDeliveries.Count;
        var subscription = (string)(await PostAsync(client, "__emulator/subscriptions",
            $$"""{"customer_id":"{{customer}}","meter_id":"{{meter}}","units":10,"metered_price":true}"""))["id"]!;
        await DeliverSinceAsync(sent);

        // The start reset the meter: the plain grant's 40 are gone, the promo's 70 unspent are granted again; Polar credits 10.
        Assert.Equal(80m, await _app.App.BalanceAsync("wco"));

        sent = _app.Emulator.WebhookDeliveries.Count;
        await PostAsync(client, $"__emulator/subscriptions/{subscription}/cycle", "{}");
        await DeliverSinceAsync(sent);

        // The renewal: the re-grant (spent nothing since) carries its 70 again; Polar's 10 are wiped and credited anew.
        var dbg = await _app.Services.GetRequiredService<LedgerReader>().ReadAsync("wco", "API Calls");
        Assert.True(80m == await _app.App.BalanceAsync("wco"), string.Join("\n", dbg.Grants.Select(g => $"{g.GrantId} {g.Units} {g.Spent} {g.Status} {g.GrantedAt:O} {g.Carries}")) + " resets " + string.Join(",", dbg.Resets.Select(r => r.ToString("O"))));
        var ledger = await _app.Services.GetRequiredService<LedgerReader>().ReadAsync("wco", "API Calls");
        Assert.Equal([("wco-promo", 70m), (ledger.Grants.First(g => g.Carries == "wco-promo").GrantId, 70m)],
            ledger.Grants.Where(g => g.Carries is not null).Select(g => (g.Carries!, g.Units)));
    }
}
