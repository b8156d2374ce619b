using System.Text.Json.Nodes;
using CreditGrants.Grants;
using CreditGrants.Rules;

namespace CreditGrants.Tests.Rules;

public class RuleValidatorTests
{
    private static readonly RuleValidator Validator = new(new GrantOptions());

    private static JsonObject Signup() => new()
    {
        ["id"] = "signup-credits",
        ["trigger"] = new JsonObject { ["event"] = "customer.created" },
        ["units"] = 100,
        ["reason"] = "Welcome credits",
    };

    private static IReadOnlyList<RuleError> Errors(JsonObject document)
    {
        var validation = Validator.Validate(document.ToJsonString());
        Assert.False(validation.IsValid);
        return validation.Errors;
    }

    [Fact]
    public void Valid_document_gives_a_rule_with_defaults()
    {
        var validation = Validator.Validate(Signup().ToJsonString());

        Assert.True(validation.IsValid, string.Join("; ", validation.Errors));
        var rule = validation.Rule!;
        Assert.Equal(("signup-credits", "customer.created", 100m, "API Calls", true), (rule.Id, rule.Event, rule.Units, rule.Meter, rule.Enabled));
        Assert.Equal((null, null), (rule.PerCustomerCap, rule.Budget));
        Assert.Equal("rule:signup-credits", rule.Source);
    }

    [Fact]
    public void CarryOver_is_false_unless_the_document_says_true_and_anything_but_a_boolean_is_refused_at_its_path()
    {
        var carried = Signup();
        carried["carryOver"] = true;
        var text = Signup();
        text["carryOver"] = "yes";

        Assert.False(Validator.Validate(Signup().ToJsonString()).Rule!.CarryOver);
        Assert.True(Validator.Validate(carried.ToJsonString()).Rule!.CarryOver);
        Assert.Contains(Errors(text), e => e.Path == "$.carryOver");
    }

    [Fact]
    public void CarryOver_goes_with_revokeOnRefund_since_a_refund_follows_the_grant_into_its_regrant()
    {
        var both = Signup();
        both["trigger"] = new JsonObject { ["event"] = "order.paid", ["productIds"] = new JsonArray("3fa85f64-5717-4562-b3fc-2c963f66afa6") };
        both["carryOver"] = true;
        both["revokeOnRefund"] = true;

        var rule = Validator.Validate(both.ToJsonString()).Rule;

        Assert.Equal((true, true), (rule!.CarryOver, rule.RevokeOnRefund));
    }

    [Fact]
    public void Published_schema_is_the_one_embedded()
    {
        var published = File.ReadAllText(Path.Combine(Repository.Root, "docs", "rule.schema.json"));

        Assert.Equal(published, RuleValidator.SchemaText);
    }

    [Fact]
    public void Unknown_trigger_event_names_path_value_and_what_is_accepted()
    {
        var document = Signup();
        document["trigger"]!["event"] = "customer.updated";

        var error = Assert.Single(Errors(document));

        Assert.Equal(("$.trigger.event", "\"customer.updated\""), (error.Path, error.Value));
        Assert.Contains("customer.created", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_field_is_refused_with_the_accepted_fields()
    {
        var document = Signup();
        document["cap"] = 1;

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.cap", error.Path);
        Assert.Contains("accepted fields: $schema, id, description, enabled, trigger, units", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Units_with_seven_decimals_are_refused()
    {
        var document = Signup();
        document["units"] = 0.0000001m;

        var error = Assert.Single(Errors(document));

        Assert.Equal(("$.units", "0.0000001"), (error.Path, error.Value));
        Assert.Contains("at most 6 decimals", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Budget_smaller_than_one_grant_is_refused()
    {
        var document = Signup();
        document["budget"] = 50;

        var error = Assert.Single(Errors(document));

        Assert.Equal(("$.budget", "50"), (error.Path, error.Value));
        Assert.Contains("at least 100", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Per_customer_cap_of_zero_is_refused()
    {
        var document = Signup();
        document["perCustomerCap"] = 0;

        var error = Assert.Single(Errors(document));

        Assert.Equal(("$.perCustomerCap", "0"), (error.Path, error.Value));
        Assert.Contains("at least 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Order_paid_without_product_ids_is_refused()
    {
        var document = Signup();
        document["trigger"]!["event"] = "order.paid";

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.trigger.productIds", error.Path);
        Assert.Contains("required for order.paid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Product_ids_on_customer_created_are_refused()
    {
        var document = Signup();
        document["trigger"]!["productIds"] = new JsonArray("3fa85f64-5717-4562-b3fc-2c963f66afa6");

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.trigger.productIds", error.Path);
        Assert.Contains("goes with order.paid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Metadata_filter_value_that_is_an_object_is_refused()
    {
        var document = Signup();
        document["trigger"]!["customerMetadata"] = new JsonObject { ["plan"] = new JsonObject() };

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.trigger.customerMetadata.plan", error.Path);
    }

    [Fact]
    public void Metadata_filter_matches_equal_values_of_any_accepted_kind()
    {
        var document = Signup();
        document["trigger"]!["customerMetadata"] = new JsonObject { ["plan"] = "pro", ["seats"] = 3, ["beta"] = true };
        var rule = Validator.Validate(document.ToJsonString()).Rule!;

        Assert.True(rule.Matches(System.Text.Json.JsonDocument.Parse("""{"plan":"pro","seats":3,"beta":true,"x":1}""").RootElement));
        Assert.False(rule.Matches(System.Text.Json.JsonDocument.Parse("""{"plan":"free","seats":3,"beta":true}""").RootElement));
        Assert.False(rule.Matches(System.Text.Json.JsonDocument.Parse("""{"plan":"pro","seats":3}""").RootElement));
    }

    [Fact]
    public void Every_sample_rule_is_valid()
    {
        var samples = Directory.GetFiles(Path.Combine(Repository.Root, "samples", "rules"), "*.json");

        Assert.True(samples.Length >= 4, "the samples of each trigger");
        Assert.All(samples, path => Assert.True(Validator.Validate(File.ReadAllText(path)).IsValid,
            $"{Path.GetFileName(path)}: {string.Join("; ", Validator.Validate(File.ReadAllText(path)).Errors)}"));
    }
}
