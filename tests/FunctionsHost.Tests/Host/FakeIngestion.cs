using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FunctionsHost.Tests.Host;

/// <summary>
/// Application Insights' ingestion endpoint on loopback (<c>POST /v2.1/track</c>, <c>/v2/track</c>): takes the telemetry
/// the worker's SDK sends (newline-delimited JSON, gzip or not) and keeps each item, so a test can read what would reach
/// Application Insights. Point a connection string's <c>IngestionEndpoint</c> at <see cref="Address"/>.
/// </summary>
internal sealed class FakeIngestion : IAsyncDisposable
{
    private readonly WebApplication _server;
    private readonly ConcurrentQueue<JsonObject> _items = new();

    private FakeIngestion(WebApplication server) => _server = server;

    public Uri Address { get; private set; } = null!;

    /// <summary>A connection string that sends everything here (live metrics too, should the SDK try them).</summary>
    public string ConnectionString =>
        $"InstrumentationKey=00000000-0000-0000-0000-0000000000a1;IngestionEndpoint={Address.AbsoluteUri};LiveEndpoint={Address.AbsoluteUri}";

    public IReadOnlyCollection<JsonObject> Items => _items.ToArray();

    /// <summary>Every request body as received (decompressed), for scans of what was sent.</summary>
    public IReadOnlyCollection<string> Bodies => _bodies.ToArray();

    private readonly ConcurrentQueue<string> _bodies = new();

    public static async Task<FakeIngestion> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var server = builder.Build();
        var ingestion = new FakeIngestion(server);
        server.MapPost("/v2.1/track", ingestion.TrackAsync);
        server.MapPost("/v2/track", ingestion.TrackAsync);
        server.MapFallback((HttpContext context) => Results.Ok());
        await server.StartAsync();
        var address = server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        ingestion.Address = new Uri(address.EndsWith('/') ? address : address + "/");
        return ingestion;
    }

    private async Task<IResult> TrackAsync(HttpRequest request)
    {
        Stream body = request.Body;
        if (request.Headers.ContentEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
        {
            body = new GZipStream(request.Body, CompressionMode.Decompress);
        }

        using var reader = new StreamReader(body);
        var text = await reader.ReadToEndAsync();
        _bodies.Enqueue(text);
        var received = 0;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (JsonNode.Parse(line) is JsonObject item)
            {
                _items.Enqueue(item);
                received++;
            }
        }

        return Results.Json(new { itemsReceived = received, itemsAccepted = received, errors = Array.Empty<object>() });
    }

    /// <summary>Log messages (MessageData items): the text and its custom dimensions.</summary>
    public IEnumerable<(string Message, JsonObject Properties)> Messages() =>
        Items.Where(i => (string?)i["data"]?["baseType"] == "MessageData")
            .Select(i => ((string?)i["data"]!["baseData"]!["message"] ?? "", i["data"]!["baseData"]!["properties"] as JsonObject ?? []));

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync();
        await _server.DisposeAsync();
    }
}
