using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Functions;
using CreditFunctions.Http;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Storage.Campaigns;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests.Lifecycle;

/// <summary>
/// <c>POST /api/campaigns/{campaignId}/occurrences/{occurrence}/revoke</c> (issue #20): the app finds the occurrence's bulk job
/// in its campaign state and takes back what each of its grants has unspent; twice changes nothing; a dry run sends nothing;
/// an unknown campaign or occurrence is 404 saying why.
/// </summary>
public sealed class CampaignRevokeApiTests : IAsyncLifetime
{
    private const string Launch = """
        {"id":"launch","units":250,"schedule":{"once":"2026-01-01T00:00:00Z"},"audience":{"allCustomers":{}},"grantPolicy":"oncePerCustomer"}
        """;

    private BulkApp _app = null!;

    public async Task InitializeAsync()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        _app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = 3 }, settings: new()
        {
            ["Campaigns:Container"] = $"campaigns-{id}",
            ["Campaigns:StateTable"] = $"campaignstate{id}",
        });
        var scheduler = _app.Services.GetRequiredService<CampaignScheduler>();
        await scheduler.Container.CreateIfNotExistsAsync();
        await scheduler.Container.GetBlobClient("launch.json").UploadAsync(BinaryData.FromString(Launch), overwrite: true);
        var timer = new RunCampaigns(scheduler);
        await timer.Run(new Microsoft.Azure.Functions.Worker.TimerInfo(), CancellationToken.None);
        await _app.DrainAsync();
        await timer.Run(new Microsoft.Azure.Functions.Worker.TimerInfo(), CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _app.Services.GetRequiredService<CampaignScheduler>().Container.DeleteIfExistsAsync();
        await _app.Services.GetRequiredService<TableCampaignStateStore>().Table.DeleteAsync();
        await _app.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> RevokeAsync(string campaign, string occurrence, string body)
    {
        var answer = await _app.Services.GetRequiredService<CampaignRevokeApi>().RevokeAsync(campaign, occurrence, new MemoryStream(Encoding.UTF8.GetBytes(body)),
            new Uri($"https://app.example/api/campaigns/{campaign}/occurrences/{occurrence}/revoke"), CancellationToken.None);
        using var document = JsonDocument.Parse(answer.Body);
        return (answer.Status, document.RootElement.Clone());
    }

    [Fact]
    public async Task Revoking_an_occurrence_takes_its_grants_back_and_a_second_time_changes_nothing()
    {
        Assert.Equal(250m, await _app.BalanceAsync("user-2"));

        var (status, first) = await RevokeAsync("launch", "2026-01-01T00:00:00Z", """{"reason":"launched by mistake"}""");
        var events = _app.Emulator.EventCount;
        var (again, second) = await RevokeAsync("launch", "20260101T000000Z", """{"reason":"launched by mistake"}""");

        Assert.True(status == HttpStatusCode.OK, first.ToString());
        Assert.True(first.GetProperty("revoked").GetInt64() == 3, first.ToString());
        Assert.Equal("launch.20260101T000000Z", first.GetProperty("revoking").GetString());
        Assert.Equal((3L, 750m), (first.GetProperty("revoked").GetInt64(), first.GetProperty("unitsRevoked").GetDecimal()));
        Assert.All(first.GetProperty("items").EnumerateArray(), r => Assert.StartsWith("campaign:launch:", r.GetProperty("grantId").GetString(), StringComparison.Ordinal));
        Assert.Equal(0m, await _app.BalanceAsync("user-2"));
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal((3L, 0m), (second.GetProperty("alreadyRevoked").GetInt64(), second.GetProperty("unitsRevoked").GetDecimal()));
        Assert.Equal(events, _app.Emulator.EventCount);
    }

    [Fact]
    public async Task A_dry_run_says_what_each_grant_would_give_back_and_sends_nothing()
    {
        var events = _app.Emulator.EventCount;

        var (status, body) = await RevokeAsync("launch", "2026-01-01T00:00:00Z", """{"reason":"checking","dryRun":true}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((3L, 750m), (body.GetProperty("wouldRevoke").GetInt64(), body.GetProperty("unitsWouldRevoke").GetDecimal()));
        Assert.Equal(events, _app.Emulator.EventCount);
        Assert.Equal(250m, await _app.BalanceAsync("user-1"));
    }

    [Fact]
    public async Task An_unknown_campaign_is_404_saying_no_campaign_of_that_id_has_run()
    {
        var (status, problem) = await RevokeAsync("nope", "2026-01-01T00:00:00Z", """{"reason":"x"}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("urn:credit-functions:problem:campaign-not-found", problem.GetProperty("type").GetString());
        Assert.Contains("'nope'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_occurrence_the_campaign_never_had_is_404_naming_the_occurrences_it_had()
    {
        var (status, problem) = await RevokeAsync("launch", "2026-02-01T00:00:00Z", """{"reason":"x"}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("urn:credit-functions:problem:campaign-occurrence-not-found", problem.GetProperty("type").GetString());
        Assert.Contains("2026-01-01T00:00:00Z", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Launch", "2026-01-01T00:00:00Z", """{"reason":"x"}""", "campaignId")]
    [InlineData("launch\u200b", "2026-01-01T00:00:00Z", """{"reason":"x"}""", "campaignId")]
    [InlineData("launch", "yesterday", """{"reason":"x"}""", "occurrence")]
    [InlineData("launch", "2026-01-01T00:00:00Z", """{"dryRun":true}""", "reason")]
    public async Task A_bad_id_occurrence_or_body_is_400_naming_the_field(string campaign, string occurrence, string body, string field)
    {
        var events = _app.Emulator.RequestCount;

        var (status, problem) = await RevokeAsync(campaign, occurrence, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(problem.GetProperty("errors").EnumerateArray(), e => e.GetProperty("field").GetString() == field);
        Assert.Equal(events, _app.Emulator.RequestCount);
    }
}
