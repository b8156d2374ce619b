using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging.Abstractions;

namespace CreditGrants.Tests;

public sealed class GrantServiceTests
{
    private readonly FakePolarGateway _polar = new();
    private readonly GrantService _service;

    public GrantServiceTests() => _service = new GrantService(_polar, TestDirectory.Create(_polar), TimeProvider.System, NullLogger<GrantService>.Instance);

    private static CreditGrant Grant(string grantId = "g-1", string externalId = "user-1", string? email = null, decimal units = 25,
        string meter = "API Calls", string? reason = null) =>
        new(new GrantId(grantId), CustomerRef.External(externalId, email), units, meter, reason, "test");

    [Fact]
    public async Task Grant_sends_one_event_with_the_negated_units_under_the_meters_property()
    {
        var customer = _polar.AddCustomer("ada@lovelace.dev", "user-1");

        await _service.GrantAsync(Grant(units: 25, reason: "trial"));

        var sent = Assert.Single(_polar.Ingested);
        Assert.Equal("api_usage", sent.Name);
        Assert.Equal(customer.Id, sent.CustomerId);
        Assert.Null(sent.ExternalCustomerId);
        Assert.Equal(new GrantId("g-1").EventId, sent.ExternalId);
        Assert.Null(sent.Timestamp);
        Assert.Equal(-25m, sent.Metadata!["units"].GetDecimal());
        Assert.Equal("g-1", sent.Metadata["grant_id"].GetString());
        Assert.Equal("trial", sent.Metadata["grant_reason"].GetString());
        Assert.Equal("test", sent.Metadata["grant_source"].GetString());
    }

    [Fact]
    public async Task Grant_with_same_id_twice_grants_once()
    {
        _polar.AddCustomer("ada@lovelace.dev", "user-1");

        var first = await _service.GrantAsync(Grant());
        var second = await _service.GrantAsync(Grant());

        Assert.Equal(GrantStatus.Granted, first.Status);
        Assert.Equal(GrantStatus.Duplicate, second.Status);
        Assert.Single(_polar.Ingested);
        Assert.Equal(first.EventId, second.EventId);
    }

    [Fact]
    public async Task A_missing_customer_with_an_email_is_created()
    {
        var outcome = await _service.GrantAsync(Grant(email: "ada@lovelace.dev"));

        var created = Assert.Single(_polar.Customers);
        Assert.True(outcome.CustomerCreated);
        Assert.Equal(created.Id, outcome.CustomerId);
        Assert.Equal("user-1", created.ExternalId);
    }

    [Fact]
    public async Task An_existing_customer_is_not_created_again_and_the_grant_goes_to_it_by_external_id()
    {
        var existing = _polar.AddCustomer("ada@lovelace.dev", "user-1");

        var outcome = await _service.GrantAsync(Grant(email: "ada@lovelace.dev"));

        // One create, answered "external ID already exists": the customer is there, and nothing else is read.
        Assert.Equal(existing, Assert.Single(_polar.Customers));
        Assert.False(outcome.CustomerCreated);
        Assert.True(outcome.CustomerExists);
        var sent = Assert.Single(_polar.Ingested);
        Assert.Equal(("user-1", (Guid?)null), (sent.ExternalCustomerId, sent.CustomerId));
    }

    [Fact]
    public async Task A_create_that_loses_a_race_grants_to_the_winner_by_external_id()
    {
        _polar.BeforeCreate = create => _polar.AddCustomer(create.Email, create.ExternalId);

        var outcome = await _service.GrantAsync(Grant(email: "ada@lovelace.dev"));

        Assert.Single(_polar.Customers);
        Assert.False(outcome.CustomerCreated);
        Assert.True(outcome.CustomerExists);
        Assert.Equal("user-1", Assert.Single(_polar.Ingested).ExternalCustomerId);
    }

    [Fact]
    public async Task An_email_of_another_customer_is_a_conflict_naming_both()
    {
        var owner = _polar.AddCustomer("ada@lovelace.dev", "someone-else");

        var error = await Assert.ThrowsAsync<GrantException>(() => _service.GrantAsync(Grant(email: "ADA@lovelace.dev")));

        Assert.Equal(GrantErrorKind.CustomerConflict, error.Kind);
        Assert.Contains(owner.Id.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("someone-else", error.Message, StringComparison.Ordinal);
        Assert.Contains("user-1", error.Message, StringComparison.Ordinal);
        Assert.Empty(_polar.Ingested);
    }

    [Fact]
    public async Task A_missing_customer_without_an_email_is_granted_by_external_id()
    {
        var outcome = await _service.GrantAsync(Grant());

        var sent = Assert.Single(_polar.Ingested);
        Assert.Null(sent.CustomerId);
        Assert.Equal("user-1", sent.ExternalCustomerId);
        Assert.False(outcome.CustomerExists);
        Assert.Null(outcome.CustomerId);
        Assert.Empty(_polar.Customers);
    }

    [Fact]
    public async Task An_unknown_polar_customer_id_is_not_found()
    {
        var grant = Grant() with { Customer = CustomerRef.Polar(Guid.NewGuid()) };

        var error = await Assert.ThrowsAsync<GrantException>(() => _service.GrantAsync(grant));

        Assert.Equal(GrantErrorKind.CustomerNotFound, error.Kind);
    }

    [Fact]
    public async Task A_meter_whose_filter_would_not_count_the_grant_refuses_it_and_sends_nothing()
    {
        var filter = new MeterFilter("and",
        [
            new MeterFilterClause("name", "eq", JsonSerializer.SerializeToElement("api_usage")),
            new MeterFilterClause("metadata.tier", "eq", JsonSerializer.SerializeToElement("pro")),
        ]);
        _polar.Meters.Add(FakePolarGateway.Meter("Pro Calls", filter, MeterAggregation.Sum("units")));

        var error = await Assert.ThrowsAsync<MeterNotGrantableException>(() => _service.GrantAsync(Grant(meter: "Pro Calls")));

        Assert.Equal(MeterProblem.FilterRejects, error.Problem);
        Assert.Contains("metadata.tier eq \"pro\"", error.Message, StringComparison.Ordinal);
        Assert.Empty(_polar.Ingested);
    }

    [Fact]
    public async Task A_count_meter_cannot_take_grants()
    {
        _polar.Meters.Add(FakePolarGateway.Meter("Requests", MeterFilter.NameEquals("api_usage"), new MeterAggregation("count")));

        var error = await Assert.ThrowsAsync<MeterNotGrantableException>(() => _service.GrantAsync(Grant(meter: "Requests")));

        Assert.Equal(MeterProblem.NotSummable, error.Problem);
        Assert.Empty(_polar.Ingested);
    }

    [Fact]
    public async Task The_balance_shows_granted_credit_as_positive()
    {
        _polar.AddCustomer("ada@lovelace.dev", "user-1");
        await _service.GrantAsync(Grant(units: 40));

        var balance = await new BalanceService(_polar).GetBalanceAsync("user-1", "API Calls");

        Assert.Equal(40m, balance.Balance);
        Assert.Equal(-40m, balance.ConsumedUnits);
    }

    [Fact]
    public async Task The_balance_of_an_unknown_customer_is_not_found()
    {
        var error = await Assert.ThrowsAsync<GrantException>(() => new BalanceService(_polar).GetBalanceAsync("nobody", "API Calls"));

        Assert.Equal(GrantErrorKind.CustomerNotFound, error.Kind);
    }
}
