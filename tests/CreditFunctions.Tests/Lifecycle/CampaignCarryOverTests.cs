using System.Text.Json;
using CreditFunctions.Functions;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Storage.Campaigns;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests.Lifecycle;

/// <summary>In the app a campaign's grants go as a bulk job: a campaign with <c>carryOver</c> writes the job's <c>carry_over</c> column, and every grant event is flagged.</summary>
public sealed class CampaignCarryOverTests
{
    [Fact]
    public async Task A_campaign_with_carryOver_grants_through_its_job_with_every_grant_flagged_to_survive_resets()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        var seeds = Enumerable.Range(1, 3).Select(i => new EmulatorCustomerSeed($"carry-{i}", $"carry-{i}@lovelace.dev", null,
            new Dictionary<string, string>(), HasActiveSubscription: false)).ToList();
        await using var app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, CustomerSeeds = seeds }, settings: new()
        {
            ["Campaigns:Container"] = $"campaigns-{id}",
            ["Campaigns:StateTable"] = $"campaignstate{id}",
        });
        var scheduler = app.Services.GetRequiredService<CampaignScheduler>();
        var once = DateTimeOffset.UtcNow.AddMinutes(-1).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            await scheduler.Container.CreateIfNotExistsAsync();
            await scheduler.Container.GetBlobClient("promo.json").UploadAsync(BinaryData.FromString($$$"""
                {"id":"promo","units":25,"schedule":{"once":"{{{once}}}"},"audience":{"allCustomers":{}},
                 "grantPolicy":"oncePerCustomer","carryOver":true}
                """));

            await new RunCampaigns(scheduler).Run(new Microsoft.Azure.Functions.Worker.TimerInfo(), CancellationToken.None);
            await app.DrainAsync();

            var polar = app.Services.GetRequiredService<IPolarGateway>();
            var listed = await polar.ListEventsAsync(new CreditGrants.Polar.Models.EventListQuery(Source: "user", Limit: 100));
            // The app's campaign jobs name each grant campaign:<id>:<target>.
            var grants = listed.Items.Where(e => e.Metadata?.TryGetValue(GrantMetadata.GrantId, out var grantId) == true
                && grantId.GetString()!.StartsWith("campaign:promo:", StringComparison.Ordinal)).ToList();
            Assert.Equal(3, grants.Count);
            Assert.All(grants, e => Assert.Equal(JsonValueKind.True, e.Metadata![GrantMetadata.CarryOver].ValueKind));
        }
        finally
        {
            await scheduler.Container.DeleteIfExistsAsync();
            await app.Services.GetRequiredService<TableCampaignStateStore>().Table.DeleteAsync();
        }
    }
}
