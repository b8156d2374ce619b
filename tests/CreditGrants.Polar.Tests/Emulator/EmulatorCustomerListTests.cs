using System.Text.Json;
using CreditGrants.Polar.Models;
using PolarEmulator;

namespace CreditGrants.Polar.Tests.Emulator;

/// <summary>Listing customers through the gateway: metadata and <c>active</c> filters, sorting and pages, as campaigns use them.</summary>
public sealed class EmulatorCustomerListTests
{
    private static Dictionary<string, string> Plan(string plan) => new Dictionary<string, string> { ["plan"] = plan };

    [Fact]
    public async Task Metadata_and_active_filters_reach_Polar()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions
        {
            CustomerSeeds =
            [
                new("free-idle", "idle@lovelace.dev", null, Plan("free"), HasActiveSubscription: false),
                new("free-trial", "trial@lovelace.dev", null, Plan("free"), HasActiveSubscription: true),
                new("pro", "pro@lovelace.dev", null, Plan("pro"), HasActiveSubscription: true),
            ],
        });

        var page = await polar.Gateway.ListCustomersAsync(new CustomerListQuery(Metadata: Plan("free"), Active: false));

        Assert.Equal(["free-idle"], page.Items.Select(c => c.ExternalId));
    }

    [Fact]
    public async Task Newest_first_sorting_and_pages_follow_created_at()
    {
        await using var polar = await EmulatorHost.StartAsync();
        for (var i = 1; i <= 3; i++)
        {
            await polar.Gateway.CreateCustomerAsync(new CustomerCreate($"user-{i}@lovelace.dev", ExternalId: $"user-{i}",
                Metadata: new Dictionary<string, JsonElement> { ["n"] = JsonSerializer.SerializeToElement(i) }));
        }

        var first = await polar.Gateway.ListCustomersAsync(new CustomerListQuery(Limit: 2, Sorting: "-created_at"));
        var second = await polar.Gateway.ListCustomersAsync(new CustomerListQuery(Page: 2, Limit: 2, Sorting: "-created_at"));

        Assert.Equal(["user-3", "user-2"], first.Items.Select(c => c.ExternalId));
        Assert.Equal(["user-1"], second.Items.Select(c => c.ExternalId));
        Assert.Equal(2, first.Pagination.MaxPage);
    }
}
