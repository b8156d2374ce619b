using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator;

namespace CreditGrants.Polar.Tests.Emulator;

/// <summary>Tokens, scopes and the request limit against the emulator.</summary>
public sealed class EmulatorAccessTests
{
    private const string WrongToken = "polar_oat_NotTheEmulatorsToken000000000000000";

    private static readonly string[] AllButEventsWrite = ["customers:read", "customers:write", "meters:read", "meters:write", "customer_meters:read"];

    [Fact]
    public async Task Wrong_token_is_unauthorized_and_the_token_is_not_echoed()
    {
        await using var polar = await EmulatorHost.StartAsync(token: WrongToken);

        var failure = await Assert.ThrowsAsync<PolarException>(() => polar.Gateway.FindMeterAsync("API Calls"));

        Assert.Equal(PolarErrorKind.Unauthorized, failure.Kind);
        Assert.Equal("invalid_token", failure.Error);
        Assert.DoesNotContain(WrongToken, failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_events_write_scope_is_named_when_ingesting()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions { SeedMeter = true, Scopes = AllButEventsWrite });

        var failure = await Assert.ThrowsAsync<PolarException>(() => polar.Gateway.IngestAsync([TestEvents.Usage("user-1", -1, "grant-1")]));

        Assert.Equal(PolarErrorKind.MissingScope, failure.Kind);
        Assert.Contains("events:write", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_events_write_scope_leaves_other_calls_working()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions { SeedMeter = true, Scopes = AllButEventsWrite });

        var target = await polar.Gateway.GetGrantTargetAsync("API Calls");
        var customer = await polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev"));

        Assert.Equal("api_usage", target.EventName);
        Assert.Equal("ada@lovelace.dev", customer.Email);
    }

    [Fact]
    public async Task Over_the_request_limit_without_retries_is_rate_limited_with_polars_retry_after()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions { SeedMeter = true, RequestsPerMinute = 2 }, o => o.MaxRetries = 0);
        await polar.Gateway.FindMeterAsync("API Calls");
        await polar.Gateway.FindMeterAsync("API Calls");

        var failure = await Assert.ThrowsAsync<PolarException>(() => polar.Gateway.FindMeterAsync("API Calls"));

        Assert.Equal(PolarErrorKind.RateLimited, failure.Kind);
        Assert.Equal(TimeSpan.FromSeconds(60), failure.RetryAfter);
        Assert.Equal(3, polar.Server.RequestCount);
    }

    [Fact]
    public async Task Over_the_request_limit_is_rate_limited_once_retries_are_exhausted()
    {
        // The emulator's clock stands still, so its window never ends however long the client waits between tries.
        var polarTime = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var clientTime = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions { SeedMeter = true, RequestsPerMinute = 1, TimeProvider = polarTime },
            o => o.MaxRetries = 2, clientTime);
        await polar.Gateway.FindMeterAsync("API Calls");

        var call = polar.Gateway.FindMeterAsync("API Calls");
        await polar.App.DriveAsync(call);

        var failure = await Assert.ThrowsAsync<PolarException>(() => call);
        Assert.Equal(PolarErrorKind.RateLimited, failure.Kind);
        Assert.Equal(TimeSpan.FromSeconds(60), failure.RetryAfter);
        Assert.Equal(4, polar.Server.RequestCount);
    }

    [Fact]
    public async Task Rate_limited_call_goes_through_once_polars_window_has_passed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions { SeedMeter = true, RequestsPerMinute = 1, TimeProvider = time },
            o => o.MaxRetries = 1, time);
        await polar.Gateway.FindMeterAsync("API Calls");

        var call = polar.Gateway.FindMeterAsync("API Calls");
        await polar.App.DriveAsync(call);

        Assert.NotNull(await call);
        Assert.Equal(3, polar.Server.RequestCount);
    }
}
