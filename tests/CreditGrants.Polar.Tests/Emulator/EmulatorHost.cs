using CreditGrants.Polar.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator;

namespace CreditGrants.Polar.Tests.Emulator;

/// <summary>An in-process emulator and the gateway pointed at it over HTTP, disposed together.</summary>
public sealed class EmulatorHost : IAsyncDisposable
{
    private EmulatorHost(PolarEmulatorServer server, PolarTestHost app)
    {
        Server = server;
        App = app;
    }

    public PolarEmulatorServer Server { get; }

    public PolarTestHost App { get; }

    public IPolarGateway Gateway => App.Gateway;

    public static async Task<EmulatorHost> StartAsync(EmulatorOptions? options = null, Action<PolarClientOptions>? configure = null,
        FakeTimeProvider? time = null, string? token = null)
    {
        var server = await PolarEmulatorServer.StartAsync(options ?? new EmulatorOptions { SeedMeter = true });
        return new EmulatorHost(server, PolarTestHost.ForServer(server.BaseAddress, token ?? server.Token, configure, time));
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Server.DisposeAsync();
    }
}
