using System.Net;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>Seeded customers: metadata, and the <c>active</c> filter answered from whether they have an active subscription.</summary>
public sealed class CustomerSeedTests : IAsyncDisposable
{
    private readonly string _dataFile = Path.Combine(Path.GetTempPath(), $"emulator-seed-{Guid.NewGuid():N}.json");

    private static readonly EmulatorCustomerSeed[] Seeds =
    [
        new("seed-free-idle", "idle@lovelace.dev", null, new Dictionary<string, string> { ["plan"] = "free" }, HasActiveSubscription: false),
        new("seed-free-trial", "trial@lovelace.dev", null, new Dictionary<string, string> { ["plan"] = "free" }, HasActiveSubscription: true),
        new("seed-pro", "pro@lovelace.dev", null, new Dictionary<string, string> { ["plan"] = "pro" }, HasActiveSubscription: true),
    ];

    public ValueTask DisposeAsync()
    {
        File.Delete(_dataFile);
        return ValueTask.CompletedTask;
    }

    private static async Task<string[]> ExternalIdsAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync($"v1/customers/?{query}");
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        return [.. body.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("external_id").GetString()!).Order()];
    }

    [Fact]
    public async Task Active_and_metadata_filters_combine()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { CustomerSeeds = Seeds });
        using var client = EmulatorFixture.ClientFor(server);

        Assert.Equal(["seed-free-idle"], await ExternalIdsAsync(client, "metadata[plan]=free&active=false"));
        Assert.Equal(["seed-free-trial", "seed-pro"], await ExternalIdsAsync(client, "active=true"));
        Assert.Equal(["seed-free-idle", "seed-free-trial"], await ExternalIdsAsync(client, "metadata[plan]=free"));
    }

    [Fact]
    public async Task Active_subscriptions_survive_a_restart_from_the_data_file()
    {
        await using (await PolarEmulatorServer.StartAsync(new EmulatorOptions { CustomerSeeds = Seeds, DataFile = _dataFile }))
        {
        }

        await using var restarted = await PolarEmulatorServer.StartAsync(new EmulatorOptions { DataFile = _dataFile });
        using var client = EmulatorFixture.ClientFor(restarted);

        Assert.Equal(["seed-free-trial", "seed-pro"], await ExternalIdsAsync(client, "active=true"));
    }

    [Fact]
    public async Task Seeding_again_adds_nobody_twice()
    {
        await using (await PolarEmulatorServer.StartAsync(new EmulatorOptions { CustomerSeeds = Seeds, DataFile = _dataFile }))
        {
        }

        await using var again = await PolarEmulatorServer.StartAsync(new EmulatorOptions { CustomerSeeds = Seeds, DataFile = _dataFile });
        using var client = EmulatorFixture.ClientFor(again);

        Assert.Equal(3, (await ExternalIdsAsync(client, "limit=100")).Length);
    }
}
