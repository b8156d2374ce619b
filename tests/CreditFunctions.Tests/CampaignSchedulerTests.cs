using CreditFunctions.Functions;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Storage.Campaigns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PolarEmulator;

namespace CreditFunctions.Tests;

/// <summary>The campaign timer against Azurite and the emulator: documents in the container, grants through the bulk queue.</summary>
public sealed class CampaignSchedulerTests
{
    private static readonly List<EmulatorCustomerSeed> Seeds = [.. Enumerable.Range(1, 5).Select(i => new EmulatorCustomerSeed($"user-{i}",
        $"user-{i}@lovelace.dev", null, new Dictionary<string, string> { ["plan"] = i <= 3 ? "free" : "pro" }, HasActiveSubscription: false))];

    private static async Task<BulkApp> StartAsync()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        return await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, CustomerSeeds = Seeds }, settings: new()
        {
            ["Campaigns:Container"] = $"campaigns-{id}",
            ["Campaigns:StateTable"] = $"campaignstate{id}",
        });
    }

    private static async Task UploadAsync(BulkApp app, string name, string json)
    {
        var scheduler = app.Services.GetRequiredService<CampaignScheduler>();
        await scheduler.Container.CreateIfNotExistsAsync();
        await scheduler.Container.GetBlobClient(name).UploadAsync(BinaryData.FromString(json), overwrite: true);
    }

    private static async Task CleanUpAsync(BulkApp app)
    {
        await app.Services.GetRequiredService<CampaignScheduler>().Container.DeleteIfExistsAsync();
        await app.Services.GetRequiredService<TableCampaignStateStore>().Table.DeleteAsync();
    }

    private const string Launch = """
        {"id":"launch","units":250,"schedule":{"once":"2026-01-01T00:00:00Z"},"audience":{"allCustomers":{"metadata":{"plan":"free"}}},
         "grantPolicy":"oncePerCustomer","budget":{"maxGrants":10}}
        """;

    [Fact]
    public async Task Timer_enqueues_the_due_occurrence_as_a_bulk_job_whose_grants_settle_the_budget()
    {
        await using var app = await StartAsync();
        try
        {
            await UploadAsync(app, "launch.json", Launch);
            var function = new RunCampaigns(app.Services.GetRequiredService<CampaignScheduler>());

            await function.Run(new Microsoft.Azure.Functions.Worker.TimerInfo(), CancellationToken.None);
            var pending = (await app.Services.GetRequiredService<TableCampaignStateStore>().ReadAsync("launch")).State;
            await app.DrainAsync();
            await function.Run(new Microsoft.Azure.Functions.Worker.TimerInfo(), CancellationToken.None);
            var settled = (await app.Services.GetRequiredService<TableCampaignStateStore>().ReadAsync("launch")).State;

            var job = Assert.Single(pending.PendingJobs);
            Assert.Equal((3L, 0L), (pending.GrantsReserved, pending.Grants));
            var status = await app.StatusAsync(job.JobId);
            Assert.Equal((3L, "campaign:launch:2026-01-01T00:00:00Z"), (status.Totals.Granted, status.Batch));
            Assert.NotNull(status.Results);
            Assert.Empty(settled.PendingJobs);
            Assert.Equal((3L, 750m, 0L), (settled.Grants, settled.UnitsGranted, settled.GrantsReserved));
            var occurrence = Assert.Single(settled.Occurrences);
            Assert.Equal((3L, job.JobId), (occurrence.Granted, occurrence.JobId));
            var polar = app.Services.GetRequiredService<IPolarGateway>();
            var meter = (await polar.FindMeterAsync(app.Services.GetRequiredService<IOptions<GrantOptions>>().Value.DefaultMeter))!;
            var customer = (await polar.FindCustomerByExternalIdAsync("user-1"))!;
            Assert.Equal(250m, (await polar.GetCustomerMeterAsync(customer.Id, meter.Id))!.Balance);
        }
        finally
        {
            await CleanUpAsync(app);
        }
    }

    [Fact]
    public async Task Invalid_document_is_recorded_and_the_other_campaigns_still_run()
    {
        await using var app = await StartAsync();
        try
        {
            await UploadAsync(app, "broken.json", """{"id":"broken","units":-1}""");
            await UploadAsync(app, "launch.json", Launch);

            var ticks = await app.Services.GetRequiredService<CampaignScheduler>().RunAsync(CancellationToken.None);

            var broken = Assert.Single(ticks, t => t.Blob == "broken.json");
            Assert.Contains("$.units", broken.Error, StringComparison.Ordinal);
            var state = (await app.Services.GetRequiredService<TableCampaignStateStore>().ReadAsync("broken")).State;
            Assert.StartsWith("invalid document:", state.LastError, StringComparison.Ordinal);
            Assert.Null(Assert.Single(ticks, t => t.Blob == "launch.json").Error);
        }
        finally
        {
            await CleanUpAsync(app);
        }
    }

    [Fact]
    public async Task A_later_occurrence_of_a_once_per_customer_campaign_reserves_no_budget_for_customers_granted_before()
    {
        // Daily, once per customer, room for 6 grants: the first day grants the 5 customers; the second finds them all granted
        // and must not reserve 5 more (which would not fit and would mark the campaign exhausted).
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow.Date.AddDays(-3).AddHours(1));
        var id = Guid.NewGuid().ToString("N")[..12];
        await using var app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, CustomerSeeds = Seeds }, settings: new()
        {
            ["Campaigns:Container"] = $"campaigns-{id}",
            ["Campaigns:StateTable"] = $"campaignstate{id}",
        }, services: s => s.AddSingleton<TimeProvider>(clock));
        try
        {
            var start = clock.GetUtcNow().AddHours(-2).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
            await UploadAsync(app, "daily.json", $$$"""
                {"id":"daily","units":10,"schedule":{"cron":"0 0 * * *"},"startsAt":"{{{start}}}","audience":{"allCustomers":{}},
                 "grantPolicy":"oncePerCustomer","budget":{"maxGrants":6}}
                """);
            var scheduler = app.Services.GetRequiredService<CampaignScheduler>();
            clock.Advance(TimeSpan.FromDays(1));
            await scheduler.RunAsync(CancellationToken.None);
            await app.DrainAsync();
            clock.Advance(TimeSpan.FromDays(1));

            await scheduler.RunAsync(CancellationToken.None);
            await app.DrainAsync();
            await scheduler.RunAsync(CancellationToken.None);

            var state = (await app.Services.GetRequiredService<TableCampaignStateStore>().ReadAsync("daily")).State;
            Assert.False(state.Exhausted);
            Assert.Equal((5L, 0L), (state.Grants, state.GrantsReserved));
            Assert.Equal(5, state.Occurrences.OrderBy(o => o.Occurrence).Last().Duplicates);
        }
        finally
        {
            await CleanUpAsync(app);
        }
    }
}
