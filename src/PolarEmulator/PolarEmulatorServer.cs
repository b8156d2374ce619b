using System.Net;
using System.Security.Cryptography;
using CreditGrants.Polar.Models;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using PolarEmulator.Hosting;
using PolarEmulator.Http;
using PolarEmulator.Store;
using PolarEmulator.Webhooks;

namespace PolarEmulator;

/// <summary>A running emulator on a loopback port: start it, point a Polar client at <see cref="BaseAddress"/>, dispose it.</summary>
public sealed class PolarEmulatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RequestCounter _counter;
    private readonly StatePersister? _persister;
    private int _disposed;

    private PolarEmulatorServer(WebApplication app, Uri baseAddress, string token, Guid organizationId, StatePersister? persister)
    {
        _app = app;
        _counter = app.Services.GetRequiredService<RequestCounter>();
        _persister = persister;
        BaseAddress = baseAddress;
        Token = token;
        OrganizationId = organizationId;
    }

    /// <summary>Where the emulator listens, with a trailing slash: <c>http://127.0.0.1:54321/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The bearer token it accepts.</summary>
    public string Token { get; }

    /// <summary>The organization every customer and meter belongs to.</summary>
    public Guid OrganizationId { get; }

    /// <summary>Requests received on any route, including refused, faulted and rate-limited ones.</summary>
    public int RequestCount => _counter.Count;

    /// <summary>
    /// Requests received on one route: the method and the path's first three segments, as in <c>GET /v1/customers/external</c>,
    /// <c>POST /v1/events/ingest</c>, <c>GET /v1/events</c> or <c>GET /v1/customers</c> (no trailing slash).
    /// </summary>
    public int RequestCountOf(string route) => _counter.CountOf(route);

    /// <summary>Requests answered 429 because their one-minute window's budget (<see cref="EmulatorOptions.RequestsPerMinute"/>) was spent.</summary>
    public int RateLimitedCount => _counter.RateLimited;

    /// <summary>How many ingested events the emulator holds (deduplicated by <c>external_id</c> as Polar does; system events not counted).</summary>
    public int EventCount => _app.Services.GetRequiredService<EmulatorStore>().EventCount;

    /// <summary>
    /// Ends the event store and balance lags now (<see cref="EmulatorOptions.EventStoreLag"/>, <see cref="EmulatorOptions.BalanceLag"/>):
    /// everything ingested so far is listed and counted. Also <c>POST /__emulator/catch-up</c>.
    /// </summary>
    private WebhookDispatcher Webhooks => _app.Services.GetRequiredService<WebhookDispatcher>();

    /// <summary>Adds a webhook endpoint (its secret generated when null): every later webhook is delivered to it too.</summary>
    public WebhookEndpointView AddWebhookEndpoint(Uri url, string? secret = null) => Webhooks.Add(new WebhookEndpointOptions(url, secret));

    /// <summary>The webhook endpoints, in the order they were added.</summary>
    public IReadOnlyList<WebhookEndpointView> WebhookEndpoints => Webhooks.Endpoints;

    /// <summary>Every webhook delivery so far, oldest first, with its attempts.</summary>
    public IReadOnlyList<WebhookDelivery> WebhookDeliveries => Webhooks.Deliveries;

    /// <summary>Waits until the delivery log satisfies <paramref name="condition"/>; no polling, it is checked after every change.</summary>
    public Task<IReadOnlyList<WebhookDelivery>> WaitForWebhooksAsync(Func<IReadOnlyList<WebhookDelivery>, bool> condition,
        CancellationToken cancellationToken = default) => Webhooks.WaitAsync(condition, cancellationToken);

    public void CatchUp() => _app.Services.GetRequiredService<EmulatorStore>().CatchUp();

    /// <summary>The operations of Polar's API the emulator serves, as <c>METHOD /path/template</c> (<c>GET /v1/customers/{id}</c>).</summary>
    internal IReadOnlyList<string> ServedOperations => [.. _app.Services.GetRequiredService<PolarRouter>().Routes
        .Where(r => r.Handler is not null && r.Template.StartsWith("/v1/", StringComparison.Ordinal))
        .Select(r => $"{r.Method} {r.Template}")];

    /// <summary>The guide's meter: the sum of <c>units</c> over events named <c>api_usage</c>.</summary>
    internal static MeterDraft SeedMeterDraft { get; } = new(
        "API Calls",
        MeterFilter.NameEquals("api_usage"),
        MeterAggregation.Sum("units"),
        "scalar",
        CustomLabel: null,
        CustomMultiplier: null,
        new Dictionary<string, System.Text.Json.JsonElement>());

    /// <summary>Starts an emulator on 127.0.0.1; with a data file, its state is loaded first.</summary>
    public static Task<PolarEmulatorServer> StartAsync(EmulatorOptions options, CancellationToken cancellationToken = default) =>
        StartAsync(options, configureLogging: null, cancellationToken);

    internal static async Task<PolarEmulatorServer> StartAsync(EmulatorOptions options, Action<ILoggingBuilder>? configureLogging, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        var token = options.Token ?? NewToken();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(PolarEmulatorServer).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, options.Port);
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = EmulatorPipeline.MaxBodyBytes;
        });
        builder.Services.AddLogging(logging => configureLogging?.Invoke(logging));

        StatePersister? persister = null;
        EmulatorStore store;
        var snapshot = options.DataFile is { } path ? await StateFile.LoadAsync(path, cancellationToken).ConfigureAwait(false) : null;
        if (options.DataFile is { } dataFile)
        {
            persister = new StatePersister(dataFile, options.TimeProvider, LoggerFactoryFor(configureLogging).CreateLogger<StatePersister>());
        }

        Action changed = persister is null ? static () => { } : persister.MarkChanged;
        store = snapshot is null
            ? new EmulatorStore(Guid.NewGuid(), options.TimeProvider, changed)
            : EmulatorStore.Restore(snapshot, options.TimeProvider, changed);
        persister?.Attach(store.Snapshot);
        store.EventStoreLag = options.EventStoreLag;
        store.BalanceLag = options.BalanceLag;
        if (options.SeedMeter)
        {
            store.EnsureMeter(SeedMeterDraft);
        }

        store.SeedCustomers(options.SeedCustomers);
        store.SeedCustomers(options.CustomerSeeds);

        var webhooks = new WebhookDispatcher(store, options.TimeProvider, options.WebhookRetryBase, options.WebhookEndpoints);
        builder.Services.AddSingleton(webhooks);
        builder.Services.AddPolarEmulator(options, token, store);
        var app = builder.Build();
        app.UsePolarPipeline();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            await webhooks.DisposeAsync().ConfigureAwait(false);
            if (persister is not null)
            {
                await persister.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var baseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        return new PolarEmulatorServer(app, baseAddress, token, store.OrganizationId, persister);
    }

    /// <summary>Stops listening, then saves the state if a data file is configured.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _app.StopAsync().ConfigureAwait(false);
        await Webhooks.DisposeAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        if (_persister is not null)
        {
            await _persister.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A new organization access token: <c>polar_oat_</c> and 43 random URL-safe characters.</summary>
    internal static string NewToken() =>
        "polar_oat_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static ILoggerFactory LoggerFactoryFor(Action<ILoggingBuilder>? configureLogging) =>
        configureLogging is null ? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance : LoggerFactory.Create(configureLogging);

    private static void Validate(EmulatorOptions options)
    {
        if (options.Port is < 0 or > 65535)
        {
            throw new ArgumentException($"Port {options.Port} is not valid: use 0 (a free port) to 65535.", nameof(options));
        }

        if (options.RequestsPerMinute is < 1)
        {
            throw new ArgumentException($"RequestsPerMinute {options.RequestsPerMinute} is not valid: use a positive number, or null for no limit.", nameof(options));
        }

        if (options.Token is { } token && string.IsNullOrWhiteSpace(token))
        {
            throw new ArgumentException("Token is blank: give a token, or null to have one generated.", nameof(options));
        }

        var faults = options.Faults ?? throw new ArgumentException("Faults is null: use FaultOptions.None.", nameof(options));
        if (faults.ErrorRate is < 0 or > 1 || double.IsNaN(faults.ErrorRate))
        {
            throw new ArgumentException($"Faults.ErrorRate {faults.ErrorRate} is not valid: use a fraction from 0 to 1.", nameof(options));
        }

        if (faults.DropRate is < 0 or > 1 || double.IsNaN(faults.DropRate))
        {
            throw new ArgumentException($"Faults.DropRate {faults.DropRate} is not valid: use a fraction from 0 to 1.", nameof(options));
        }

        if (options.SeedCustomers < 0)
        {
            throw new ArgumentException($"SeedCustomers {options.SeedCustomers} is not valid: use 0 or more.", nameof(options));
        }

        if (options.EventStoreLag < TimeSpan.Zero || options.BalanceLag < TimeSpan.Zero)
        {
            throw new ArgumentException($"EventStoreLag {options.EventStoreLag} and BalanceLag {options.BalanceLag} must not be negative.", nameof(options));
        }

        if (faults.Latency < TimeSpan.Zero)
        {
            throw new ArgumentException($"Faults.Latency {faults.Latency} is negative.", nameof(options));
        }

        if (options.WebhookRetryBase <= TimeSpan.Zero)
        {
            throw new ArgumentException($"WebhookRetryBase {options.WebhookRetryBase} is not valid: use a positive time.", nameof(options));
        }

        foreach (var endpoint in options.WebhookEndpoints)
        {
            if (!endpoint.Url.IsAbsoluteUri || endpoint.Url.Scheme is not ("http" or "https")
                || !EmulatorPipeline.ApiVersions.Contains(endpoint.ApiVersion, StringComparer.Ordinal))
            {
                throw new ArgumentException(
                    $"Webhook endpoint {endpoint.Url} ({endpoint.ApiVersion}) is not valid: use an absolute http or https URL and an API version the emulator serves.",
                    nameof(options));
            }
        }
    }
}
