using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FunctionsHost.Tests.Host;

/// <summary>
/// The host's HTTP front on loopback: a real HTTP listener (Kestrel) that turns each request into the same RpcHttp
/// invocation <see cref="HostHttp"/> builds, and the worker's answer into the HTTP response, as the Functions host does.
/// For clients that speak HTTP themselves (a generated TypeScript client under Node). Function keys are not checked.
/// </summary>
internal sealed class HostHttpFront : IAsyncDisposable
{
    // Hop-by-hop and framing headers: Kestrel writes its own.
    private static readonly HashSet<string> FramingHeaders = new(StringComparer.OrdinalIgnoreCase) { "Content-Length", "Transfer-Encoding", "Connection" };

    private readonly WebApplication _server;
    private readonly WorkerHost _host;
    private readonly ConcurrentQueue<Exception> _failures = new();

    private HostHttpFront(WebApplication server, WorkerHost host)
    {
        _server = server;
        _host = host;
    }

    /// <summary>Where the front listens (<c>http://127.0.0.1:port/</c>); routes are under <c>api/</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>What went wrong behind the front: no route, a failed invocation, an exchange that breaks the contract.</summary>
    public IReadOnlyCollection<Exception> Failures => _failures.ToArray();

    public static async Task<HostHttpFront> StartAsync(WorkerHost host)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var server = builder.Build();
        var front = new HostHttpFront(server, host);
        server.Run(front.ForwardAsync);
        await server.StartAsync();
        var address = server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        front.Address = new Uri(address.EndsWith('/') ? address : address + "/");
        return front;
    }

    private async Task ForwardAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        HostHttpResponse answer;
        try
        {
            var pathAndQuery = context.Request.Path.Value!.TrimStart('/') + context.Request.QueryString.Value;
            answer = await _host.SendAsync(new HttpMethod(context.Request.Method), pathAndQuery, body.ToArray(), headers, Address, context.RequestAborted);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OpenApiContractException)
        {
            _failures.Enqueue(ex);
            context.Response.StatusCode = ex.Message.Contains("(404)", StringComparison.Ordinal) ? 404 : 500;
            await context.Response.WriteAsync(ex.Message, context.RequestAborted);
            return;
        }

        context.Response.StatusCode = (int)answer.Status;
        foreach (var (name, value) in answer.Headers.Where(h => !FramingHeaders.Contains(h.Key)))
        {
            context.Response.Headers[name] = value;
        }

        await context.Response.Body.WriteAsync(answer.Body, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync();
        await _server.DisposeAsync();
    }
}
