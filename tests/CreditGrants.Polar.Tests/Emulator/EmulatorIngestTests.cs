using CreditGrants.Polar.Events;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Emulator;

/// <summary>Batched ingest and balances against the emulator's seeded "API Calls" meter (sum of units over api_usage).</summary>
public sealed class EmulatorIngestTests
{
    private static async Task<List<Customer>> CreateCustomers(EmulatorHost polar, int count)
    {
        var customers = new List<Customer>();
        for (var i = 0; i < count; i++)
        {
            customers.Add(await polar.Gateway.CreateCustomerAsync(new CustomerCreate($"user{i}@creditfunctions.dev", ExternalId: $"user-{i}")));
        }

        return customers;
    }

    [Fact]
    public async Task Ingest_of_6000_events_takes_3_requests_of_at_most_2500_and_balances_are_exact()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var customers = await CreateCustomers(polar, 5);
        var meter = (await polar.Gateway.FindMeterAsync("API Calls"))!;
        // Per customer: one grant of -1000 units, then usage of 0.5 to 3.5 units; every seventh event is another
        // event name, which the meter must not count.
        var events = new List<PolarEvent>();
        var expected = customers.ToDictionary(c => c.Id, _ => 0m);
        for (var i = 0; i < 6000; i++)
        {
            var customer = customers[i % customers.Count];
            var units = i < customers.Count ? -1000m : (i % 4) + 0.5m;
            var name = i >= customers.Count && i % 7 == 0 ? "llm_tokens" : "api_usage";
            events.Add(new PolarEvent(name, null, customer.ExternalId, $"event-{i}", null, TestEvents.Metadata(("units", PolarMetadata.Number(units)))));
            if (name == "api_usage")
            {
                expected[customer.Id] += units;
            }
        }

        var before = polar.Server.RequestCount;

        var report = await polar.Gateway.IngestAsync(events);

        Assert.Equal(3, report.Requests);
        Assert.Equal(3, polar.Server.RequestCount - before);
        Assert.Equal(6000, report.Inserted);
        Assert.Equal(0, report.Duplicates);
        foreach (var customer in customers)
        {
            var standing = await polar.Gateway.GetCustomerMeterAsync(customer.Id, meter.Id);
            Assert.NotNull(standing);
            Assert.Equal(expected[customer.Id], standing.ConsumedUnits);
            Assert.Equal(-expected[customer.Id], standing.Balance);
        }
    }

    [Fact]
    public async Task Grant_then_usage_leaves_the_difference_as_credit()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var customer = (await CreateCustomers(polar, 1))[0];
        var target = await polar.Gateway.GetGrantTargetAsync("API Calls");

        await polar.Gateway.IngestAsync([
            new PolarEvent(target.EventName, customer.Id, null, "grant-1", null, TestEvents.Metadata((target.Property, PolarMetadata.Number(-10)))),
            TestEvents.Usage(customer.ExternalId!, 3, "usage-1"),
        ]);

        var standing = await polar.Gateway.GetCustomerMeterAsync(customer.Id, target.Meter.Id);
        Assert.Equal(-7m, standing?.ConsumedUnits);
        Assert.Equal(7m, standing?.Balance);
    }

    [Fact]
    public async Task Same_events_sent_again_are_duplicates_and_change_no_balance()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var customer = (await CreateCustomers(polar, 1))[0];
        var meter = (await polar.Gateway.FindMeterAsync("API Calls"))!;
        var events = Enumerable.Range(0, 10).Select(i => TestEvents.Usage(customer.ExternalId!, -(i + 1), $"grant-{i}")).ToList();
        await polar.Gateway.IngestAsync(events);
        var balance = (await polar.Gateway.GetCustomerMeterAsync(customer.Id, meter.Id))?.Balance;

        var again = await polar.Gateway.IngestAsync(events);

        Assert.Equal(0, again.Inserted);
        Assert.Equal(10, again.Duplicates);
        Assert.All(again.Outcomes, o => Assert.Equal(IngestStatus.Duplicate, o.Status));
        Assert.Equal(balance, (await polar.Gateway.GetCustomerMeterAsync(customer.Id, meter.Id))?.Balance);
        Assert.Equal(55m, balance);
    }

    [Fact]
    public async Task Same_external_id_twice_in_one_list_grants_once()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var customer = (await CreateCustomers(polar, 1))[0];
        var meter = (await polar.Gateway.FindMeterAsync("API Calls"))!;

        var report = await polar.Gateway.IngestAsync([TestEvents.Usage(customer.ExternalId!, -10, "grant-1"), TestEvents.Usage(customer.ExternalId!, -10, "grant-1")]);

        Assert.Equal([IngestStatus.Inserted, IngestStatus.Duplicate], report.Outcomes.Select(o => o.Status));
        Assert.Equal(10m, (await polar.Gateway.GetCustomerMeterAsync(customer.Id, meter.Id))?.Balance);
    }

    [Fact]
    public async Task Event_for_an_unknown_customer_id_is_rejected_alone_and_the_rest_land()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var customer = (await CreateCustomers(polar, 1))[0];
        var meter = (await polar.Gateway.FindMeterAsync("API Calls"))!;
        var stranger = new PolarEvent("api_usage", Guid.NewGuid(), null, "grant-x", null, TestEvents.Metadata(("units", PolarMetadata.Number(-99))));

        var report = await polar.Gateway.IngestAsync([TestEvents.Usage(customer.ExternalId!, -5, "grant-1"), stranger, TestEvents.Usage(customer.ExternalId!, -6, "grant-2")]);

        Assert.Equal([IngestStatus.Inserted, IngestStatus.Rejected, IngestStatus.Inserted], report.Outcomes.Select(o => o.Status));
        Assert.Contains("customer_id", report.Outcomes[1].Reason, StringComparison.Ordinal);
        Assert.Equal(2, report.Requests);
        Assert.Equal(11m, (await polar.Gateway.GetCustomerMeterAsync(customer.Id, meter.Id))?.Balance);
    }

    [Fact]
    public async Task Units_sent_as_a_string_are_not_summed()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var customer = (await CreateCustomers(polar, 1))[0];
        var meter = (await polar.Gateway.FindMeterAsync("API Calls"))!;

        await polar.Gateway.IngestAsync([
            TestEvents.Usage(customer.ExternalId!, -4, "grant-1"),
            new PolarEvent("api_usage", customer.Id, null, "grant-2", null, TestEvents.Metadata(("units", PolarMetadata.Text("-5")))),
        ]);

        Assert.Equal(4m, (await polar.Gateway.GetCustomerMeterAsync(customer.Id, meter.Id))?.Balance);
    }

    [Fact]
    public async Task Empty_list_sends_no_request()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var before = polar.Server.RequestCount;

        var report = await polar.Gateway.IngestAsync([]);

        Assert.Equal(before, polar.Server.RequestCount);
        Assert.Equal(0, report.Requests);
    }
}
