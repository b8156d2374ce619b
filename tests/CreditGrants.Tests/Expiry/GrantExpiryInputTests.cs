using CreditGrants.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Grants;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using CreditGrants.Tests.Bulk;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Tests.Expiry;

/// <summary>The one expiry rule (<see cref="GrantExpiry"/>) as every way in takes it: HTTP and CLI fields, the bulk column, campaigns.</summary>
public sealed class GrantExpiryInputTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 10, 20, 0, TimeSpan.Zero);
    private readonly GrantValidator _validator = new(new GrantOptions(), new FakeTimeProvider(Now));

    private static GrantRequest Request(string? expiresAt = null, string? expiresIn = null) =>
        new("g-1", "user-1", null, null, null, "10", null, null, "test", ExpiresAt: expiresAt, ExpiresIn: expiresIn);

    [Theory]
    [InlineData("2027-01-31T23:00:00Z", "2027-01-31T23:00:00Z")]
    [InlineData("2027-02-01T00:00:00+01:00", "2027-01-31T23:00:00Z")]
    [InlineData("2027-01-31T23:30Z", "2027-01-31T23:30:00Z")]
    [InlineData("2026-12-05T10:40:00.5-00:00", "2026-12-05T10:40:00.5Z")]
    public void An_instant_with_an_offset_is_the_grants_expiry_in_UTC(string given, string stored)
    {
        var result = _validator.Validate(Request(expiresAt: given));

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        Assert.Equal(stored, GrantExpiry.Format(result.Grant!.ExpiresAt!.Value));
    }

    [Theory]
    [InlineData("2027-01-31", "date without a time")]
    [InlineData("2027-01-31T23:00:00", "has no offset")]
    [InlineData("31/01/2027 23:00", "not a date and time")]
    [InlineData("tomorrow", "not a date and time")]
    [InlineData("2026-12-05T10:19:59Z", "in the past (now is 2026-12-05T10:20:00Z)")]
    [InlineData("2026-12-05T10:20:00Z", "in the past")]
    [InlineData("2037-01-01T00:00:00Z", "more than 10 years ahead")]
    public void An_instant_that_is_ambiguous_or_past_is_refused_naming_field_value_and_what_is_accepted(string given, string message)
    {
        var error = Assert.Single(_validator.Validate(Request(expiresAt: given)).Errors);

        Assert.Equal("expiresAt", error.Field);
        Assert.Equal(given, error.Value);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains("such as 2027-01-31T23:00:00Z", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("P30D", "2027-01-04T10:20:00Z")]
    [InlineData("PT12H", "2026-12-05T22:20:00Z")]
    [InlineData("P1DT12H", "2026-12-06T22:20:00Z")]
    [InlineData("P2W", "2026-12-19T10:20:00Z")]
    [InlineData("PT90M", "2026-12-05T11:50:00Z")]
    public void A_duration_counts_from_now(string given, string expected)
    {
        var result = _validator.Validate(Request(expiresIn: given));

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        Assert.Equal(expected, GrantExpiry.Format(result.Grant!.ExpiresAt!.Value));
    }

    [Theory]
    [InlineData("P1M", "years or months")]
    [InlineData("P1Y", "years or months")]
    [InlineData("P1Y2D", "years or months")]
    [InlineData("30 days", "not a duration")]
    [InlineData("P", "not a duration")]
    [InlineData("PT", "not a duration")]
    [InlineData("p30d", "not a duration")]
    [InlineData("PT30S", "shorter than accepted")]
    [InlineData("P4000D", "longer than accepted")]
    public void A_duration_of_calendar_length_or_out_of_range_is_refused(string given, string message)
    {
        var error = Assert.Single(_validator.Validate(Request(expiresIn: given)).Errors);

        Assert.Equal("expiresIn", error.Field);
        Assert.Equal(given, error.Value);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains("such as P30D", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_instant_and_a_duration_together_are_refused()
    {
        var error = Assert.Single(_validator.Validate(Request(expiresAt: "2027-01-01T00:00:00Z", expiresIn: "P30D")).Errors);

        Assert.Equal("expiresIn", error.Field);
        Assert.Contains("not both", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2026-12-05T11:00:00Z", "2026-12-05T11:00:00Z")]
    [InlineData("2026-12-05T11:00:00.0000001Z", "2026-12-05T12:00:00Z")]
    [InlineData("2026-12-05T10:40:00Z", "2026-12-05T11:00:00Z")]
    [InlineData("2026-12-05T12:59:59+02:00", "2026-12-05T11:00:00Z")]
    public void An_expiry_takes_effect_at_the_end_of_its_UTC_hour(string expiresAt, string takesEffect)
    {
        var at = GrantExpiry.ReadStored(expiresAt)!.Value;

        Assert.Equal(takesEffect, GrantExpiry.Format(GrantExpiry.TakesEffectAt(at)));
    }

    [Fact]
    public void The_grant_event_carries_its_expiry_in_UTC_and_a_grant_without_one_carries_none()
    {
        var target = GrantTarget.From(FakePolarGateway.Meter("API Calls", MeterFilter.NameEquals("api_usage"), MeterAggregation.Sum("units")));
        var expiring = new CreditGrant(new GrantId("g-1"), CustomerRef.External("user-1"), 5, "API Calls", null, "http",
            new DateTimeOffset(2027, 2, 1, 0, 0, 0, TimeSpan.FromHours(1)));

        var withExpiry = GrantService.BuildEvent(expiring, target, null);
        var without = GrantService.BuildEvent(expiring with { ExpiresAt = null }, target, null);

        Assert.Equal("2027-01-31T23:00:00Z", withExpiry.Metadata![CreditGrants.Lifecycle.GrantMetadata.ExpiresAt].GetString());
        Assert.False(without.Metadata!.ContainsKey(CreditGrants.Lifecycle.GrantMetadata.ExpiresAt));
    }

    [Fact]
    public async Task A_bulk_row_takes_its_expiry_from_the_expires_at_column_and_a_bad_one_is_rejected_at_its_line()
    {
        const string csv = "external_customer_id,units,expires_at\nuser-1,10,2027-01-31T23:00:00Z\nuser-2,10,\nuser-3,10,2027-01-31\n";
        var rows = await ReadRowsAsync(csv);

        Assert.Equal("2027-01-31T23:00:00Z", GrantExpiry.Format(rows[0].Grant!.ExpiresAt!.Value));
        Assert.Null(rows[1].Grant!.ExpiresAt);
        Assert.False(rows[2].IsValid);
        Assert.Equal("line 4, column expires_at, value '2027-01-31': is a date without a time: its instant depends on the time zone; give " +
            GrantExpiry.AcceptedInstant, rows[2].Rejection);
    }

    [Fact]
    public void A_campaigns_grants_expire_after_their_occurrence()
    {
        var validation = new CampaignValidator(new GrantOptions()).Validate(
            """{"id":"spring","units":5,"schedule":{"once":"2027-03-01T09:00:00Z"},"audience":{"externalIds":["user-1"]},"grantPolicy":"oncePerCustomer","expiresAfter":"P30D"}""");

        Assert.True(validation.IsValid, string.Join("; ", validation.Errors));
        Assert.Equal(TimeSpan.FromDays(30), validation.Campaign!.ExpiresAfter);
        Assert.Equal(new DateTimeOffset(2027, 3, 31, 9, 0, 0, TimeSpan.Zero), validation.Campaign.ExpiryOf(new DateTimeOffset(2027, 3, 1, 9, 0, 0, TimeSpan.Zero)));
    }

    [Theory]
    [InlineData("P1M")]
    [InlineData("30d")]
    [InlineData("P")]
    public void A_campaign_expiry_of_calendar_length_or_not_a_duration_is_refused_at_its_path(string given)
    {
        var validation = new CampaignValidator(new GrantOptions()).Validate(
            $$"""{"id":"spring","units":5,"schedule":{"once":"2027-03-01T09:00:00Z"},"audience":{"externalIds":["user-1"]},"grantPolicy":"oncePerCustomer","expiresAfter":"{{given}}"}""");

        var error = Assert.Single(validation.Errors);
        Assert.Equal("$.expiresAfter", error.Path);
        Assert.Contains("such as P30D or PT12H (no years or months)", error.Message, StringComparison.Ordinal);
    }

    private Task<List<BulkRow>> ReadRowsAsync(string csv) => BulkRows.ReadAsync(csv, _validator);
}
