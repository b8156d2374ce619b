using System.Net;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>Polar's lags on the emulator's clock: the event store trails ingest by seconds, balances by about 15 s.</summary>
public sealed class LagTests : IAsyncLifetime
{
    private static readonly TimeSpan EventLag = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan BalanceLag = TimeSpan.FromSeconds(15);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 4, 15, 12, 0, 0, TimeSpan.Zero));
    private PolarEmulatorServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, TimeProvider = _time, EventStoreLag = EventLag, BalanceLag = BalanceLag });
        _client = EmulatorFixture.ClientFor(_server);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<int> ListedAsync(string tag)
    {
        using var response = await _client.GetAsync($"v1/events/?metadata[tag]={tag}");
        return (await response.ExpectAsync(HttpStatusCode.OK)).GetProperty("pagination").GetProperty("total_count").GetInt32();
    }

    private async Task<string> GrantAsync(string customerId, string tag)
    {
        await _client.IngestAsync($$"""[{"name":"api_usage","customer_id":"{{customerId}}","metadata":{"units":-10,"tag":"{{tag}}"} }]""");
        return tag;
    }

    private async Task<int> CustomerMeterCountAsync(string customerId)
    {
        using var response = await _client.GetAsync($"v1/customer-meters/?customer_id={customerId}");
        return (await response.ExpectAsync(HttpStatusCode.OK)).GetProperty("pagination").GetProperty("total_count").GetInt32();
    }

    [Fact]
    public async Task Event_is_missing_from_the_event_list_until_the_event_store_lag_has_passed()
    {
        var customer = await _client.CreateCustomerAsync();
        var tag = await GrantAsync(customer.Id(), PolarHttp.UniqueId("lag"));

        Assert.Equal(0, await ListedAsync(tag));
        _time.Advance(EventLag - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, await ListedAsync(tag));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, await ListedAsync(tag));
    }

    [Fact]
    public async Task Event_by_id_is_404_while_the_event_store_lags()
    {
        var customer = await _client.CreateCustomerAsync();
        var tag = await GrantAsync(customer.Id(), PolarHttp.UniqueId("lag"));
        _time.Advance(EventLag);
        using var listed = await _client.GetAsync($"v1/events/?metadata[tag]={tag}");
        var id = (await listed.ExpectAsync(HttpStatusCode.OK)).GetProperty("items")[0].Id();
        var later = await GrantAsync(customer.Id(), PolarHttp.UniqueId("later"));

        using var found = await _client.GetAsync($"v1/events/{id}");
        await found.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0, await ListedAsync(later));
    }

    [Fact]
    public async Task Balance_counts_an_event_only_after_the_balance_lag()
    {
        var customer = await _client.CreateCustomerAsync();
        await GrantAsync(customer.Id(), PolarHttp.UniqueId("balance"));

        Assert.Equal(0, await CustomerMeterCountAsync(customer.Id()));
        _time.Advance(BalanceLag);
        using var meters = await _client.GetAsync("v1/meters/?query=API%20Calls");
        var meterId = (await meters.ExpectAsync(HttpStatusCode.OK)).GetProperty("items")[0].Id();
        Assert.Equal(10, (await _client.CustomerMeterAsync(customer.Id(), meterId)).GetProperty("balance").GetDouble());
    }

    [Fact]
    public async Task Catch_up_control_ends_both_lags_at_once()
    {
        var customer = await _client.CreateCustomerAsync();
        var tag = await GrantAsync(customer.Id(), PolarHttp.UniqueId("caught-up"));

        using var response = await _client.PostAsync("__emulator/catch-up", PolarHttp.Json(""));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(1, await ListedAsync(tag));
        Assert.Equal(1, await CustomerMeterCountAsync(customer.Id()));
    }
}
