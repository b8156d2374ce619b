using System.Text.Json;
using CreditGrants.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Expiry;
using CreditGrants.Grants;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Tests.Expiry;

/// <summary>A campaign's <c>expiresAfter</c>: each grant expires after its occurrence (never after the run), recorded in the index as it is sent.</summary>
public sealed class CampaignExpiryTests : IDisposable
{
    /// <summary>09:00 in Berlin on a Monday: the occurrence of the weekly sample campaign.</summary>
    private static readonly DateTimeOffset Occurrence = new(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Occurrence.AddMinutes(3));
    private readonly FakePolarGateway _polar = new();
    private readonly InMemoryExpiryIndex _index = new();
    private readonly string _stateDirectory = Directory.CreateTempSubdirectory("campaign-expiry-").FullName;

    public CampaignExpiryTests()
    {
        foreach (var id in new[] { "user-1", "user-2" })
        {
            _polar.Customers.Add(new Customer(Guid.NewGuid(), $"{id}@lovelace.dev", null, id, "individual", Occurrence.AddDays(-30), null,
                new Dictionary<string, JsonElement> { ["plan"] = JsonSerializer.SerializeToElement("free") }));
        }
    }

    public void Dispose() => Directory.Delete(_stateDirectory, recursive: true);

    private Task<CampaignRunResult> RunAsync(string expiresAfter)
    {
        var document = CreditGrants.Tests.Campaigns.CampaignJson.Weekly();
        document["startsAt"] = "2026-11-01T00:00:00Z";
        document["expiresAfter"] = expiresAfter;
        var directory = TestDirectory.Create(_polar, _time);
        var runner = new CampaignRunner(new BulkChunkProcessor(_polar, directory, _time, NullLogger<BulkChunkProcessor>.Instance, _index), _polar,
            new CampaignAudienceReader(_polar, directory), _time, NullLogger<CampaignRunner>.Instance);
        return runner.RunAsync(CreditGrants.Tests.Campaigns.CampaignJson.Valid(document), new FileCampaignStateStore(_stateDirectory), _time.GetUtcNow());
    }

    [Fact]
    public async Task Each_grant_expires_its_duration_after_the_occurrence_and_is_in_the_index()
    {
        var result = await RunAsync("PT2H30M");

        Assert.Equal(2, result.Granted);
        Assert.All(_polar.Ingested, e => Assert.Equal("2026-12-07T10:30:00Z", e.Metadata![CreditGrants.Lifecycle.GrantMetadata.ExpiresAt].GetString()));
        Assert.Equal([Occurrence.AddHours(3), Occurrence.AddHours(3)], _index.Entries.Select(e => e.TakesEffectAt));
    }

    [Fact]
    public async Task An_occurrence_run_after_its_grants_would_have_expired_grants_nothing()
    {
        _time.Advance(TimeSpan.FromHours(3));

        var result = await RunAsync("PT2H");

        Assert.Equal((0L, 2L), (result.Granted, result.Rejected));
        Assert.Empty(_polar.Ingested);
        Assert.Empty(_index.Entries);
    }
}
