using CreditFunctions.Tests.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Storage;
using CreditGrants.Storage.Campaigns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PolarEmulator;

namespace CreditFunctions.Tests;

/// <summary>Campaign state in the app's table on Azurite: optimistic writes, and runs that overlap on one budget.</summary>
public sealed class CampaignTableTests
{
    private static TableCampaignStateStore Store(string table) =>
        new(() => StorageAccount.FromConnectionString(BulkApp.StorageConnection), Options.Create(new CampaignOptions { StateTable = table }));

    private static string UniqueTable() => "camp" + Guid.NewGuid().ToString("N")[..16];

    [Fact]
    public async Task A_write_against_a_stale_version_fails()
    {
        var store = Store(UniqueTable());
        await store.EnsureCreatedAsync(CancellationToken.None);
        try
        {
            Assert.True(await store.TryWriteAsync(CampaignState.New("c") with { Grants = 1 }, null));
            var read = await store.ReadAsync("c");

            Assert.True(await store.TryWriteAsync(read.State with { Grants = 2 }, read.Version));
            Assert.False(await store.TryWriteAsync(read.State with { Grants = 3 }, read.Version));
            Assert.False(await store.TryWriteAsync(CampaignState.New("c"), null));
            Assert.Equal(2, (await store.ReadAsync("c")).State.Grants);
        }
        finally
        {
            await store.Table.DeleteAsync();
        }
    }

    [Fact]
    public async Task Two_runners_on_one_table_grant_each_customer_once_within_the_budget()
    {
        var seeds = Enumerable.Range(1, 30).Select(i => new EmulatorCustomerSeed($"user-{i}", $"user-{i}@lovelace.dev", null,
            new Dictionary<string, string> { ["plan"] = "free" }, HasActiveSubscription: false)).ToList();
        await using var first = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, CustomerSeeds = seeds });
        var table = UniqueTable();
        var store = Store(table);
        await store.EnsureCreatedAsync(CancellationToken.None);
        try
        {
            var validation = first.Services.GetRequiredService<CampaignValidator>().Validate("""
                {"id":"overlap","units":100,"schedule":{"once":"2026-01-01T00:00:00Z"},"audience":{"allCustomers":{"metadata":{"plan":"free"}}},
                 "grantPolicy":"oncePerCustomer","budget":{"maxTotalUnits":2000}}
                """);
            var campaign = validation.Campaign!;
            var runner = first.Services.GetRequiredService<CampaignRunner>();
            var at = TimeProvider.System.GetUtcNow();

            // Two runs at once (two instances of the timer), then a retry: one budget, one record of the occurrence.
            var results = await Task.WhenAll(
                Task.Run(() => runner.RunAsync(campaign, store, at)),
                Task.Run(() => runner.RunAsync(campaign, Store(table), at)));
            var retry = await runner.RunAsync(campaign, store, at);

            var polar = first.Services.GetRequiredService<IPolarGateway>();
            var meter = (await polar.FindMeterAsync(first.Services.GetRequiredService<IOptions<GrantOptions>>().Value.DefaultMeter))!;
            var balances = 0m;
            foreach (var seed in seeds)
            {
                var customer = (await polar.FindCustomerByExternalIdAsync(seed.ExternalId))!;
                balances += (await polar.GetCustomerMeterAsync(customer.Id, meter.Id))?.Balance ?? 0;
            }

            Assert.Equal(2000m, balances);
            Assert.Equal(20, results.Sum(r => r.Granted));
            Assert.Empty(retry.Occurrences);
            var state = (await store.ReadAsync("overlap")).State;
            Assert.Equal((2000m, 20L, 0m, 0L, true), (state.UnitsGranted, state.Grants, state.UnitsReserved, state.GrantsReserved, state.Exhausted));
        }
        finally
        {
            await store.Table.DeleteAsync();
        }
    }
}
