using PolarEmulator.Endpoints;
using PolarEmulator.Http;
using PolarEmulator.Store;

namespace PolarEmulator.Hosting;

/// <summary>Registers what an emulator is made of.</summary>
internal static class EmulatorServices
{
    public static IServiceCollection AddPolarEmulator(this IServiceCollection services, EmulatorOptions options, string token, EmulatorStore store)
    {
        services.AddSingleton<IHostLifetime, EmbeddedHostLifetime>();
        services.AddSingleton(options);
        services.AddSingleton(options.TimeProvider);
        services.AddSingleton(store);
        services.AddSingleton(new TokenPolicy(token, options.Scopes));
        services.AddSingleton(new RateLimiter(options.RequestsPerMinute, options.TimeProvider));
        services.AddSingleton(new FaultInjector(options.Faults));
        services.AddSingleton<RequestCounter>();
        services.AddSingleton<CustomerEndpoints>();
        services.AddSingleton<EventEndpoints>();
        services.AddSingleton<MeterEndpoints>();
        services.AddSingleton<CustomerMeterEndpoints>();
        services.AddSingleton<ControlEndpoints>();
        services.AddSingleton<LifecycleEndpoints>();
        services.AddSingleton(provider => PolarRoutes.Build(
            provider.GetRequiredService<CustomerEndpoints>(),
            provider.GetRequiredService<EventEndpoints>(),
            provider.GetRequiredService<MeterEndpoints>(),
            provider.GetRequiredService<CustomerMeterEndpoints>(),
            provider.GetRequiredService<ControlEndpoints>(),
            provider.GetRequiredService<LifecycleEndpoints>()));
        return services;
    }

    /// <summary>The emulator runs inside other processes (tests, the CLI): it must not take over Ctrl+C or SIGTERM.</summary>
    private sealed class EmbeddedHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
