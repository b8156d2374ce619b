using System.Text.Json;
using System.Text.Json.Nodes;
using CreditGrants.Grants;
using CreditGrants.Rules;
using CreditGrants.Webhooks;

namespace CreditGrants.Tests.Rules;

/// <summary>What a rule grants for one event, before any I/O: units per seat or per minor unit of the net amount, ids, expiry.</summary>
public class RuleGrantPlanTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 10, 0, 0, TimeSpan.Zero);
    private static readonly Guid Product = Guid.NewGuid();
    private static readonly Guid Customer = Guid.NewGuid();

    private static GrantRule OrderRule(IReadOnlyDictionary<string, decimal>? rates = null, decimal? units = null, TimeSpan? expiresIn = null) =>
        new("orders", null, true, GrantRule.OrderPaid, new Dictionary<string, string>(), rates is null ? units ?? 10m : null, "API Calls", null, null, null,
            new HashSet<Guid> { Product }, rates, expiresIn);

    private static GrantRule SubscriptionRule(string trigger = GrantRule.SubscriptionCycled) =>
        new("monthly", null, true, trigger, new Dictionary<string, string>(), 500m, "API Calls", null, null, null, new HashSet<Guid> { Product });

    private static RuleEvent Event(string type, JsonObject data, string webhookId = "msg_1", DateTimeOffset? at = null)
    {
        data["customer_id"] ??= Customer.ToString();
        data["product_id"] ??= Product.ToString();
        data["customer"] ??= new JsonObject { ["id"] = Customer.ToString(), ["external_id"] = "user-1", ["metadata"] = new JsonObject() };
        var payload = new JsonObject { ["type"] = type, ["timestamp"] = (at ?? Now.AddMinutes(-1)).ToString("O"), ["data"] = data };
        return RuleEvent.Of(new PolarWebhookEvent(type, webhookId, Now, JsonDocument.Parse(payload.ToJsonString()).RootElement));
    }

    private static RuleEvent Order(long net, string currency, long tax = 0, long refunded = 0, int? seats = null) => Event(GrantRule.OrderPaid, new JsonObject
    {
        ["id"] = "6f1c8a0e-1111-4a2b-9c3d-000000000001",
        ["subtotal_amount"] = net,
        ["net_amount"] = net,
        ["tax_amount"] = tax,
        ["total_amount"] = net + tax,
        ["refunded_amount"] = refunded,
        ["currency"] = currency,
        ["seats"] = seats,
    });

    private static RuleEvent Subscription(string type, DateTimeOffset periodStart, string webhookId = "msg_1") => Event(type, new JsonObject
    {
        ["id"] = "6f1c8a0e-2222-4a2b-9c3d-000000000002",
        ["current_period_start"] = periodStart.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture),
    }, webhookId);

    private static readonly Dictionary<string, decimal> Rates = new() { ["usd"] = 0.01m, ["eur"] = 0.02m };

    [Fact]
    public void An_order_in_a_listed_currency_grants_its_rate_per_minor_unit_of_the_net_amount_tax_excluded()
    {
        var plan = RuleGrantPlan.Of(OrderRule(Rates), Order(net: 1999, "usd", tax: 400), Now);

        Assert.Equal((19.99m, (RuleGrantOutcome?)null), (plan.Units, plan.Refused));
        Assert.Equal(39.98m, RuleGrantPlan.Of(OrderRule(Rates), Order(net: 1999, "EUR", tax: 400), Now).Units);
    }

    [Fact]
    public void An_order_in_a_currency_the_rule_does_not_list_is_refused_as_unlisted_never_converted()
    {
        var plan = RuleGrantPlan.Of(OrderRule(Rates), Order(net: 5000, "gbp"), Now);

        Assert.Equal((0m, RuleGrantOutcome.UnlistedCurrency), (plan.Units, plan.Refused));
        Assert.Contains("gbp", plan.Detail, StringComparison.Ordinal);
        Assert.Contains("eur, usd", plan.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_zero_amount_order_grants_no_units()
    {
        Assert.Equal(RuleGrantOutcome.NoUnits, RuleGrantPlan.Of(OrderRule(Rates), Order(net: 0, "usd", tax: 0), Now).Refused);
    }

    [Fact]
    public void Fractional_units_are_rounded_down_to_six_decimals()
    {
        var rates = new Dictionary<string, decimal> { ["usd"] = 0.000003m };

        Assert.Equal(0.005997m, RuleGrantPlan.Of(OrderRule(rates), Order(net: 1999, "usd"), Now).Units);
        Assert.Equal(RuleGrantOutcome.NoUnits, RuleGrantPlan.Of(OrderRule(new Dictionary<string, decimal> { ["usd"] = 0.000001m }), Order(net: 0, "usd"), Now).Refused);
    }

    [Fact]
    public void A_grant_over_the_max_units_per_grant_is_refused_naming_the_units_and_the_limit_instead_of_failing_at_polar()
    {
        var perAmount = RuleGrantPlan.Of(OrderRule(Rates), Order(net: 250_000_00, "usd"), Now, maxUnitsPerGrant: 100_000m);
        var perSeat = RuleGrantPlan.Of(OrderRule(units: 10m), Order(net: 100, "usd", seats: 3), Now, maxUnitsPerGrant: 25m);
        var atTheLimit = RuleGrantPlan.Of(OrderRule(units: 10m), Order(net: 100, "usd", seats: 3), Now, maxUnitsPerGrant: 30m);

        Assert.Equal((250_000m, RuleGrantOutcome.OverMaxUnits), (perAmount.Units, perAmount.Refused));
        Assert.Contains("250000.00 units, over Grants:MaxUnitsPerGrant 100000", perAmount.Detail, StringComparison.Ordinal);
        Assert.Equal(RuleGrantOutcome.OverMaxUnits, perSeat.Refused);
        Assert.Null(atTheLimit.Refused);
    }

    [Fact]
    public void Per_seat_units_multiply_by_the_orders_seats()
    {
        Assert.Equal(30m, RuleGrantPlan.Of(OrderRule(units: 10m), Order(net: 100, "usd", seats: 3), Now).Units);
        Assert.Equal(10m, RuleGrantPlan.Of(OrderRule(units: 10m), Order(net: 100, "usd"), Now).Units);
    }

    [Fact]
    public void A_subscriptions_grant_id_is_one_per_period_whatever_the_delivery()
    {
        var rule = SubscriptionRule();
        var period = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

        var first = RuleGrantPlan.Of(rule, Subscription(GrantRule.SubscriptionCycled, period, "msg_a"), Now).GrantId;
        var retried = RuleGrantPlan.Of(rule, Subscription(GrantRule.SubscriptionCycled, period, "msg_b"), Now).GrantId;
        var next = RuleGrantPlan.Of(rule, Subscription(GrantRule.SubscriptionCycled, period.AddMonths(1), "msg_a"), Now).GrantId;

        Assert.Equal(first, retried);
        Assert.NotEqual(first, next);
        Assert.Equal(DerivedGrantId.Of(GrantIdDomain.RuleGrant, "monthly", "6f1c8a0e-2222-4a2b-9c3d-000000000002", "2026-11-01T00:00:00Z"), first);
    }

    [Fact]
    public void A_rule_acts_only_on_its_trigger_and_products()
    {
        var period = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

        Assert.Null(RuleGrantPlan.Mismatch(SubscriptionRule(GrantRule.SubscriptionActive), Subscription(GrantRule.SubscriptionActive, period)));
        Assert.Contains("not subscription.active", RuleGrantPlan.Mismatch(SubscriptionRule(), Subscription(GrantRule.SubscriptionActive, period)), StringComparison.Ordinal);
        var other = SubscriptionRule() with { ProductIds = new HashSet<Guid> { Guid.NewGuid() } };
        Assert.Contains("productIds", RuleGrantPlan.Mismatch(other, Subscription(GrantRule.SubscriptionCycled, period)), StringComparison.Ordinal);
    }

    [Fact]
    public void Expires_in_counts_from_the_events_time_and_an_event_older_than_it_is_refused_as_expired()
    {
        var rule = OrderRule(units: 10m, expiresIn: TimeSpan.FromDays(30));

        Assert.Equal(Now.AddMinutes(-1).AddDays(30), RuleGrantPlan.Of(rule, Order(100, "usd"), Now).ExpiresAt);
        var old = Event(GrantRule.OrderPaid, new JsonObject { ["id"] = Guid.NewGuid().ToString(), ["net_amount"] = 100, ["currency"] = "usd" }, at: Now.AddDays(-31));
        Assert.Equal(RuleGrantOutcome.Expired, RuleGrantPlan.Of(rule, old, Now).Refused);
    }

    [Theory]
    [InlineData(1000, 1000, null)]
    [InlineData(1000, 250, 25.0)]
    [InlineData(3000, 1000, 33.333333)]
    [InlineData(0, 0, null)]
    public void A_refund_takes_back_the_refunded_proportion_rounded_down_or_all_when_full(long net, long refunded, double? expected)
    {
        var refund = Order(net, "usd", refunded: refunded);

        Assert.Equal(expected is null ? null : (decimal)expected, RuleGrantPlan.RefundedUnits(100m, refund));
    }
}
