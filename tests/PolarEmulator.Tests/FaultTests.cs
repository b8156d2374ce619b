using System.Net;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>Injected faults: seeded and deterministic, decided before any work.</summary>
public sealed class FaultTests
{
    private static async Task<IReadOnlyList<string>> OutcomesAsync(FaultOptions faults, int requests)
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { Faults = faults });
        using var client = EmulatorFixture.ClientFor(server);
        var outcomes = new List<string>();
        for (var i = 0; i < requests; i++)
        {
            try
            {
                using var response = await client.GetAsync("v1/meters/");
                outcomes.Add(((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (HttpRequestException)
            {
                outcomes.Add("dropped");
            }
        }

        return outcomes;
    }

    [Fact]
    public async Task Same_seed_gives_the_same_faults()
    {
        var faults = new FaultOptions { Seed = 42, ErrorRate = 0.3, DropRate = 0.1 };

        var first = await OutcomesAsync(faults, 40);
        var second = await OutcomesAsync(faults, 40);

        Assert.Equal(first, second);
        Assert.Contains("200", first);
        Assert.Contains(first, o => o is "500" or "503");
        Assert.Contains("dropped", first);
    }

    [Fact]
    public async Task Different_seeds_give_different_faults()
    {
        var first = await OutcomesAsync(new FaultOptions { Seed = 1, ErrorRate = 0.5 }, 30);
        var second = await OutcomesAsync(new FaultOptions { Seed = 2, ErrorRate = 0.5 }, 30);

        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task Error_rate_of_one_answers_every_request_500_or_503_and_does_no_work()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { Faults = new FaultOptions { ErrorRate = 1 } });
        using var client = EmulatorFixture.ClientFor(server);

        using var create = await client.PostJsonAsync("v1/customers/", """{"email":"faulty@acme.io"}""");

        Assert.Contains(create.StatusCode, new[] { HttpStatusCode.InternalServerError, HttpStatusCode.ServiceUnavailable });
        Assert.Equal(1, server.RequestCount);
    }

    [Fact]
    public async Task Drop_rate_of_one_aborts_every_connection()
    {
        var outcomes = await OutcomesAsync(new FaultOptions { DropRate = 1 }, 3);

        Assert.All(outcomes, o => Assert.Equal("dropped", o));
    }

    [Fact]
    public async Task Latency_is_waited_on_the_emulator_clock()
    {
        var time = new FakeTimeProvider();
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions
        {
            TimeProvider = time,
            Faults = new FaultOptions { Latency = TimeSpan.FromSeconds(30) },
        });
        using var client = EmulatorFixture.ClientFor(server);

        var pending = client.GetAsync("v1/meters/");
        var advanced = TimeSpan.Zero;
        var realTime = System.Diagnostics.Stopwatch.StartNew();
        while (!pending.IsCompleted && realTime.Elapsed < TimeSpan.FromSeconds(20))
        {
            // The answer may only come once the emulator's clock has moved the whole latency.
            await Task.Yield();
            if (server.RequestCount > 0)
            {
                time.Advance(TimeSpan.FromSeconds(1));
                advanced += TimeSpan.FromSeconds(1);
            }
        }

        using var response = await pending;
        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.True(advanced >= TimeSpan.FromSeconds(30), $"Answered after {advanced} of emulator time.");
    }
}
