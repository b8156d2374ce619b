using CreditGrants.Grants;

namespace CreditGrants.Tests;

public sealed class GrantValidatorTests
{
    private readonly GrantValidator _validator = new(new GrantOptions { MaxUnitsPerGrant = 1000 });

    private static GrantRequest Request(string? units = "10", string? grantId = "g-1", string? externalId = "user-1",
        string? customerId = null, string? email = null, string? name = null, string? meter = null, string? reason = null) =>
        new(grantId, externalId, customerId, email, name, units, meter, reason, "test");

    private FieldError SingleError(GrantRequest request)
    {
        var result = _validator.Validate(request);
        Assert.False(result.IsValid);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void A_complete_request_becomes_a_grant_with_the_default_meter()
    {
        var result = _validator.Validate(Request(email: "ada@lovelace.dev", reason: "trial"));

        Assert.True(result.IsValid);
        Assert.Equal(10m, result.Grant!.Units);
        Assert.Equal("API Calls", result.Grant.Meter);
        Assert.Equal("user-1", result.Grant.Customer.ExternalId);
        Assert.Equal("ada@lovelace.dev", result.Grant.Customer.Email);
        Assert.Equal("g-1", result.Grant.GrantId.Value);
    }

    [Theory]
    [InlineData("0", "greater than 0")]
    [InlineData("-5", "greater than 0")]
    [InlineData("abc", "must be a number")]
    [InlineData("1001", "over the limit of 1000")]
    [InlineData("1.1234567", "more than 6 decimal places")]
    public void Units_out_of_range_are_refused_naming_the_value(string units, string message)
    {
        var error = SingleError(Request(units: units));

        Assert.Equal("units", error.Field);
        Assert.Equal(units, error.Value);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.000001")]
    [InlineData("1000")]
    [InlineData("2.5")]
    [InlineData("1e2")]
    public void Units_within_the_rules_are_accepted(string units)
    {
        Assert.True(_validator.Validate(Request(units: units)).IsValid);
    }

    [Fact]
    public void Missing_units_are_refused()
    {
        Assert.Equal("units", SingleError(Request(units: null)).Field);
    }

    [Fact]
    public void A_grant_without_a_grant_id_is_refused()
    {
        var error = SingleError(Request(grantId: null));

        Assert.Equal("grantId", error.Field);
        Assert.Contains("required", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("tab\there")]
    [InlineData("nul\0here")]
    public void Blank_ids_or_ids_with_control_characters_are_refused(string id)
    {
        Assert.Equal("customer.externalId", SingleError(Request(externalId: id)).Field);
    }

    [Fact]
    public void Ids_longer_than_the_bound_are_refused()
    {
        var error = SingleError(Request(grantId: new string('g', GrantValidator.MaxIdLength + 1)));

        Assert.Equal("grantId", error.Field);
        Assert.Contains($"at most {GrantValidator.MaxIdLength}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_customer_is_required()
    {
        Assert.Equal("customer", SingleError(Request(externalId: null)).Field);
    }

    [Fact]
    public void External_id_and_customer_id_together_are_refused()
    {
        var error = SingleError(Request(customerId: Guid.NewGuid().ToString()));

        Assert.Equal("customer", error.Field);
        Assert.Contains("not both", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_customer_id_must_be_a_uuid()
    {
        var error = SingleError(Request(externalId: null, customerId: "cus_123"));

        Assert.Equal("customer.customerId", error.Field);
        Assert.Equal("cus_123", error.Value);
    }

    [Theory]
    [InlineData("not-an-email")]
    [InlineData("ada@")]
    [InlineData("ada@localhost")]
    [InlineData("Ada <ada@lovelace.dev>")]
    public void Malformed_emails_are_refused(string email)
    {
        var error = SingleError(Request(email: email));

        Assert.Equal("customer.email", error.Field);
        Assert.Equal(email, error.Value);
    }

    [Fact]
    public void A_reason_over_500_characters_is_refused()
    {
        var error = SingleError(Request(reason: new string('r', 501)));

        Assert.Equal("reason", error.Field);
        Assert.Contains("at most 500", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_field_is_reported_at_once()
    {
        var result = _validator.Validate(Request(units: "-1", grantId: null, email: "nope"));

        Assert.Equal(["grantId", "customer.email", "units"], result.Errors.Select(e => e.Field).ToArray());
    }
}
