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
}
