using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Polar.Events;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Tests.Lifecycle;

/// <summary>The compensating event of a revocation or an expiry: its shape, its derived id, and idempotence.</summary>
public sealed class GrantCompensationTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly FakePolarGateway _polar = new();
    private readonly GrantCompensation _compensation;

    public GrantCompensationTests() =>
        _compensation = new GrantCompensation(_polar, new FakeTimeProvider(Now), NullLogger<GrantCompensation>.Instance);

    private static CompensationRequest Revoke(string grantId, decimal units, decimal? unspent = null) =>
        new(grantId, CompensationKind.Revoked, CustomerRef.External("user-42"), "API Calls", units, unspent ?? units,
            Now.AddMinutes(-1), "http", "wrong customer");

    private static string Text(IReadOnlyDictionary<string, JsonElement> metadata, string key) => metadata[key].GetString()!;

    [Fact]
    public async Task A_revocation_is_one_event_with_positive_units_a_derived_id_and_the_lifecycle_metadata()
    {
        var outcome = await _compensation.CompensateAsync(Revoke("welcome-42", 40, unspent: 40));

        Assert.Equal(CompensationStatus.Ingested, outcome.Status);
        var sent = Assert.Single(_polar.Ingested);
        var expectedId = DerivedGrantId.Of(GrantIdDomain.Revocation, "welcome-42");
        Assert.Equal("api_usage", sent.Name);
        Assert.Equal("user-42", sent.ExternalCustomerId);
        Assert.Equal(expectedId.EventId, sent.ExternalId);
        Assert.Equal(Now.AddMinutes(-1), sent.Timestamp);
        var metadata = sent.Metadata!;
        Assert.Equal(40m, metadata["units"].GetDecimal());
        Assert.Equal(expectedId.Value, Text(metadata, "grant_id"));
        Assert.Equal("welcome-42", Text(metadata, "grant_compensates"));
        Assert.Equal("revoked", Text(metadata, "grant_compensation"));
        Assert.Equal(40m, metadata["grant_unspent"].GetDecimal());
        Assert.Equal("API Calls", Text(metadata, "grant_meter"));
        Assert.Equal("http", Text(metadata, "grant_source"));
        Assert.Equal("wrong customer", Text(metadata, "grant_reason"));
        Assert.Null(PolarEventRules.Check(sent, Now));
    }

    [Fact]
    public async Task An_expiry_has_an_id_of_its_own_domain_so_it_never_collides_with_the_revocation()
    {
        var expiry = await _compensation.CompensateAsync(Revoke("welcome-42", 10) with { Kind = CompensationKind.Expired });
        var revocation = await _compensation.CompensateAsync(Revoke("welcome-42", 10));

        Assert.Equal(CompensationStatus.Ingested, expiry.Status);
        Assert.Equal(CompensationStatus.Ingested, revocation.Status);
        Assert.StartsWith("ex_", expiry.CompensationGrantId, StringComparison.Ordinal);
        Assert.Equal("expired", Text(_polar.Ingested[0].Metadata!, "grant_compensation"));
        Assert.Equal(2, _polar.Ingested.Count);
    }

    [Fact]
    public async Task The_same_compensation_twice_is_one_event_and_the_repeat_names_the_first()
    {
        await _compensation.CompensateAsync(Revoke("welcome-42", 40));

        var again = await _compensation.CompensateAsync(Revoke("welcome-42", 40));

        Assert.Equal(CompensationStatus.Duplicate, again.Status);
        Assert.Equal(40m, again.Existing!.Units);
        Assert.Equal("welcome-42", again.Existing.Compensates);
        Assert.Single(_polar.Ingested);
    }

    [Fact]
    public async Task A_compensation_with_other_units_after_the_first_changes_nothing_and_says_what_was_made()
    {
        await _compensation.CompensateAsync(Revoke("welcome-42", 40));

        var other = await _compensation.CompensateAsync(Revoke("welcome-42", 25));

        Assert.Equal(CompensationStatus.Different, other.Status);
        Assert.Contains("taking back 40 units", other.Reason, StringComparison.Ordinal);
        Assert.Single(_polar.Ingested);
    }

    [Fact]
    public async Task A_timestamp_in_the_future_is_sent_as_now_and_negative_units_are_refused()
    {
        await _compensation.CompensateAsync(Revoke("g-1", 5) with { Timestamp = Now.AddHours(1) });

        Assert.Equal(Now, _polar.Ingested[0].Timestamp);
        await Assert.ThrowsAsync<ArgumentException>(() => _compensation.CompensateAsync(Revoke("g-2", -1)));
    }
}
