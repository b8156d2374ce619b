using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>System events Polar writes for customers (<c>customer.created|updated|deleted</c>), listed as Polar lists them.</summary>
public sealed class SystemEventTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 4, 15, 12, 0, 0, TimeSpan.Zero));
    private PolarEmulatorServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { TimeProvider = _time });
        _client = EmulatorFixture.ClientFor(_server);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private static List<string> Names(JsonElement page) =>
        [.. page.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("name").GetString()!)];

    [Fact]
    public async Task Creating_updating_and_deleting_a_customer_writes_three_system_events_in_polars_shape()
    {
        var customer = await _client.CreateCustomerAsync(email: "ada@lovelace.dev", externalId: "ada");
        _time.Advance(TimeSpan.FromSeconds(1));
        (await _client.PatchJsonAsync($"v1/customers/{customer.Id()}", """{"name":"Ada Lovelace"}""")).EnsureSuccessStatusCode();
        _time.Advance(TimeSpan.FromSeconds(1));
        (await _client.DeleteAsync($"v1/customers/{customer.Id()}")).EnsureSuccessStatusCode();

        var page = await _client.ListEventsAsync($"source=system&customer_id={customer.Id()}&sorting=timestamp");

        Assert.Equal(["customer.created", "customer.updated", "customer.deleted"], Names(page));
        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.All(items, e => Assert.Equal("system", e.GetProperty("source").GetString()));
        Assert.All(items, e => Assert.Equal(customer.Id(), e.GetProperty("customer_id").GetString()));
        var created = items[0].GetProperty("metadata");
        Assert.Equal("ada@lovelace.dev", created.GetProperty("customer_email").GetString());
        Assert.Equal("ada", created.GetProperty("customer_external_id").GetString());
        Assert.Equal("Ada Lovelace", items[1].GetProperty("metadata").GetProperty("updated_fields").GetProperty("name").GetString());
        Assert.NotEqual(JsonValueKind.Null, items[2].GetProperty("customer").GetProperty("deleted_at").ValueKind);
    }

    [Fact]
    public async Task Source_user_lists_no_system_events()
    {
        var customer = await _client.CreateCustomerAsync();
        await _client.IngestAsync($$"""[{"name":"api_usage","customer_id":"{{customer.Id()}}"}]""");

        var page = await _client.ListEventsAsync($"source=user&customer_id={customer.Id()}");

        Assert.Equal(["api_usage"], Names(page));
    }

    [Fact]
    public async Task A_meter_matching_every_event_counts_no_system_event()
    {
        var meter = await _client.CreateMeterAsync("""{"conjunction":"and","clauses":[]}""", """{"func":"count"}""");
        var customer = await _client.CreateCustomerAsync();
        (await _client.PatchJsonAsync($"v1/customers/{customer.Id()}", """{"name":"Renamed"}""")).EnsureSuccessStatusCode();
        await _client.IngestAsync($$"""[{"name":"api_usage","customer_id":"{{customer.Id()}}"}]""");

        var balance = await _client.CustomerMeterAsync(customer.Id(), meter.Id());
        var byMeter = await _client.ListEventsAsync($"meter_id={meter.Id()}");

        Assert.Equal(1, balance.GetProperty("consumed_units").GetDouble());
        Assert.Equal(["api_usage"], Names(byMeter));
    }
}
