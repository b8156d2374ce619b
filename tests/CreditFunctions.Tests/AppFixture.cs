using CreditFunctions.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests;

/// <summary>The Functions app's services, wired as Program.cs wires them, against an in-process Polar emulator.</summary>
internal sealed class App : IAsyncDisposable
{
    private App(PolarEmulatorServer emulator, ServiceProvider services)
    {
        Emulator = emulator;
        Services = services;
    }

    public PolarEmulatorServer Emulator { get; }

    public ServiceProvider Services { get; }

    public GrantApi Api => Services.GetRequiredService<GrantApi>();

    public static async Task<App> StartAsync(EmulatorOptions? emulatorOptions = null, Dictionary<string, string?>? settings = null,
        string? token = null, Action<IServiceCollection>? configure = null)
    {
        var emulator = await PolarEmulatorServer.StartAsync(emulatorOptions ?? new EmulatorOptions { SeedMeter = true });
        var configuration = new Dictionary<string, string?>
        {
            ["Polar:Server"] = emulator.BaseAddress.AbsoluteUri,
            ["Polar:AccessToken"] = token ?? emulator.Token,
            ["Polar:MaxRetries"] = "0",
            ["Polar:MeterCacheSeconds"] = "0",
        };
        foreach (var (key, value) in settings ?? [])
        {
            configuration[key] = value;
        }

        var collection = new ServiceCollection()
            .AddLogging()
            .AddCreditFunctions(new ConfigurationBuilder().AddInMemoryCollection(configuration).Build());
        configure?.Invoke(collection);
        var services = collection.BuildServiceProvider();
        return new App(emulator, services);
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        await Emulator.DisposeAsync();
    }
}
