using CreditGrants.Polar.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Polar.Tests.Support;

/// <summary>
/// The gateway as the app builds it (<c>AddPolarGateway</c> and its resilience pipeline), pointed at a stub handler
/// or an emulator, with every log record collected and, when asked, a fake clock.
/// </summary>
public sealed class PolarTestHost : IAsyncDisposable
{
    public const string Token = "polar_oat_TestSecretToken0123456789abcdef";

    private readonly ServiceProvider _services;

    private PolarTestHost(ServiceProvider services, StubHandler? stub, FakeTimeProvider? time)
    {
        _services = services;
        Stub = stub;
        Time = time;
    }

    public StubHandler? Stub { get; }

    public FakeTimeProvider? Time { get; }

    public IPolarGateway Gateway => _services.GetRequiredService<IPolarGateway>();

    public PolarClient Client => _services.GetRequiredService<PolarClient>();

    public FakeLogCollector Logs => _services.GetRequiredService<FakeLogCollector>();

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    /// <summary>A host whose requests go to <paramref name="stub"/>.</summary>
    public static PolarTestHost ForStub(StubHandler stub, Action<PolarClientOptions>? configure = null,
        FakeTimeProvider? time = null, PolarRequestBudget? budget = null) =>
        Build("http://polar.test", Token, configure, stub, time, budget);

    /// <summary>A host whose requests go over HTTP to <paramref name="server"/>.</summary>
    public static PolarTestHost ForServer(Uri server, string token, Action<PolarClientOptions>? configure = null,
        FakeTimeProvider? time = null) =>
        Build(server.AbsoluteUri, token, configure, null, time, null);

    private static PolarTestHost Build(string server, string token, Action<PolarClientOptions>? configure, StubHandler? stub,
        FakeTimeProvider? time, PolarRequestBudget? budget)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddFakeLogging());
        if (time is not null)
        {
            services.AddSingleton<TimeProvider>(time);
        }

        if (budget is not null)
        {
            services.AddSingleton(budget);
        }

        services.AddPolarGateway(options =>
        {
            options.Server = server;
            options.AccessToken = token;
            configure?.Invoke(options);
        });
        if (stub is not null)
        {
            services.AddHttpClient<PolarClient>().ConfigurePrimaryHttpMessageHandler(() => stub);
        }

        return new PolarTestHost(services.BuildServiceProvider(validateScopes: true), stub, time);
    }

    /// <summary>
    /// Awaits a call whose retries or timeouts wait on the fake clock, moving the clock on a second at a time
    /// while the call is pending; returns how far the clock moved.
    /// </summary>
    public async Task<TimeSpan> DriveAsync(Task call, TimeSpan? step = null, TimeSpan? limit = null)
    {
        var clock = Time ?? throw new InvalidOperationException("This host has no fake clock.");
        var start = clock.GetUtcNow();
        var by = step ?? TimeSpan.FromSeconds(1);
        var until = start + (limit ?? TimeSpan.FromHours(1));
        while (!call.IsCompleted)
        {
            // Give the pipeline a moment to reach its next wait before the clock moves.
            await Task.WhenAny(call, Task.Delay(5));
            if (call.IsCompleted)
            {
                break;
            }

            if (clock.GetUtcNow() >= until)
            {
                throw new TimeoutException($"The call was still pending after the fake clock moved {until - start}.");
            }

            clock.Advance(by);
        }

        await call.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return clock.GetUtcNow() - start;
    }

    public async ValueTask DisposeAsync() => await _services.DisposeAsync();
}
