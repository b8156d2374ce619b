using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>
/// Subscriptions and orders of a product with a Meter Credit benefit (<c>/__emulator/</c>), and the <c>meter.reset</c> and
/// <c>meter.credited</c> events and balances they give, as docs/polar/API.md "When granted credits stop counting" describes.
/// </summary>
public sealed class LifecycleTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 4, 15, 12, 0, 0, TimeSpan.Zero));
    private PolarEmulatorServer _server = null!;
    private HttpClient _client = null!;
    private string _meterId = null!;
    private string _customerId = null!;

    public async Task InitializeAsync()
    {
        _server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { TimeProvider = _time });
        _client = EmulatorFixture.ClientFor(_server);
        _meterId = (await _client.CreateMeterForEventAsync("api_usage", """{"func":"sum","property":"units"}""")).Id();
        _customerId = (await _client.CreateCustomerAsync(externalId: "ada")).Id();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<JsonElement> SubscribeAsync(int units, bool rollover = false, bool meteredPrice = false)
    {
        using var response = await _client.PostJsonAsync("__emulator/subscriptions",
            $$"""{"customer_id":"{{_customerId}}","meter_id":"{{_meterId}}","units":{{units}},"rollover":{{(rollover ? "true" : "false")}},"metered_price":{{(meteredPrice ? "true" : "false")}} }""");
        var body = await response.ExpectAsync(HttpStatusCode.Created);
        PolarSchema.AssertValid("Subscription", body);
        return body;
    }

    private async Task<JsonElement> PostAsync(string path, HttpStatusCode status = HttpStatusCode.OK)
    {
        using var response = await _client.PostAsync(path, new ByteArrayContent([]));
        return await response.ExpectAsync(status);
    }

    /// <summary>Sends usage (positive units) or a grant (negative units), one second later on the clock than the last step.</summary>
    private async Task UseAsync(int units)
    {
        _time.Advance(TimeSpan.FromSeconds(1));
        await _client.IngestAsync($$"""[{"name":"api_usage","external_customer_id":"ada","metadata":{"units":{{units}} } }]""");
        _time.Advance(TimeSpan.FromSeconds(1));
    }

    private async Task<(double Consumed, long Credited, double Balance)> BalanceAsync()
    {
        var meter = await _client.CustomerMeterAsync(_customerId, _meterId);
        PolarSchema.AssertValid("CustomerMeter", meter);
        return (meter.GetProperty("consumed_units").GetDouble(), meter.GetProperty("credited_units").GetInt64(), meter.GetProperty("balance").GetDouble());
    }

    /// <summary>The customer's meter events (system), oldest first, as <c>name units rollover</c>.</summary>
    private async Task<List<string>> MeterEventsAsync()
    {
        var page = await _client.ListEventsAsync($"source=system&customer_id={_customerId}&name=meter.reset&name=meter.credited&sorting=timestamp&limit=100");
        return [.. page.GetProperty("items").EnumerateArray().Select(e =>
        {
            var metadata = e.GetProperty("metadata");
            Assert.Equal(_meterId, metadata.GetProperty("meter_id").GetString());
            return metadata.TryGetProperty("units", out var units)
                ? $"{e.GetProperty("name").GetString()} {units.GetInt64()}{(metadata.GetProperty("rollover").GetBoolean() ? " rollover" : "")}"
                : e.GetProperty("name").GetString()!;
        })];
    }

    [Fact]
    public async Task Subscribing_credits_the_benefits_units_with_a_meter_credited_event()
    {
        await SubscribeAsync(100);

        Assert.Equal(["meter.credited 100"], await MeterEventsAsync());
        Assert.Equal((0, 100, 100), await BalanceAsync());
    }

    [Fact]
    public async Task A_cycle_resets_the_meter_so_negative_event_grants_before_it_stop_counting()
    {
        var subscription = await SubscribeAsync(100);
        await UseAsync(-50);
        await UseAsync(30);
        Assert.Equal((-20, 100, 120), await BalanceAsync());

        var cycled = await PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle");

        PolarSchema.AssertValid("Subscription", cycled);
        Assert.Equal(["meter.credited 100", "meter.reset", "meter.credited 100"], await MeterEventsAsync());
        Assert.Equal((0, 100, 100), await BalanceAsync());
    }

    [Fact]
    public async Task Usage_after_a_cycle_spends_the_new_credits()
    {
        var subscription = await SubscribeAsync(100);
        await PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle");

        await UseAsync(40);
        await UseAsync(-5);

        Assert.Equal((35, 100, 65), await BalanceAsync());
    }

    [Fact]
    public async Task A_rollover_benefit_carries_at_most_its_own_credits_over_a_reset()
    {
        var subscription = await SubscribeAsync(100, rollover: true);
        await UseAsync(30);
        await UseAsync(-50);

        await PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle");

        // Balance 120 before the cycle, rollover credits 100: min(120, 100) carries over; the negative-event grant does not.
        Assert.Equal(["meter.credited 100 rollover", "meter.reset", "meter.credited 100 rollover", "meter.credited 100 rollover"], await MeterEventsAsync());
        Assert.Equal((0, 200, 200), await BalanceAsync());
    }

    [Fact]
    public async Task A_rollover_carries_only_what_is_left_of_the_balance()
    {
        var subscription = await SubscribeAsync(100, rollover: true);
        await UseAsync(30);

        await PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle");

        Assert.Equal((0, 170, 170), await BalanceAsync());
    }

    [Fact]
    public async Task An_event_ingested_after_the_latest_reset_counts_even_when_dated_before_it()
    {
        // Polar's window starts at the reset's ingested_at, not its timestamp (customer_meter service: ingested_at >= the
        // reset's): a past-dated event sent after a reset, such as an expiry or a carry-over, lands in the new window.
        var subscription = await SubscribeAsync(100);
        var before = _time.GetUtcNow().AddMinutes(-5).ToString("O");
        await PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle");

        await _client.IngestAsync($$"""[{"name":"api_usage","external_customer_id":"ada","timestamp":"{{before}}","metadata":{"units":10} }]""");

        Assert.Equal((10, 100, 90), await BalanceAsync());
    }

    [Fact]
    public async Task A_subscription_with_a_metered_price_resets_the_meter_when_it_starts()
    {
        await UseAsync(-50);

        await SubscribeAsync(100, meteredPrice: true);

        Assert.Equal(["meter.reset", "meter.credited 100"], await MeterEventsAsync());
        Assert.Equal((0, 100, 100), await BalanceAsync());
    }

    [Fact]
    public async Task Revoking_a_subscription_takes_its_credits_back_and_credited_units_never_go_below_zero()
    {
        var subscription = await SubscribeAsync(100);
        await UseAsync(-50);

        var revoked = await PostAsync($"__emulator/subscriptions/{subscription.Id()}/revoke");

        Assert.Equal("canceled", revoked.GetProperty("status").GetString());
        Assert.Equal(["meter.credited 100", "meter.credited -100"], await MeterEventsAsync());
        Assert.Equal((-50, 0, 50), await BalanceAsync());
    }

    [Fact]
    public async Task Canceling_at_period_end_keeps_the_credits_until_the_next_cycle_ends_it()
    {
        var subscription = await SubscribeAsync(100);

        var canceled = await PostAsync($"__emulator/subscriptions/{subscription.Id()}/cancel");
        Assert.True(canceled.GetProperty("cancel_at_period_end").GetBoolean());
        Assert.Equal((0, 100, 100), await BalanceAsync());

        var ended = await PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle");

        Assert.Equal("canceled", ended.GetProperty("status").GetString());
        Assert.Equal(["meter.credited 100", "meter.credited -100"], await MeterEventsAsync());
        await PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Deleting_the_customer_revokes_its_subscription()
    {
        var subscription = await SubscribeAsync(100);

        (await _client.DeleteAsync($"v1/customers/{_customerId}")).EnsureSuccessStatusCode();

        Assert.Equal(["meter.credited 100", "meter.credited -100"], await MeterEventsAsync());
        await PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_one_time_order_credits_once_and_a_refund_revoking_benefits_takes_them_back()
    {
        using var response = await _client.PostJsonAsync("__emulator/orders", $$"""{"external_customer_id":"ada","meter_id":"{{_meterId}}","units":500}""");
        var order = await response.ExpectAsync(HttpStatusCode.Created);
        PolarSchema.AssertValid("Order", order);
        Assert.Equal((0, 500, 500), await BalanceAsync());

        var refunded = await PostAsync($"__emulator/orders/{order.Id()}/refund?revoke_benefits=true");

        PolarSchema.AssertValid("Order", refunded);
        Assert.Equal("refunded", refunded.GetProperty("status").GetString());
        Assert.Equal((0, 0, 0), await BalanceAsync());
    }

    [Fact]
    public async Task Customer_state_lists_the_active_subscription_its_benefit_and_the_credited_meter()
    {
        await SubscribeAsync(100);

        using var response = await _client.GetAsync($"v1/customers/{_customerId}/state");
        var state = await response.ExpectAsync(HttpStatusCode.OK);

        PolarSchema.AssertValid("CustomerState", state);
        Assert.Single(state.GetProperty("active_subscriptions").EnumerateArray());
        Assert.Equal("meter_credit", Assert.Single(state.GetProperty("granted_benefits").EnumerateArray()).GetProperty("benefit_type").GetString());
        Assert.Equal(100, Assert.Single(state.GetProperty("active_meters").EnumerateArray()).GetProperty("credited_units").GetInt64());
    }

    [Fact]
    public async Task A_subscription_for_an_unknown_customer_is_refused_at_its_field()
    {
        using var response = await _client.PostJsonAsync("__emulator/subscriptions",
            $$"""{"external_customer_id":"nobody","meter_id":"{{_meterId}}","units":10}""");
        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);

        Assert.Equal("external_customer_id", body.GetProperty("detail")[0].GetProperty("loc")[1].GetString());
    }
}
