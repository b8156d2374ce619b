namespace PolarEmulator;

/// <summary>How an emulator instance behaves: its token, port, state file, request budget, faults and clock.</summary>
public sealed record EmulatorOptions
{
    /// <summary>The only bearer token accepted; when null a <c>polar_oat_…</c> token is generated.</summary>
    public string? Token { get; init; }

    /// <summary>The loopback port to listen on; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Creates the guide's "API Calls" meter (sum of <c>units</c> over <c>api_usage</c> events) unless one exists.</summary>
    public bool SeedMeter { get; init; }

    /// <summary>Customers <c>user-1</c> … <c>user-N</c> (emails <c>user-N@bench.dev</c>) to add at start, for load tests; 0 adds none.</summary>
    public int SeedCustomers { get; init; }

    /// <summary>Described customers to add at start unless their external id or email is taken (with metadata, and an active subscription or none).</summary>
    public IReadOnlyList<EmulatorCustomerSeed> CustomerSeeds { get; init; } = [];

    /// <summary>A JSON file the state is loaded from at start and saved to (atomically) as it changes and on dispose.</summary>
    public string? DataFile { get; init; }

    /// <summary>Requests allowed per fixed one-minute window (every request counts, bad tokens too); null means no limit.</summary>
    public int? RequestsPerMinute { get; init; }

    /// <summary>Injected errors, latency and dropped connections; none by default.</summary>
    public FaultOptions Faults { get; init; } = FaultOptions.None;

    /// <summary>The token's scopes (<c>customers:read</c>, <c>events:write</c>, …); null grants every scope.</summary>
    public IReadOnlyCollection<string>? Scopes { get; init; }

    /// <summary>
    /// Stricter than Polar about what an ingested event refers to: an event with both <c>customer_id</c> and
    /// <c>external_customer_id</c> is refused (Polar takes it as a <c>customer_id</c> event), and a <c>parent_id</c> must name
    /// the <c>external_id</c> or id of an event already stored or in the same request (Polar accepts any and resolves it later).
    /// Off by default.
    /// </summary>
    public bool StrictEventReferences { get; init; }

    /// <summary>
    /// How long an ingested event is missing from <c>GET /v1/events/</c> (and a 404 at <c>GET /v1/events/{id}</c>, and out of
    /// meter quantities), as Polar's asynchronously fed event store makes it for a few seconds. Measured on
    /// <see cref="TimeProvider"/>; zero (the default) shows events at once. <see cref="PolarEmulatorServer.CatchUp"/> ends it.
    /// </summary>
    public TimeSpan EventStoreLag { get; init; }

    /// <summary>
    /// How long an ingested event stays out of balances (customer meters and customer state), as Polar's background
    /// recompute (debounced about 15 s) makes it. Measured on <see cref="TimeProvider"/>; zero (the default) counts at once.
    /// </summary>
    public TimeSpan BalanceLag { get; init; }

    /// <summary>Polar's lags as they usually are: events listed after about 3 s, balances recomputed after about 15 s.</summary>
    public static (TimeSpan EventStore, TimeSpan Balance) RealisticLag { get; } = (TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(15));

    /// <summary>
    /// Endpoints to send Polar's webhooks to (Standard Webhooks–signed, one delivery at a time per endpoint); more can be
    /// added while running (<see cref="PolarEmulatorServer.AddWebhookEndpoint"/>, <c>POST /__emulator/webhooks/endpoints</c>).
    /// </summary>
    public IReadOnlyList<PolarEmulator.Webhooks.WebhookEndpointOptions> WebhookEndpoints { get; init; } = [];

    /// <summary>
    /// The base of the webhook retry schedule: a failed attempt n is retried after <c>min(base·2^(n−1), 20 min)</c> on
    /// <see cref="TimeProvider"/>. Default 15 s; shorten it to see retries quickly.
    /// </summary>
    public TimeSpan WebhookRetryBase { get; init; } = DefaultWebhookRetryBase;

    /// <summary>The default <see cref="WebhookRetryBase"/>.</summary>
    public static TimeSpan DefaultWebhookRetryBase { get; } = TimeSpan.FromSeconds(15);

    /// <summary>The clock behind timestamps, the future-timestamp check, rate-limit windows and latency.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>Deterministic fault injection: the same seed gives the same faults for the same sequence of requests.</summary>
public sealed record FaultOptions
{
    /// <summary>No faults at all.</summary>
    public static FaultOptions None { get; } = new();

    /// <summary>Seeds the random sequence that decides which requests fail.</summary>
    public int Seed { get; init; }

    /// <summary>Fraction (0–1) of requests answered 500 or 503 before any work is done.</summary>
    public double ErrorRate { get; init; }

    /// <summary>Delay added to every request.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>Fraction (0–1) of requests whose connection is aborted without an answer.</summary>
    public double DropRate { get; init; }

    /// <summary>Fraction (0–1) of requests answered 429 with <c>Retry-After</c>, as Polar does when the organization's budget is spent.</summary>
    public double RateLimitRate { get; init; }

    /// <summary>
    /// Fraction (0–1) of requests that are carried out and whose answer is then lost (the connection is aborted): the
    /// client cannot tell whether it took effect, and must retry safely.
    /// </summary>
    public double LostAnswerRate { get; init; }

    /// <summary>Fraction (0–1) of requests delayed by <see cref="SpikeLatency"/> on top of <see cref="Latency"/>.</summary>
    public double SpikeRate { get; init; }

    /// <summary>The delay of a latency spike.</summary>
    public TimeSpan SpikeLatency { get; init; }

    /// <summary>Whether any fault is configured.</summary>
    public bool IsActive => ErrorRate > 0 || DropRate > 0 || Latency > TimeSpan.Zero || RateLimitRate > 0 || LostAnswerRate > 0 || SpikeRate > 0;
}

/// <summary>
/// A customer to seed: Polar's fields plus whether it has an active subscription, which the emulator cannot otherwise
/// create (it has no subscriptions) and answers <c>GET /v1/customers/?active=</c> from.
/// </summary>
public sealed record EmulatorCustomerSeed(string ExternalId, string Email, string? Name, IReadOnlyDictionary<string, string> Metadata, bool HasActiveSubscription);
