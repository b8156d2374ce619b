using System.Net;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>State in a data file survives a restart; the seed meter is created once.</summary>
public sealed class PersistenceTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "polar-emulator-tests", Guid.NewGuid().ToString("N"));

    private string DataFile => Path.Combine(_directory, "state.json");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Customers_meters_events_and_balances_survive_a_restart()
    {
        string customerId, meterId, organizationId, customerMeterId;
        var grant = PolarHttp.UniqueId("grant");
        await using (var first = await PolarEmulatorServer.StartAsync(new EmulatorOptions { DataFile = DataFile, SeedMeter = true }))
        {
            using var client = EmulatorFixture.ClientFor(first);
            customerId = (await client.CreateCustomerAsync(externalId: "user-1")).Id();
            await client.IngestAsync($$"""[{"name":"api_usage","external_customer_id":"user-1","external_id":"{{grant}}","metadata":{"units":-10} },{"name":"api_usage","customer_id":"{{customerId}}","metadata":{"units":3} }]""");
            using var meters = await client.GetAsync("v1/meters/");
            meterId = Assert.Single((await meters.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray()).Id();
            customerMeterId = (await client.CustomerMeterAsync(customerId, meterId)).Id();
            organizationId = first.OrganizationId.ToString();
        }

        await using var second = await PolarEmulatorServer.StartAsync(new EmulatorOptions { DataFile = DataFile, SeedMeter = true });
        using var again = EmulatorFixture.ClientFor(second);
        var balance = await again.CustomerMeterAsync(customerId, meterId);
        var duplicate = await again.IngestAsync($$"""[{"name":"api_usage","external_customer_id":"user-1","external_id":"{{grant}}","metadata":{"units":-10} }]""");
        using var customer = await again.GetAsync("v1/customers/external/user-1");

        Assert.Equal(organizationId, second.OrganizationId.ToString());
        Assert.Equal(customerMeterId, balance.Id());
        Assert.Equal(7, balance.GetProperty("balance").GetDouble());
        Assert.Equal(1, duplicate.GetProperty("duplicates").GetInt32());
        Assert.Equal(customerId, (await customer.ExpectAsync(HttpStatusCode.OK)).Id());
    }

    [Fact]
    public async Task System_events_and_the_credits_and_resets_they_make_survive_a_restart()
    {
        string customerId, meterId;
        await using (var first = await PolarEmulatorServer.StartAsync(new EmulatorOptions { DataFile = DataFile }))
        {
            using var client = EmulatorFixture.ClientFor(first);
            meterId = (await client.CreateMeterForEventAsync("api_usage", """{"func":"sum","property":"units"}""")).Id();
            customerId = (await client.CreateCustomerAsync(externalId: "user-1")).Id();
            await client.IngestAsync("""[{"name":"api_usage","external_customer_id":"user-1","metadata":{"units":-10} }]""");
            using var subscribed = await client.PostJsonAsync("__emulator/subscriptions", $$"""{"customer_id":"{{customerId}}","meter_id":"{{meterId}}","units":100}""");
            var subscription = await subscribed.ExpectAsync(HttpStatusCode.Created);
            (await client.PostAsync($"__emulator/subscriptions/{subscription.Id()}/cycle", new ByteArrayContent([]))).EnsureSuccessStatusCode();
            await client.IngestAsync("""[{"name":"api_usage","external_customer_id":"user-1","metadata":{"units":30} }]""");
        }

        await using var second = await PolarEmulatorServer.StartAsync(new EmulatorOptions { DataFile = DataFile });
        using var again = EmulatorFixture.ClientFor(second);
        var balance = await again.CustomerMeterAsync(customerId, meterId);
        var system = await again.ListEventsAsync($"source=system&customer_id={customerId}&sorting=timestamp");

        Assert.Equal((30, 100, 70), (balance.GetProperty("consumed_units").GetDouble(), balance.GetProperty("credited_units").GetInt64(),
            balance.GetProperty("balance").GetDouble()));
        Assert.Equal(["customer.created", "meter.credited", "meter.reset", "meter.credited"],
            system.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Seed_meter_is_not_duplicated_by_a_restart()
    {
        await (await PolarEmulatorServer.StartAsync(new EmulatorOptions { DataFile = DataFile, SeedMeter = true })).DisposeAsync();

        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { DataFile = DataFile, SeedMeter = true });
        using var client = EmulatorFixture.ClientFor(server);
        using var response = await client.GetAsync("v1/meters/");

        var meter = Assert.Single((await response.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray());
        Assert.Equal("API Calls", meter.GetProperty("name").GetString());
        Assert.Equal("""{"func":"sum","property":"units"}""", meter.GetProperty("aggregation").GetRawText());
    }

    [Fact]
    public async Task Data_file_is_written_whole_with_no_temporary_file_left()
    {
        await using (var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { DataFile = DataFile }))
        {
            using var client = EmulatorFixture.ClientFor(server);
            await client.CreateCustomerAsync();
        }

        Assert.Equal([DataFile], Directory.GetFiles(_directory));
        using var document = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(DataFile));
        Assert.Equal(1, document.RootElement.GetProperty("customers").GetArrayLength());
    }

    [Fact]
    public async Task Without_a_data_file_nothing_is_written()
    {
        await using (var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions()))
        {
            using var client = EmulatorFixture.ClientFor(server);
            await client.CreateCustomerAsync();
        }

        Assert.False(Directory.Exists(_directory));
    }
}
