using CreditFunctions.Functions;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Expiry;
using CreditGrants.Polar;
using CreditGrants.Storage.Campaigns;
using CreditGrants.Storage.Expiry;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests.Expiry;

/// <summary>In the app a campaign's grants go as a bulk job: its file carries each grant's expiry, and the queue function records it in the table.</summary>
public sealed class CampaignJobExpiryTests
{
    [Fact]
    public async Task A_campaign_with_expiresAfter_grants_through_its_job_with_the_expiry_recorded_in_the_apps_index()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        var seeds = Enumerable.Range(1, 3).Select(i => new EmulatorCustomerSeed($"exp-{i}", $"exp-{i}@lovelace.dev", null,
            new Dictionary<string, string>(), HasActiveSubscription: false)).ToList();
        await using var app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, CustomerSeeds = seeds }, settings: new()
        {
            ["Campaigns:Container"] = $"campaigns-{id}",
            ["Campaigns:StateTable"] = $"campaignstate{id}",
            ["Expiry:Table"] = $"expiries{id}",
        });
        var scheduler = app.Services.GetRequiredService<CampaignScheduler>();
        var occurrence = DateTimeOffset.UtcNow.AddMinutes(-1);
        var once = occurrence.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            await scheduler.Container.CreateIfNotExistsAsync();
            await scheduler.Container.GetBlobClient("spring.json").UploadAsync(BinaryData.FromString($$$"""
                {"id":"spring","units":20,"schedule":{"once":"{{{once}}}"},"audience":{"allCustomers":{}},
                 "grantPolicy":"oncePerCustomer","expiresAfter":"P30D"}
                """));

            await new RunCampaigns(scheduler).Run(new Microsoft.Azure.Functions.Worker.TimerInfo(), CancellationToken.None);
            await app.DrainAsync();

            var expiresAt = new DateTimeOffset(occurrence.Year, occurrence.Month, occurrence.Day, occurrence.Hour, occurrence.Minute, occurrence.Second, TimeSpan.Zero)
                .AddDays(30);
            var due = await app.Services.GetRequiredService<IExpiryIndex>().DueAsync(expiresAt.AddHours(1), 10);
            // The job's rows name Polar's customer ids, as the campaign's targets were resolved.
            Assert.Equal(3, due.Count);
            Assert.All(due, e => Assert.NotNull(e.CustomerId));
            Assert.All(due, e => Assert.Equal(expiresAt, e.ExpiresAt));
            var events = await app.Services.GetRequiredService<IPolarGateway>().FindEventsByMetadataAsync("grant_id", [.. due.Select(e => e.GrantId)]);
            Assert.All(events.Events.Values, list => Assert.Equal(CreditGrants.Grants.GrantExpiry.Format(expiresAt),
                Assert.Single(list).Metadata![CreditGrants.Lifecycle.GrantMetadata.ExpiresAt].GetString()));
        }
        finally
        {
            await scheduler.Container.DeleteIfExistsAsync();
            await app.Services.GetRequiredService<TableCampaignStateStore>().Table.DeleteAsync();
            await ((TableExpiryIndex)app.Services.GetRequiredService<IExpiryIndex>()).Table.DeleteAsync();
        }
    }
}
