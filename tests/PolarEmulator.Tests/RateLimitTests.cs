using System.Net;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>The request budget: fixed one-minute windows, every request counted, 429 with Retry-After 60.</summary>
public sealed class RateLimitTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 4, 15, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Request_over_the_budget_is_429_with_empty_body_and_retry_after_60()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { RequestsPerMinute = 2, TimeProvider = _time });
        using var client = EmulatorFixture.ClientFor(server);
        (await client.GetAsync("v1/meters/")).Dispose();
        (await client.GetAsync("v1/meters/")).Dispose();

        using var response = await client.GetAsync("v1/meters/");

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(60), response.Headers.RetryAfter?.Delta);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.False(response.Headers.Contains("X-RateLimit-Limit"));
    }

    [Fact]
    public async Task Requests_with_a_bad_token_count_toward_the_budget()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { RequestsPerMinute = 1, TimeProvider = _time });
        using var intruder = EmulatorFixture.ClientFor(server, "polar_oat_wrong");
        using var client = EmulatorFixture.ClientFor(server);
        (await intruder.GetAsync("v1/meters/")).Dispose();

        using var response = await client.GetAsync("v1/meters/");

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
    }

    [Fact]
    public async Task Budget_is_renewed_at_the_next_minute_window()
    {
        _time.SetUtcNow(new DateTimeOffset(2026, 4, 15, 12, 0, 59, TimeSpan.Zero));
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { RequestsPerMinute = 1, TimeProvider = _time });
        using var client = EmulatorFixture.ClientFor(server);
        (await client.GetAsync("v1/meters/")).Dispose();

        _time.Advance(TimeSpan.FromSeconds(1));
        using var response = await client.GetAsync("v1/meters/");

        await response.ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Without_a_budget_nothing_is_limited()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { TimeProvider = _time });
        using var client = EmulatorFixture.ClientFor(server);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("v1/meters/");
            statuses.Add(response.StatusCode);
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
    }
}
