using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary><c>GET /v1/meters/{id}/quantities</c>: buckets per interval from the truncated start, and the total.</summary>
public sealed class MeterQuantityTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero));
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

    private async Task<JsonElement> QuantitiesAsync(string meterId, string query)
    {
        using var response = await _client.GetAsync($"v1/meters/{meterId}/quantities?{query}");
        return await response.ExpectAsync(HttpStatusCode.OK);
    }

    private static string[] Buckets(JsonElement quantities) =>
        [.. quantities.GetProperty("quantities").EnumerateArray().Select(q => $"{q.GetProperty("timestamp").GetString()}={q.GetProperty("quantity").GetDouble()}")];

    [Fact]
    public async Task Hourly_quantities_sum_the_matching_events_of_each_whole_hour_from_the_truncated_start_to_the_end()
    {
        var meter = await _client.CreateMeterForEventAsync("api_usage", """{"func":"sum","property":"units"}""");
        await _client.IngestAsync("""
            [{"name":"api_usage","external_customer_id":"u","timestamp":"2026-04-01T10:15:00Z","metadata":{"units":100}},
             {"name":"api_usage","external_customer_id":"u","timestamp":"2026-04-01T10:45:00Z","metadata":{"units":3}},
             {"name":"api_usage","external_customer_id":"u","timestamp":"2026-04-01T12:10:00Z","metadata":{"units":-10}},
             {"name":"other","external_customer_id":"u","timestamp":"2026-04-01T12:20:00Z","metadata":{"units":7}}]
            """);

        var body = await QuantitiesAsync(meter.Id(), "start_timestamp=2026-04-01T10:30:00Z&end_timestamp=2026-04-01T12:30:00Z&interval=hour");

        // Polar groups events by date_trunc('hour', timestamp) with no bound on the events: the first and last hours count
        // whole, so the 10:15 event (before the start) and nothing is cut at 12:30.
        Assert.Equal(["2026-04-01T10:00:00Z=103", "2026-04-01T11:00:00Z=0", "2026-04-01T12:00:00Z=-10"], Buckets(body));
        Assert.Equal(93, body.GetProperty("total").GetDouble());
    }

    [Fact]
    public async Task Daily_buckets_start_at_midnight_in_the_asked_time_zone()
    {
        var meter = await _client.CreateMeterForEventAsync("zoned", """{"func":"count"}""");
        await _client.IngestAsync("""[{"name":"zoned","external_customer_id":"u","timestamp":"2026-04-01T23:30:00Z"}]""");

        var body = await QuantitiesAsync(meter.Id(),
            "start_timestamp=2026-04-01T12:00:00Z&end_timestamp=2026-04-02T12:00:00Z&interval=day&timezone=Europe/Paris");

        Assert.Equal(["2026-04-01T00:00:00+02:00=0", "2026-04-02T00:00:00+02:00=1"], Buckets(body));
    }

    [Fact]
    public async Task Customer_aggregation_function_aggregates_per_customer_first()
    {
        var meter = await _client.CreateMeterForEventAsync("per_customer", """{"func":"sum","property":"units"}""");
        await _client.IngestAsync("""
            [{"name":"per_customer","external_customer_id":"a","timestamp":"2026-04-01T10:00:00Z","metadata":{"units":2}},
             {"name":"per_customer","external_customer_id":"a","timestamp":"2026-04-01T10:01:00Z","metadata":{"units":2}},
             {"name":"per_customer","external_customer_id":"b","timestamp":"2026-04-01T10:02:00Z","metadata":{"units":3}}]
            """);

        var body = await QuantitiesAsync(meter.Id(),
            "start_timestamp=2026-04-01T00:00:00Z&end_timestamp=2026-04-01T23:00:00Z&interval=day&customer_aggregation_function=max");

        Assert.Equal(4, body.GetProperty("total").GetDouble());
    }

    [Fact]
    public async Task Start_end_and_interval_are_required()
    {
        var meter = await _client.CreateMeterForEventAsync("required", """{"func":"count"}""");

        using var response = await _client.GetAsync($"v1/meters/{meter.Id()}/quantities");

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal(
            ["""["query","start_timestamp"]""", """["query","end_timestamp"]""", """["query","interval"]"""],
            body.GetProperty("detail").EnumerateArray().Select(d => d.GetProperty("loc").GetRawText()));
    }

    [Fact]
    public async Task Interval_finer_than_an_hour_is_refused()
    {
        var meter = await _client.CreateMeterForEventAsync("minutes", """{"func":"count"}""");

        using var response = await _client.GetAsync(
            $"v1/meters/{meter.Id()}/quantities?start_timestamp=2026-04-01T00:00:00Z&end_timestamp=2026-04-02T00:00:00Z&interval=minute");

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("""["query","interval"]""", body.GetProperty("detail")[0].GetProperty("loc").GetRawText());
    }

    [Fact]
    public async Task Quantities_of_an_unknown_meter_is_404()
    {
        using var response = await _client.GetAsync(
            $"v1/meters/{Guid.NewGuid()}/quantities?start_timestamp=2026-04-01T00:00:00Z&end_timestamp=2026-04-02T00:00:00Z&interval=day");

        var body = await response.ExpectAsync(HttpStatusCode.NotFound);
        Assert.Equal("ResourceNotFound", body.GetProperty("error").GetString());
    }
}
