using System.Text.Json.Nodes;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using CreditGrants.Rules;
using CreditGrants.Storage.Rules;
using CreditGrants.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CreditFunctions.Tests.Webhooks;

/// <summary>
/// Grant rules on <c>customer.created</c> (issue #21 item 2), end to end: a signed delivery to the endpoint, the webhook
/// queue, the rule handler, a grant in the emulator. Ids derived from the rule and the customer grant once however often
/// Polar delivers; caps and budgets are recorded, not silently dropped.
/// </summary>
public sealed class RuleGrantTests : IAsyncLifetime
{
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..12];
    private WebhookApp _app = null!;

    public async Task InitializeAsync() => _app = await WebhookApp.StartAsync(new Dictionary<string, string?>
    {
        ["Rules:Container"] = $"rules-{_suffix}",
        ["Rules:Table"] = $"rules{_suffix}",
    });

    public async Task DisposeAsync()
    {
        await Rules.Container.DeleteIfExistsAsync();
        await Ledger.Table.DeleteAsync();
        await _app.DisposeAsync();
    }

    private BlobGrantRuleSource Rules => _app.Services.GetRequiredService<BlobGrantRuleSource>();

    private TableRuleGrantLedger Ledger => _app.Services.GetRequiredService<TableRuleGrantLedger>();

    private static string NewId() => "msg_" + Guid.NewGuid().ToString("N");

    private async Task UploadAsync(JsonObject rule)
    {
        await Rules.Container.CreateIfNotExistsAsync();
        await Rules.Container.GetBlobClient(BlobGrantRuleSource.BlobName((string)rule["id"]!)).UploadAsync(BinaryData.FromString(rule.ToJsonString()), overwrite: true);
    }

    private static JsonObject Rule(string id, decimal units = 100, JsonObject? metadata = null, decimal? budget = null)
    {
        var trigger = new JsonObject { ["event"] = "customer.created" };
        var rule = new JsonObject { ["id"] = id, ["trigger"] = trigger, ["units"] = units, ["reason"] = "Welcome credits" };
        if (metadata is not null)
        {
            trigger["customerMetadata"] = metadata;
        }

        if (budget is not null)
        {
            rule["budget"] = budget;
        }

        return rule;
    }

    /// <summary>A customer made in the emulator and the <c>customer.created</c> body Polar would send for it.</summary>
    private async Task<(Guid Id, string Body)> SignupAsync(string externalId, JsonObject? metadata = null)
    {
        var customer = await _app.Services.GetRequiredService<IPolarGateway>()
            .CreateCustomerAsync(new CustomerCreate($"{externalId}@credits.dev", null, externalId));
        return (customer.Id, PolarWebhookPayloads.Customer("customer.created", customer.Id, externalId, $"{externalId}@credits.dev",
            DateTimeOffset.UtcNow.AddMinutes(-1), metadata: metadata));
    }

    private Task<decimal> BalanceAsync(string externalId) => _app.App.BalanceAsync(externalId);

    [Fact]
    public async Task A_signup_is_granted_the_rules_units_once_over_ten_retries_and_ten_replays()
    {
        await UploadAsync(Rule("signup-credits"));
        var (_, body) = await SignupAsync("rule-once");
        var webhookId = NewId();

        for (var i = 0; i < 10; i++)
        {
            await _app.DeliverAsync(body, webhookId);
        }

        await _app.DrainAsync();
        // Replays: the same event under new webhook ids, so past the delivery's deduplication.
        for (var i = 0; i < 10; i++)
        {
            await _app.DeliverAsync(body, NewId());
        }

        await _app.DrainAsync();

        Assert.Equal(100m, await BalanceAsync("rule-once"));
        var recorded = Assert.Single(await Ledger.GrantsAsync("signup-credits", CancellationToken.None));
        Assert.Equal(RuleGrantOutcome.Reserved, recorded.Outcome);
    }

    [Fact]
    public async Task A_replay_after_a_rule_was_edited_keeps_the_grant_made_first_and_lets_the_other_rules_grant()
    {
        await UploadAsync(Rule("edited-signup"));
        var (_, body) = await SignupAsync("rule-edited");
        await _app.DeliverAsync(body, NewId());
        await _app.DrainAsync();
        var edited = Rule("edited-signup");
        edited["carryOver"] = true;
        await UploadAsync(edited);
        await UploadAsync(Rule("another-signup", units: 30));

        await _app.DeliverAsync(body, NewId());
        var drained = await _app.DrainAsync();

        // The grant made first stands (a rule's grant id is derived: its repeat is a duplicate, never a grant id conflict);
        // the replay fails nothing and the other rule grants.
        Assert.All(drained, d => Assert.Null(d.Error));
        Assert.Equal(130m, await BalanceAsync("rule-edited"));
    }

    [Fact]
    public async Task A_metadata_filter_grants_only_to_customers_that_match()
    {
        await UploadAsync(Rule("pro-signup", metadata: new JsonObject { ["plan"] = "pro" }));
        var (_, pro) = await SignupAsync("rule-pro", new JsonObject { ["plan"] = "pro" });
        var (_, free) = await SignupAsync("rule-free", new JsonObject { ["plan"] = "free" });

        await _app.DeliverAsync(pro, NewId());
        await _app.DeliverAsync(free, NewId());
        await _app.DrainAsync();

        Assert.Equal((100m, 0m), (await BalanceAsync("rule-pro"), await BalanceAsync("rule-free")));
    }

    [Fact]
    public async Task A_signup_past_the_budget_is_recorded_over_budget_and_not_granted()
    {
        await UploadAsync(Rule("small-budget", budget: 150));
        var (first, firstBody) = await SignupAsync("rule-budget-1");
        var (second, secondBody) = await SignupAsync("rule-budget-2");

        await _app.DeliverAsync(firstBody, NewId());
        await _app.DrainAsync();
        await _app.DeliverAsync(secondBody, NewId());
        await _app.DeliverAsync(secondBody, NewId());
        await _app.DrainAsync();

        Assert.Equal((100m, 0m), (await BalanceAsync("rule-budget-1"), await BalanceAsync("rule-budget-2")));
        var recorded = (await Ledger.GrantsAsync("small-budget", CancellationToken.None)).ToDictionary(g => g.Customer, g => g.Outcome);
        Assert.Equal(RuleGrantOutcome.Reserved, recorded[first.ToString("D")]);
        Assert.Equal(RuleGrantOutcome.OverBudget, recorded[second.ToString("D")]);
        Assert.Equal(2, recorded.Count);
    }

    [Fact]
    public async Task A_paid_order_of_a_listed_product_grants_once_and_other_products_grant_nothing()
    {
        // The emulator's own order.paid (its payload as Polar sends it), caught by an endpoint that never answers.
        _app.Emulator.AddWebhookEndpoint(new Uri("http://127.0.0.1:9/hooks"), WebhookApp.Secret);
        var (customer, _) = await SignupAsync("rule-order");
        using var client = new HttpClient { BaseAddress = _app.Emulator.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _app.Emulator.Token);
        var meter = (string)JsonNode.Parse(await client.GetStringAsync("v1/meters/"))!["items"]![0]!["id"]!;
        using (var purchase = await client.PostAsync("__emulator/orders", new StringContent(
            $$"""{"customer_id":"{{customer}}","meter_id":"{{meter}}","units":5}""", System.Text.Encoding.UTF8, "application/json")))
        {
            purchase.EnsureSuccessStatusCode();
        }

        var deliveries = await _app.Emulator.WaitForWebhooksAsync(d => d.Any(x => x.Type == "order.paid"));
        var order = deliveries.First(d => d.Type == "order.paid").Payload;
        var product = (string)JsonNode.Parse(order)!["data"]!["product_id"]!;
        var rule = Rule("order-credits", units: 250);
        rule["trigger"] = new JsonObject { ["event"] = "order.paid", ["productIds"] = new JsonArray(product) };
        await UploadAsync(rule);
        var other = Rule("other-product-credits", units: 7);
        other["trigger"] = new JsonObject { ["event"] = "order.paid", ["productIds"] = new JsonArray(Guid.NewGuid().ToString()) };
        await UploadAsync(other);
        var before = await BalanceAsync("rule-order");

        await _app.DeliverAsync(order, NewId());
        await _app.DeliverAsync(order, NewId());
        await _app.DrainAsync();

        Assert.Equal(250m, await BalanceAsync("rule-order") - before);
        Assert.Single(await Ledger.GrantsAsync("order-credits", CancellationToken.None));
        Assert.Empty(await Ledger.GrantsAsync("other-product-credits", CancellationToken.None));
    }

    [Fact]
    public async Task A_disabled_rule_grants_nothing()
    {
        var rule = Rule("disabled-signup");
        rule["enabled"] = false;
        await UploadAsync(rule);
        var (_, body) = await SignupAsync("rule-disabled");

        await _app.DeliverAsync(body, NewId());
        await _app.DrainAsync();

        Assert.Equal(0m, await BalanceAsync("rule-disabled"));
        Assert.Empty(await Ledger.GrantsAsync("disabled-signup", CancellationToken.None));
    }

    [Fact]
    public async Task A_grant_past_the_per_customer_cap_is_recorded_over_cap_and_the_first_grant_again_is_not()
    {
        var rule = new GrantRule("capped", null, true, GrantRule.CustomerCreated, new Dictionary<string, string>(), 10m, "API Calls", null, 1, null);
        var customer = Guid.NewGuid().ToString("D");
        var (one, two) = (DerivedGrantId.Of(GrantIdDomain.RuleGrant, "capped", customer, "1").Value, DerivedGrantId.Of(GrantIdDomain.RuleGrant, "capped", customer, "2").Value);

        var first = await Ledger.RecordAsync(rule, one, customer, 10m, "test", CancellationToken.None);
        var second = await Ledger.RecordAsync(rule, two, customer, 10m, "test", CancellationToken.None);
        var firstAgain = await Ledger.RecordAsync(rule, one, customer, 10m, "test", CancellationToken.None);

        Assert.Equal((RuleGrantOutcome.Reserved, RuleGrantOutcome.OverCap, RuleGrantOutcome.Reserved), (first, second, firstAgain));
    }

    [Fact]
    public async Task Ten_racing_records_of_one_budget_reserve_no_more_than_it_holds()
    {
        var rule = new GrantRule("race", null, true, GrantRule.CustomerCreated, new Dictionary<string, string>(), 10m, "API Calls", null, null, 30m);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            Ledger.RecordAsync(rule, $"ru_race{i}", Guid.NewGuid().ToString("D"), 10m, "test", CancellationToken.None)));

        Assert.Equal(3, outcomes.Count(o => o == RuleGrantOutcome.Reserved));
        Assert.Equal(7, outcomes.Count(o => o == RuleGrantOutcome.OverBudget));
    }

    private HttpClient EmulatorClient()
    {
        var client = new HttpClient { BaseAddress = _app.Emulator.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _app.Emulator.Token);
        return client;
    }

    private static async Task<JsonNode> PostAsync(HttpClient client, string path, string body = "{}")
    {
        using var answer = await client.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        answer.EnsureSuccessStatusCode();
        return JsonNode.Parse(await answer.Content.ReadAsStringAsync())!;
    }

    /// <summary>An emulator order's <c>order.paid</c> body (as Polar sends it), the emulator catching its deliveries.</summary>
    private async Task<JsonObject> PaidOrderAsync(HttpClient client)
    {
        _app.Emulator.AddWebhookEndpoint(new Uri("http://127.0.0.1:9/hooks"), WebhookApp.Secret);
        var (customer, _) = await SignupAsync("rule-buyer-" + Guid.NewGuid().ToString("N")[..8]);
        var meter = (string)JsonNode.Parse(await client.GetStringAsync("v1/meters/"))!["items"]![0]!["id"]!;
        var order = (string)(await PostAsync(client, "__emulator/orders", $$"""{"customer_id":"{{customer}}","meter_id":"{{meter}}","units":5}"""))["id"]!;
        var deliveries = await _app.Emulator.WaitForWebhooksAsync(d => d.Any(x => x.Type == "order.paid" && x.Payload.Contains(order, StringComparison.Ordinal)));
        return JsonNode.Parse(deliveries.First(d => d.Type == "order.paid" && d.Payload.Contains(order, StringComparison.Ordinal)).Payload)!.AsObject();
    }

    /// <summary>The same order's body for another order id, customer (with no emulator credits of its own) and amounts.</summary>
    private static string Reworked(JsonObject payload, string type, Guid orderId, Guid customer, string externalId, long net, string currency,
        long tax = 0, long refunded = 0, string status = "paid")
    {
        var body = payload.DeepClone().AsObject();
        body["type"] = type;
        var data = body["data"]!.AsObject();
        data["id"] = orderId.ToString();
        data["status"] = status;
        data["modified_at"] = PolarWebhookPayloads.Time(DateTimeOffset.UtcNow.AddMinutes(refunded > 0 ? 1 : 0));
        data["customer_id"] = customer.ToString();
        data["customer"]!["id"] = customer.ToString();
        data["customer"]!["external_id"] = externalId;
        (data["subtotal_amount"], data["net_amount"], data["tax_amount"], data["total_amount"]) = (net, net, tax, net + tax);
        (data["refunded_amount"], data["refundable_amount"], data["currency"]) = (refunded, net - refunded, currency);
        return body.ToJsonString();
    }

    private static JsonObject OrderRule(string id, string product, decimal? units = null, JsonObject? perMinorUnit = null, bool revokeOnRefund = false)
    {
        var rule = new JsonObject { ["id"] = id, ["trigger"] = new JsonObject { ["event"] = "order.paid", ["productIds"] = new JsonArray(product) } };
        if (perMinorUnit is not null)
        {
            rule["unitsPerMinorUnit"] = perMinorUnit;
        }
        else
        {
            rule["units"] = units ?? 100;
        }

        if (revokeOnRefund)
        {
            rule["revokeOnRefund"] = true;
        }

        return rule;
    }

    private async Task UseAsync(string externalId, decimal units)
    {
        var report = await _app.Services.GetRequiredService<IPolarGateway>().IngestAsync(
            [new PolarEvent("api_usage", null, externalId, null, null, new Dictionary<string, System.Text.Json.JsonElement> { ["units"] = PolarMetadata.Number(units) })]);
        Assert.Equal(0, report.Rejected);
    }

    /// <summary>A <c>revokeOnRefund</c> rule of 100 units, its grant for a new order of a new customer, and <paramref name="used"/> units of it used.</summary>
    private async Task<(JsonObject Paid, Guid Customer, Guid Order)> GrantedOrderAsync(string ruleId, string externalId, long net, long tax, decimal used)
    {
        using var client = EmulatorClient();
        var paid = await PaidOrderAsync(client);
        await UploadAsync(OrderRule(ruleId, (string)paid["data"]!["product_id"]!, units: 100, revokeOnRefund: true));
        var (customer, _) = await SignupAsync(externalId);
        var order = Guid.NewGuid();
        await _app.DeliverAsync(Reworked(paid, "order.paid", order, customer, externalId, net, "usd", tax), NewId());
        await _app.DrainAsync();
        await UseAsync(externalId, used);
        return (paid, customer, order);
    }

    /// <summary>A new emulator subscription of <paramref name="externalId"/> cycled twice: its <c>subscription.active</c> body and its two <c>subscription.cycled</c> bodies.</summary>
    private async Task<(string Active, List<string> Cycles)> CycledSubscriptionAsync(HttpClient client, string externalId)
    {
        _app.Emulator.AddWebhookEndpoint(new Uri("http://127.0.0.1:9/hooks"), WebhookApp.Secret);
        var (customer, _) = await SignupAsync(externalId);
        var meter = (string)JsonNode.Parse(await client.GetStringAsync("v1/meters/"))!["items"]![0]!["id"]!;
        var subscription = (string)(await PostAsync(client, "__emulator/subscriptions", $$"""{"customer_id":"{{customer}}","meter_id":"{{meter}}","units":10}"""))["id"]!;
        await PostAsync(client, $"__emulator/subscriptions/{subscription}/cycle");
        await PostAsync(client, $"__emulator/subscriptions/{subscription}/cycle");
        bool Of(PolarEmulator.Webhooks.WebhookDelivery d, string type) => d.Type == type && d.Payload.Contains(subscription, StringComparison.Ordinal);
        var deliveries = await _app.Emulator.WaitForWebhooksAsync(d => d.Count(x => Of(x, "subscription.cycled")) >= 2 && d.Any(x => Of(x, "subscription.active")));
        return (deliveries.First(d => Of(d, "subscription.active")).Payload, [.. deliveries.Where(d => Of(d, "subscription.cycled")).Select(d => d.Payload)]);
    }

    [Fact]
    public async Task An_order_grants_per_minor_unit_of_its_net_amount_tax_excluded_and_an_unlisted_currency_or_too_large_an_order_is_recorded_not_granted()
    {
        using var client = EmulatorClient();
        var paid = await PaidOrderAsync(client);
        var product = (string)paid["data"]!["product_id"]!;
        await UploadAsync(OrderRule("per-cent", product, perMinorUnit: new JsonObject { ["usd"] = 0.01m, ["eur"] = 0.02m }));
        var (usd, _) = await SignupAsync("rule-usd");
        var (gbp, _) = await SignupAsync("rule-gbp");
        var (free, _) = await SignupAsync("rule-free-order");
        var (whale, _) = await SignupAsync("rule-whale");
        var (usdOrder, gbpOrder, freeOrder) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());

        await _app.DeliverAsync(Reworked(paid, "order.paid", usdOrder, usd, "rule-usd", net: 1999, "usd", tax: 400), NewId());
        await _app.DeliverAsync(Reworked(paid, "order.paid", gbpOrder, gbp, "rule-gbp", net: 5000, "gbp"), NewId());
        await _app.DeliverAsync(Reworked(paid, "order.paid", freeOrder, free, "rule-free-order", net: 0, "usd"), NewId());
        // 2,000,000 dollars: 2,000,000 credits, over Grants:MaxUnitsPerGrant (1,000,000): recorded, never retried in vain.
        await _app.DeliverAsync(Reworked(paid, "order.paid", Guid.NewGuid(), whale, "rule-whale", net: 200_000_000, "usd"), NewId());
        await _app.DrainAsync();

        Assert.Equal((19.99m, 0m, 0m), (await BalanceAsync("rule-usd"), await BalanceAsync("rule-gbp"), await BalanceAsync("rule-free-order")));
        Assert.Equal(0m, await BalanceAsync("rule-whale"));
        var recorded = (await Ledger.GrantsAsync("per-cent", CancellationToken.None)).ToDictionary(g => g.Customer, g => g.Outcome);
        Assert.Equal(RuleGrantOutcome.Reserved, recorded[usd.ToString("D")]);
        Assert.Equal(RuleGrantOutcome.UnlistedCurrency, recorded[gbp.ToString("D")]);
        Assert.Equal(RuleGrantOutcome.NoUnits, recorded[free.ToString("D")]);
        Assert.Equal(RuleGrantOutcome.OverMaxUnits, recorded[whale.ToString("D")]);
    }

    [Fact]
    public async Task A_subscription_grants_once_per_period_under_ten_redeliveries_of_each_event()
    {
        using var client = EmulatorClient();
        var (active, cycles) = await CycledSubscriptionAsync(client, "rule-subscriber");
        var product = (string)JsonNode.Parse(active)!["data"]!["product_id"]!;
        foreach (var (id, trigger) in new[] { ("first-period", "subscription.active"), ("every-renewal", "subscription.cycled") })
        {
            await UploadAsync(new JsonObject
            {
                ["id"] = id, ["units"] = 500, ["expiresIn"] = "P40D",
                ["trigger"] = new JsonObject { ["event"] = trigger, ["productIds"] = new JsonArray(product) },
            });
        }

        foreach (var body in new[] { active }.Concat(cycles))
        {
            for (var i = 0; i < 10; i++)
            {
                await _app.DeliverAsync(body, NewId());
            }

            await _app.DrainAsync();
        }

        var first = Assert.Single(await Ledger.GrantsAsync("first-period", CancellationToken.None));
        var renewals = await Ledger.GrantsAsync("every-renewal", CancellationToken.None);
        Assert.Equal(2, renewals.Count);
        Assert.All(renewals.Append(first), g => Assert.Equal(RuleGrantOutcome.Reserved, g.Outcome));
        var ids = renewals.Append(first).Select(g => g.GrantId).ToList();
        var events = await _app.Services.GetRequiredService<IPolarGateway>().FindEventsByMetadataAsync(CreditGrants.Lifecycle.GrantMetadata.GrantId, ids);
        Assert.All(ids, id => Assert.Single(events.Events[id], e => e.Metadata?.ContainsKey(CreditGrants.Lifecycle.GrantMetadata.ExpiresAt) == true));
    }

    [Fact]
    public async Task A_refund_takes_back_the_unspent_units_of_a_partly_used_grant_once_however_often_it_is_delivered()
    {
        var (paid, customer, order) = await GrantedOrderAsync("refundable", "rule-refund", net: 1000, tax: 0, used: 30);

        var refunded = Reworked(paid, "order.refunded", order, customer, "rule-refund", net: 1000, "usd", refunded: 1000, status: "refunded");
        await _app.DeliverAsync(refunded, NewId());
        await _app.DrainAsync();
        await _app.DeliverAsync(refunded, NewId());
        await _app.DrainAsync();

        Assert.Equal(0m, await BalanceAsync("rule-refund"));
        var grantId = DerivedGrantId.Of(GrantIdDomain.RuleGrant, "refundable", order.ToString()).Value;
        var record = await Ledger.FindRefundAsync("refundable", grantId, CancellationToken.None);
        Assert.Equal((RuleRefundOutcome.Revoked, 70m), (record!.Outcome, record.TakenBack));
    }

    [Fact]
    public async Task A_refund_after_a_meter_reset_takes_back_what_the_carry_over_grant_left_from_its_regrant()
    {
        using var client = EmulatorClient();
        var paid = await PaidOrderAsync(client);
        var rule = OrderRule("refund-carried", (string)paid["data"]!["product_id"]!, units: 100, revokeOnRefund: true);
        rule["carryOver"] = true;
        await UploadAsync(rule);
        var (customer, _) = await SignupAsync("rule-carried");
        var order = Guid.NewGuid();
        await _app.DeliverAsync(Reworked(paid, "order.paid", order, customer, "rule-carried", net: 1000, "usd"), NewId());
        await _app.DrainAsync();
        await UseAsync("rule-carried", 30);
        // A subscription with a metered price on the meter: Polar resets the meter at its start and credits its 10 units.
        var meter = (string)JsonNode.Parse(await client.GetStringAsync("v1/meters/"))!["items"]![0]!["id"]!;
        var subscription = (string)(await PostAsync(client, "__emulator/subscriptions",
            $$"""{"customer_id":"{{customer}}","meter_id":"{{meter}}","units":10,"metered_price":true}"""))["id"]!;
        var deliveries = await _app.Emulator.WaitForWebhooksAsync(d => d.Any(x => x.Type == "subscription.active" && x.Payload.Contains(subscription, StringComparison.Ordinal)));
        await _app.DeliverAsync(deliveries.First(x => x.Type == "subscription.active" && x.Payload.Contains(subscription, StringComparison.Ordinal)).Payload, NewId());
        await _app.DrainAsync();
        Assert.Equal(80m, await BalanceAsync("rule-carried"));

        await _app.DeliverAsync(Reworked(paid, "order.refunded", order, customer, "rule-carried", net: 1000, "usd", refunded: 1000, status: "refunded"), NewId());
        await _app.DrainAsync();

        // The order's grant was wiped by the reset; its 70 unspent units lived on in the re-grant, and came back from it.
        Assert.Equal(10m, await BalanceAsync("rule-carried"));
        var grantId = DerivedGrantId.Of(GrantIdDomain.RuleGrant, "refund-carried", order.ToString()).Value;
        var record = await Ledger.FindRefundAsync("refund-carried", grantId, CancellationToken.None);
        Assert.Equal((RuleRefundOutcome.Revoked, 70m), (record!.Outcome, record.TakenBack));
    }

    [Fact]
    public async Task A_partial_refund_takes_back_its_proportion_and_a_later_refund_of_the_same_order_nothing_more()
    {
        var (paid, customer, order) = await GrantedOrderAsync("partly-refundable", "rule-partial", net: 2000, tax: 300, used: 10);

        await _app.DeliverAsync(Reworked(paid, "order.refunded", order, customer, "rule-partial", net: 2000, "usd", tax: 300, refunded: 500,
            status: "partially_refunded"), NewId());
        await _app.DrainAsync();
        var afterPartial = await BalanceAsync("rule-partial");
        var full = JsonNode.Parse(Reworked(paid, "order.refunded", order, customer, "rule-partial", net: 2000, "usd", tax: 300, refunded: 2000, status: "refunded"))!;
        full["data"]!["modified_at"] = PolarWebhookPayloads.Time(DateTimeOffset.UtcNow.AddMinutes(2));
        await _app.DeliverAsync(full.ToJsonString(), NewId());
        await _app.DrainAsync();

        Assert.Equal((65m, 65m), (afterPartial, await BalanceAsync("rule-partial")));
        var grantId = DerivedGrantId.Of(GrantIdDomain.RuleGrant, "partly-refundable", order.ToString()).Value;
        var record = await Ledger.FindRefundAsync("partly-refundable", grantId, CancellationToken.None);
        Assert.Equal((RuleRefundOutcome.Revoked, 25m, 500L), (record!.Outcome, record.TakenBack, record.RefundedAmount));
    }

    [Fact]
    public async Task Per_amount_grants_spend_the_budget_and_a_subscription_rules_cap_and_metadata_filter_hold_across_periods()
    {
        using var client = EmulatorClient();
        var paid = await PaidOrderAsync(client);
        var budgeted = OrderRule("per-cent-budget", (string)paid["data"]!["product_id"]!, perMinorUnit: new JsonObject { ["usd"] = 0.01m });
        budgeted["budget"] = 25;
        await UploadAsync(budgeted);
        var (buyer, _) = await SignupAsync("rule-budget-buyer");
        await _app.DeliverAsync(Reworked(paid, "order.paid", Guid.NewGuid(), buyer, "rule-budget-buyer", net: 1999, "usd"), NewId());
        await _app.DeliverAsync(Reworked(paid, "order.paid", Guid.NewGuid(), buyer, "rule-budget-buyer", net: 1999, "usd"), NewId());
        await _app.DrainAsync();

        var (_, cycles) = await CycledSubscriptionAsync(client, "rule-capped-subscriber");
        var product = (string)JsonNode.Parse(cycles[0])!["data"]!["product_id"]!;
        foreach (var (id, metadata) in new[] { ("capped-renewal", new JsonObject()), ("pro-renewal", new JsonObject { ["plan"] = "pro" }) })
        {
            await UploadAsync(new JsonObject
            {
                ["id"] = id, ["units"] = 10, ["perCustomerCap"] = 1,
                ["trigger"] = new JsonObject { ["event"] = "subscription.cycled", ["productIds"] = new JsonArray(product), ["customerMetadata"] = metadata },
            });
        }

        foreach (var body in cycles)
        {
            await _app.DeliverAsync(body, NewId());
            await _app.DrainAsync();
        }

        Assert.Equal(new[] { RuleGrantOutcome.Reserved, RuleGrantOutcome.OverBudget },
            (await Ledger.GrantsAsync("per-cent-budget", CancellationToken.None)).Select(g => g.Outcome).Order());
        Assert.Equal(new[] { RuleGrantOutcome.Reserved, RuleGrantOutcome.OverCap },
            (await Ledger.GrantsAsync("capped-renewal", CancellationToken.None)).Select(g => g.Outcome).Order());
        Assert.Empty(await Ledger.GrantsAsync("pro-renewal", CancellationToken.None));
    }
}
