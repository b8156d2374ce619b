using System.Net.Http.Headers;

namespace PolarEmulator.Tests.Support;

/// <summary>One emulator on a free loopback port for a test class, with a client that sends its token.</summary>
public sealed class EmulatorFixture : IAsyncLifetime
{
    private PolarEmulatorServer? _server;
    private HttpClient? _client;

    public PolarEmulatorServer Server => _server ?? throw new InvalidOperationException("The emulator has not started.");

    public HttpClient Client => _client ?? throw new InvalidOperationException("The emulator has not started.");

    public async Task InitializeAsync()
    {
        _server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true });
        _client = ClientFor(_server);
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>A client that sends the server's token and follows no redirects (so 307s are seen).</summary>
    public static HttpClient ClientFor(PolarEmulatorServer server, string? token = null)
    {
        var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token ?? server.Token);
        return client;
    }
}
