using System.Net;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>Seeded customers for load tests: user-1 … user-N with emails user-N@bench.dev, served like created ones.</summary>
public sealed class SeedCustomersTests
{
    [Fact]
    public async Task Seeded_customers_are_found_by_external_id_and_email()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedCustomers = 3 });
        using var client = EmulatorFixture.ClientFor(server);

        using var byExternalId = await client.GetAsync("v1/customers/external/user-3");
        var customer = await byExternalId.ExpectAsync(HttpStatusCode.OK);
        using var byEmail = await client.GetAsync("v1/customers/?email=user-3@bench.dev");
        var page = await byEmail.ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(("user-3", "user-3@bench.dev"), (customer.GetProperty("external_id").GetString(), customer.GetProperty("email").GetString()));
        Assert.Equal(customer.Id(), Assert.Single(page.GetProperty("items").EnumerateArray()).Id());
    }

    [Fact]
    public async Task Seeding_adds_exactly_the_customers_asked_for()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedCustomers = 3 });
        using var client = EmulatorFixture.ClientFor(server);

        using var list = await client.GetAsync("v1/customers/?limit=100");
        using var beyond = await client.GetAsync("v1/customers/external/user-4");

        Assert.Equal(3, (await list.ExpectAsync(HttpStatusCode.OK)).GetProperty("pagination").GetProperty("total_count").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, beyond.StatusCode);
    }

    [Fact]
    public async Task Seeding_again_skips_customers_that_exist()
    {
        var path = Path.Combine(Path.GetTempPath(), $"seed-{Guid.NewGuid():N}.json");
        try
        {
            await using (await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedCustomers = 2, DataFile = path }))
            {
            }

            await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedCustomers = 3, DataFile = path });
            using var client = EmulatorFixture.ClientFor(server);
            using var list = await client.GetAsync("v1/customers/?limit=100");

            Assert.Equal(3, (await list.ExpectAsync(HttpStatusCode.OK)).GetProperty("pagination").GetProperty("total_count").GetInt32());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Events_sent_before_seeding_count_for_the_seeded_customer()
    {
        var path = Path.Combine(Path.GetTempPath(), $"seed-{Guid.NewGuid():N}.json");
        try
        {
            string meterId;
            await using (var first = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, DataFile = path }))
            {
                using var client = EmulatorFixture.ClientFor(first);
                await client.IngestAsync("""[{"name":"api_usage","external_customer_id":"user-1","metadata":{"units":-5}}]""");
                using var meters = await client.GetAsync("v1/meters/");
                meterId = (await meters.ExpectAsync(HttpStatusCode.OK)).GetProperty("items")[0].Id();
            }

            await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedCustomers = 1, DataFile = path });
            using var seeded = EmulatorFixture.ClientFor(server);
            using var customer = await seeded.GetAsync("v1/customers/external/user-1");
            var balance = await seeded.CustomerMeterAsync((await customer.ExpectAsync(HttpStatusCode.OK)).Id(), meterId);

            Assert.Equal(5m, balance.GetProperty("balance").GetDecimal());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
