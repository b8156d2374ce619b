using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator;

namespace CreditGrants.Polar.Tests.Emulator;

/// <summary>Meters and grant targets against the emulator.</summary>
public sealed class EmulatorMeterTests
{
    private static Task<Meter> CreateMeter(EmulatorHost polar, string name, string eventName = "api_usage") =>
        polar.App.Client.CreateMeterAsync(new MeterCreate(name, MeterFilter.NameEquals(eventName), MeterAggregation.Sum("units")));

    [Fact]
    public async Task Meter_is_found_by_exact_case_sensitive_name_among_similar_names()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions());
        await CreateMeter(polar, "credits");
        var wanted = await CreateMeter(polar, "Credits");
        await CreateMeter(polar, "Credits Pro");
        await CreateMeter(polar, "Old Credits");

        var found = await polar.Gateway.FindMeterAsync("Credits");

        Assert.Equal(wanted.Id, found?.Id);
    }

    [Fact]
    public async Task Meter_is_found_among_more_than_one_page_of_similar_names()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions());
        for (var i = 0; i < 120; i++)
        {
            await CreateMeter(polar, $"Credits {i:D3}");
        }

        var wanted = await CreateMeter(polar, "Credits");

        Assert.Equal(wanted.Id, (await polar.Gateway.FindMeterAsync("Credits"))?.Id);
    }

    [Fact]
    public async Task Two_meters_of_one_name_are_an_error_naming_both_ids()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions());
        var first = await CreateMeter(polar, "Credits");
        var second = await CreateMeter(polar, "Credits", "llm_tokens");

        var refusal = await Assert.ThrowsAsync<MeterNotGrantableException>(() => polar.Gateway.FindMeterAsync("Credits"));

        Assert.Equal(MeterProblem.Ambiguous, refusal.Problem);
        Assert.Contains(first.Id.ToString(), refusal.Message, StringComparison.Ordinal);
        Assert.Contains(second.Id.ToString(), refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ensure_meter_creates_it_once()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions());

        var (first, createdFirst) = await polar.Gateway.EnsureMeterAsync("Credits", "api_usage", "units");
        var (second, createdSecond) = await polar.Gateway.EnsureMeterAsync("Credits", "api_usage", "units");

        Assert.True(createdFirst);
        Assert.False(createdSecond);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(first.Id, (await polar.Gateway.FindMeterAsync("Credits"))?.Id);
    }

    [Fact]
    public async Task Ensured_meter_is_a_grant_target_for_its_event_and_property()
    {
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions());
        await polar.Gateway.EnsureMeterAsync("Credits", "llm_tokens", "tokens");

        var target = await polar.Gateway.GetGrantTargetAsync("Credits");

        Assert.Equal("llm_tokens", target.EventName);
        Assert.Equal("tokens", target.Property);
    }

    [Fact]
    public async Task Seeded_meter_is_a_grant_target_for_api_usage_units()
    {
        await using var polar = await EmulatorHost.StartAsync();

        var target = await polar.Gateway.GetGrantTargetAsync("API Calls");

        Assert.Equal("api_usage", target.EventName);
        Assert.Equal("units", target.Property);
    }

    [Fact]
    public async Task Grant_target_is_cached_for_the_configured_time_then_read_again()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions { SeedMeter = true, TimeProvider = time },
            o => o.MeterCacheSeconds = 60, time);

        await polar.Gateway.GetGrantTargetAsync("API Calls");
        var afterFirstRead = polar.Server.RequestCount;
        time.Advance(TimeSpan.FromSeconds(59));
        await polar.Gateway.GetGrantTargetAsync("API Calls");
        var whileCached = polar.Server.RequestCount;
        time.Advance(TimeSpan.FromSeconds(2));
        await polar.Gateway.GetGrantTargetAsync("API Calls");

        Assert.True(afterFirstRead > 0);
        Assert.Equal(afterFirstRead, whileCached);
        Assert.True(polar.Server.RequestCount > whileCached, "the expired target was not read again");
    }

    [Fact]
    public async Task Grant_target_is_not_cached_when_the_cache_time_is_zero()
    {
        await using var polar = await EmulatorHost.StartAsync(configure: o => o.MeterCacheSeconds = 0);

        await polar.Gateway.GetGrantTargetAsync("API Calls");
        var afterFirstRead = polar.Server.RequestCount;
        await polar.Gateway.GetGrantTargetAsync("API Calls");

        Assert.True(polar.Server.RequestCount > afterFirstRead);
    }

    [Fact]
    public async Task Grant_target_refreshed_after_expiry_sees_a_meter_created_since()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var polar = await EmulatorHost.StartAsync(new EmulatorOptions { SeedMeter = true, TimeProvider = time },
            o => o.MeterCacheSeconds = 60, time);
        var cached = await polar.Gateway.GetGrantTargetAsync("API Calls");
        // A second meter of the same name makes the name ambiguous; only a fresh read can notice.
        await CreateMeter(polar, "API Calls", "llm_tokens");

        Assert.Same(cached, await polar.Gateway.GetGrantTargetAsync("API Calls"));
        time.Advance(TimeSpan.FromSeconds(61));
        var refusal = await Assert.ThrowsAsync<MeterNotGrantableException>(() => polar.Gateway.GetGrantTargetAsync("API Calls"));

        Assert.Equal(MeterProblem.Ambiguous, refusal.Problem);
    }
}
