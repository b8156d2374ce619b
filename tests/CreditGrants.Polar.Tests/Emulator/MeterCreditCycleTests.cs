using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;
using PolarEmulator;

namespace CreditGrants.Polar.Tests.Emulator;

/// <summary>
/// What a Meter Credit subscription does to the app's grants, scripted against the emulator: a grant made by a negative
/// event stops counting at the next cycle's <c>meter.reset</c>, while Polar's own <c>meter.credited</c> units count.
/// </summary>
public sealed class MeterCreditCycleTests
{
    [Fact]
    public async Task A_grant_stops_counting_at_a_meter_credit_cycle_and_the_benefits_credits_count()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions { SeedMeter = true });
        var customer = await polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev", ExternalId: "ada"));
        var meter = (await polar.Gateway.FindMeterAsync("API Calls"))!;
        await polar.Gateway.IngestAsync([new PolarEvent("api_usage", null, "ada", "cg_welcome", null,
            TestEvents.Metadata(("units", PolarMetadata.Number(-25)), ("grant_id", PolarMetadata.Text("welcome"))))]);
        using var http = new HttpClient { BaseAddress = polar.Server.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", polar.Server.Token);
        using var subscribed = await http.PostAsync("__emulator/subscriptions",
            new StringContent($$"""{"customer_id":"{{customer.Id}}","meter_id":"{{meter.Id}}","units":100}""", Encoding.UTF8, "application/json"));
        var subscriptionId = JsonDocument.Parse(await subscribed.EnsureSuccessStatusCode().Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
        var before = (await polar.Gateway.GetCustomerMeterAsync(customer.Id, meter.Id))!;

        using var cycled = await http.PostAsync($"__emulator/subscriptions/{subscriptionId}/cycle", new ByteArrayContent([]));
        cycled.EnsureSuccessStatusCode();

        var after = (await polar.Gateway.GetCustomerMeterAsync(customer.Id, meter.Id))!;
        using var resets = JsonDocument.Parse(await http.GetStringAsync($"v1/events/?source=system&customer_id={customer.Id}&name=meter.reset"));
        using var credits = JsonDocument.Parse(await http.GetStringAsync($"v1/events/?source=system&customer_id={customer.Id}&name=meter.credited"));
        var grant = await polar.Gateway.FindEventsByMetadataAsync("grant_id", ["welcome"]);
        Assert.Equal((-25m, 100L, 125m), (before.ConsumedUnits, before.CreditedUnits, before.Balance));
        Assert.Equal((0m, 100L, 100m), (after.ConsumedUnits, after.CreditedUnits, after.Balance));
        Assert.Equal(1, resets.RootElement.GetProperty("pagination").GetProperty("total_count").GetInt32());
        Assert.Equal(2, credits.RootElement.GetProperty("pagination").GetProperty("total_count").GetInt32());
        Assert.Single(grant.Events["welcome"]);
    }
}
