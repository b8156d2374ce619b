using System.Text.Json.Nodes;
using CreditGrants.Grants;
using CreditGrants.Rules;

namespace CreditGrants.Tests.Rules;

/// <summary>The rule fields of per-minor-unit orders, subscriptions, expiry and refunds: what is accepted and what is refused, naming the field.</summary>
public class RuleTriggerValidationTests
{
    private static readonly RuleValidator Validator = new(new GrantOptions());
    private static readonly string Product = Guid.NewGuid().ToString();

    private static JsonObject Rule(string trigger, bool products = true) => new()
    {
        ["id"] = "r1",
        ["trigger"] = products
            ? new JsonObject { ["event"] = trigger, ["productIds"] = new JsonArray(Product) }
            : new JsonObject { ["event"] = trigger },
        ["units"] = 10,
    };

    private static GrantRule Valid(JsonObject document)
    {
        var validation = Validator.Validate(document.ToJsonString());
        Assert.True(validation.IsValid, string.Join("; ", validation.Errors));
        return validation.Rule!;
    }

    private static RuleError Error(JsonObject document)
    {
        var validation = Validator.Validate(document.ToJsonString());
        Assert.False(validation.IsValid);
        return Assert.Single(validation.Errors);
    }

    [Fact]
    public void Per_minor_unit_amounts_per_currency_replace_units_on_order_paid()
    {
        var document = Rule("order.paid");
        document.Remove("units");
        document["unitsPerMinorUnit"] = new JsonObject { ["usd"] = 0.01m, ["eur"] = 0.012m };

        var rule = Valid(document);

        Assert.Null(rule.Units);
        Assert.Equal(new Dictionary<string, decimal> { ["usd"] = 0.01m, ["eur"] = 0.012m }, rule.UnitsPerMinorUnit);
    }

    [Fact]
    public void Both_units_and_units_per_minor_unit_are_refused_naming_the_second()
    {
        var document = Rule("order.paid");
        document["unitsPerMinorUnit"] = new JsonObject { ["usd"] = 0.01m };

        var error = Error(document);

        Assert.Equal("$.unitsPerMinorUnit", error.Path);
        Assert.Contains("not both", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Neither_units_nor_units_per_minor_unit_is_refused_naming_units()
    {
        var document = Rule("order.paid");
        document.Remove("units");

        Assert.Equal("$.units", Error(document).Path);
    }

    [Fact]
    public void Units_per_minor_unit_on_another_trigger_is_refused()
    {
        var document = Rule("subscription.cycled");
        document.Remove("units");
        document["unitsPerMinorUnit"] = new JsonObject { ["usd"] = 0.01m };

        var error = Error(document);

        Assert.Equal("$.unitsPerMinorUnit", error.Path);
        Assert.Contains("order.paid only", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_currency_rate_with_seven_decimals_or_an_uppercase_code_is_refused()
    {
        var document = Rule("order.paid");
        document.Remove("units");
        document["unitsPerMinorUnit"] = new JsonObject { ["usd"] = 0.0000001m };
        Assert.Equal(("$.unitsPerMinorUnit.usd", "0.0000001"), (Error(document).Path, Error(document).Value));

        document["unitsPerMinorUnit"] = new JsonObject { ["USD"] = 0.01m };
        Assert.StartsWith("$.unitsPerMinorUnit", Error(document).Path, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("subscription.active")]
    [InlineData("subscription.cycled")]
    public void Subscription_triggers_need_product_ids(string trigger)
    {
        Assert.Equal(trigger, Valid(Rule(trigger)).Event);

        var error = Error(Rule(trigger, products: false));

        Assert.Equal("$.trigger.productIds", error.Path);
        Assert.Contains($"required for {trigger}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Expires_in_takes_the_durations_http_grants_accept()
    {
        var document = Rule("subscription.cycled");
        document["expiresIn"] = "P30D";
        Assert.Equal(TimeSpan.FromDays(30), Valid(document).ExpiresIn);

        document["expiresIn"] = "P1M";
        var error = Error(document);
        Assert.Equal(("$.expiresIn", "\"P1M\""), (error.Path, error.Value));
        Assert.Contains(GrantExpiry.AcceptedDuration, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Revoke_on_refund_goes_with_order_paid_only()
    {
        var order = Rule("order.paid");
        order["revokeOnRefund"] = true;
        Assert.True(Valid(order).RevokeOnRefund);

        var subscription = Rule("subscription.active");
        subscription["revokeOnRefund"] = true;
        Assert.Equal("$.revokeOnRefund", Error(subscription).Path);
    }
}
