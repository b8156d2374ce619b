using System.Text;
using System.Text.Json.Nodes;
using CreditGrants.Webhooks;

namespace CreditGrants.Tests.Webhooks;

/// <summary>Webhook payloads against Polar's schemas (issue #21, item 1): valid ones pass, others are refused with a reason.</summary>
public sealed class PolarWebhookSchemasTests
{
    private static readonly DateTimeOffset Created = new(2026, 12, 6, 5, 46, 40, TimeSpan.Zero);

    private static WebhookValidation Validate(string body) => PolarWebhookSchemas.Default.Validate(Encoding.UTF8.GetBytes(body));

    private static string Customer(string type = "customer.created") =>
        PolarWebhookPayloads.Customer(type, Guid.NewGuid(), "user-42", "ada@credits.dev", Created);

    [Fact]
    public void The_schemas_know_the_webhooks_of_the_subset()
    {
        Assert.Equal(
            ["benefit_grant.created", "benefit_grant.cycled", "benefit_grant.revoked", "customer.created", "customer.deleted", "customer.state_changed",
             "customer.updated", "order.paid", "order.refunded", "subscription.active", "subscription.canceled", "subscription.created",
             "subscription.cycled", "subscription.revoked"],
            PolarWebhookSchemas.Default.EventTypes);
    }

    [Theory]
    [InlineData("customer.created")]
    [InlineData("customer.updated")]
    [InlineData("customer.deleted")]
    public void A_customer_payload_as_polar_sends_it_is_valid(string type)
    {
        Assert.Equal(new WebhookValidation(WebhookVerdict.Valid, type, null), Validate(Customer(type)));
    }

    [Fact]
    public void A_payload_missing_a_required_field_is_invalid_naming_it()
    {
        var body = JsonNode.Parse(Customer())!;
        body["data"]!.AsObject().Remove("email");

        var validation = Validate(body.ToJsonString());

        Assert.Equal(WebhookVerdict.Invalid, validation.Verdict);
        Assert.Equal("customer.created", validation.Type);
        Assert.Contains("/data", validation.Reason, StringComparison.Ordinal);
        Assert.Contains("email", validation.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_payload_whose_type_does_not_match_its_schema_is_invalid()
    {
        var body = JsonNode.Parse(Customer())!;
        body["data"]!["created_at"] = 17;

        var validation = Validate(body.ToJsonString());

        Assert.Equal(WebhookVerdict.Invalid, validation.Verdict);
        Assert.Contains("/data", validation.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json", null)]
    [InlineData("[1,2]", null)]
    [InlineData("""{"timestamp":"2026-12-06T05:46:40Z","data":{}}""", null)]
    [InlineData("""{"type":7}""", null)]
    public void A_body_that_is_no_webhook_payload_is_invalid(string body, string? type)
    {
        var validation = Validate(body);

        Assert.Equal(WebhookVerdict.Invalid, validation.Verdict);
        Assert.Equal(type, validation.Type);
        Assert.False(string.IsNullOrEmpty(validation.Reason));
    }

    [Fact]
    public void An_event_type_the_schemas_do_not_describe_is_unknown_not_invalid()
    {
        var validation = Validate("""{"type":"checkout.created","timestamp":"2026-12-06T05:46:40Z","data":{"id":"x"}}""");

        Assert.Equal(WebhookVerdict.UnknownType, validation.Verdict);
        Assert.Equal("checkout.created", validation.Type);
        Assert.Contains("docs/webhooks.md", validation.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Fields_polar_adds_later_do_not_make_a_payload_invalid()
    {
        var body = JsonNode.Parse(Customer())!;
        body["data"]!["a_field_from_a_later_api_version"] = "x";
        body["delivered_by"] = "polar";

        Assert.Equal(WebhookVerdict.Valid, Validate(body.ToJsonString()).Verdict);
    }

    [Fact]
    public void A_long_list_of_errors_is_shortened()
    {
        var body = JsonNode.Parse(Customer())!;
        foreach (var field in new[] { "email", "created_at", "metadata", "type", "name", "organization_id", "deleted_at", "avatar_url" })
        {
            body["data"]!.AsObject().Remove(field);
        }

        var validation = Validate(body.ToJsonString());

        Assert.Equal(WebhookVerdict.Invalid, validation.Verdict);
        Assert.True(validation.Reason!.Length <= 1000, validation.Reason);
    }

    [Fact]
    public void Validation_is_safe_from_many_threads_at_once()
    {
        var bodies = Enumerable.Range(0, 64).Select(i => i % 2 == 0 ? Customer() : Customer("customer.updated")).ToArray();

        var verdicts = bodies.AsParallel().Select(b => Validate(b).Verdict).ToArray();

        Assert.All(verdicts, v => Assert.Equal(WebhookVerdict.Valid, v));
    }
}
