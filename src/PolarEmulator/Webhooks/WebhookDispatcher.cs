using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using PolarEmulator.Store;

namespace PolarEmulator.Webhooks;

/// <summary>
/// Sends Polar's webhooks to the configured endpoints by the Standard Webhooks scheme: one delivery at a time per endpoint,
/// each retried on failure after <c>min(base·2^(n−1), 20 min)</c> (measured on the emulator's clock), up to
/// <see cref="MaxAttempts"/> attempts, every attempt logged.
/// </summary>
internal sealed class WebhookDispatcher : IAsyncDisposable
{
    /// <summary>Polar's attempts per delivery.</summary>
    public const int MaxAttempts = 10;

    /// <summary>The longest wait between two attempts.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(20);

    /// <summary>How long one attempt may take, as Polar allows.</summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly List<Endpoint> _endpoints = [];
    private readonly List<WebhookDelivery> _log = [];
    private readonly TimeProvider _time;
    private readonly TimeSpan _retryBase;
    private readonly EmulatorStore _store;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _logChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public WebhookDispatcher(EmulatorStore store, TimeProvider time, TimeSpan retryBase, IEnumerable<WebhookEndpointOptions> endpoints)
    {
        _store = store;
        _time = time;
        _retryBase = retryBase;
        // Deliveries go where they are configured to go, never through a proxy; the attempt timeout is ours, on the emulator's clock.
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("polar.sh webhooks");
        foreach (var endpoint in endpoints)
        {
            Add(endpoint);
        }
    }

    /// <summary>Adds an endpoint (its secret generated when none is given); every later webhook is delivered to it.</summary>
    public WebhookEndpointView Add(WebhookEndpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var endpoint = new Endpoint(Guid.NewGuid(), options.Url, options.Secret ?? NewSecret(), options.ApiVersion);
        lock (_lock)
        {
            _endpoints.Add(endpoint);
            _store.Webhooks = Enqueue;
        }

        endpoint.Worker = Task.Run(() => DeliverAllAsync(endpoint, _stopping.Token));
        return endpoint.View;
    }

    /// <summary>The endpoints, in the order they were added.</summary>
    public IReadOnlyList<WebhookEndpointView> Endpoints
    {
        get
        {
            lock (_lock)
            {
                return [.. _endpoints.Select(e => e.View)];
            }
        }
    }

    /// <summary>Every delivery so far, oldest first, with its attempts.</summary>
    public IReadOnlyList<WebhookDelivery> Deliveries
    {
        get
        {
            lock (_lock)
            {
                return [.. _log.Select(d => d with { Attempts = [.. d.Attempts] })];
            }
        }
    }

    /// <summary>Waits until the delivery log satisfies <paramref name="condition"/> (checked at once and after every change).</summary>
    public async Task<IReadOnlyList<WebhookDelivery>> WaitAsync(Func<IReadOnlyList<WebhookDelivery>, bool> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                changed = _logChanged.Task;
            }

            var deliveries = Deliveries;
            if (condition(deliveries))
            {
                return deliveries;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Queues a webhook for every endpoint (called by the store under its lock: it only queues).</summary>
    private void Enqueue(WebhookMessage message)
    {
        lock (_lock)
        {
            foreach (var endpoint in _endpoints)
            {
                // Polar writes the endpoint's API version into each payload.
                var payload = message.Payload.DeepClone().AsObject();
                payload["api_version"] = endpoint.ApiVersion;
                var delivery = new WebhookDelivery(Guid.NewGuid().ToString(), endpoint.Id, endpoint.Url, message.Type, message.Timestamp,
                    WebhookDelivery.Pending, [], payload.ToJsonString());
                _log.Add(delivery);
                endpoint.Queue.Writer.TryWrite(_log.Count - 1);
            }

            Changed();
        }
    }

    private async Task DeliverAllAsync(Endpoint endpoint, CancellationToken stopping)
    {
        try
        {
            await foreach (var index in endpoint.Queue.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                await DeliverAsync(endpoint, index, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The emulator is stopping: undelivered webhooks stay pending in the log.
        }
    }

    private async Task DeliverAsync(Endpoint endpoint, int index, CancellationToken stopping)
    {
        WebhookDelivery delivery;
        lock (_lock)
        {
            delivery = _log[index];
        }

        var body = Encoding.UTF8.GetBytes(delivery.Payload);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var at = _time.GetUtcNow();
            var (status, error) = await AttemptAsync(endpoint, delivery.Id, at, body, stopping).ConfigureAwait(false);
            var succeeded = status is >= 200 and < 300;
            Task? wait = null;
            DateTimeOffset? next = null;
            if (!succeeded && attempt < MaxAttempts)
            {
                var backoff = Backoff(_retryBase, attempt);
                // The timer starts before the attempt is logged, so a test that advances the clock once it sees the log is never early.
                wait = Task.Delay(backoff, _time, stopping);
                next = _time.GetUtcNow() + backoff;
            }

            lock (_lock)
            {
                var current = _log[index];
                _log[index] = current with
                {
                    Status = succeeded ? WebhookDelivery.Succeeded : next is null ? WebhookDelivery.Failed : WebhookDelivery.Pending,
                    Attempts = [.. current.Attempts, new WebhookAttempt(attempt, at, status, error, next)],
                };
                Changed();
            }

            if (wait is null)
            {
                return;
            }

            await wait.ConfigureAwait(false);
        }
    }

    /// <summary>The wait after the n-th failed attempt: <c>min(base·2^(n−1), 20 min)</c>.</summary>
    public static TimeSpan Backoff(TimeSpan retryBase, int failedAttempt) =>
        TimeSpan.FromTicks((long)Math.Min(retryBase.Ticks * Math.Pow(2, failedAttempt - 1), MaxBackoff.Ticks));

    private async Task<(int? Status, string? Error)> AttemptAsync(Endpoint endpoint, string id, DateTimeOffset at, byte[] body, CancellationToken stopping)
    {
        var timestamp = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp);
        request.Headers.Add("webhook-signature", Sign(endpoint.Secret, id, timestamp, body));
        using var timeout = new CancellationTokenSource(AttemptTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        try
        {
            using var response = await _http.SendAsync(request, linked.Token).ConfigureAwait(false);
            return ((int)response.StatusCode, null);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return (null, $"No answer within {AttemptTimeout.TotalSeconds:0} s.");
        }
        catch (HttpRequestException exception)
        {
            return (null, exception.Message);
        }
    }

    /// <summary>
    /// Standard Webhooks' signature: <c>v1,</c> and the base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c>, keyed, as Polar's
    /// server keys it, with the UTF-8 bytes of the whole secret.
    /// </summary>
    public static string Sign(string secret, string id, string timestamp, byte[] body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed, prefix.Length);
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }

    private static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));

    private void Changed()
    {
        _logChanged.TrySetResult();
        _logChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async ValueTask DisposeAsync()
    {
        Task[] workers;
        lock (_lock)
        {
            _store.Webhooks = null;
            workers = [.. _endpoints.Select(e => e.Worker).OfType<Task>()];
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(workers).ConfigureAwait(false);
        _stopping.Dispose();
        _http.Dispose();
    }

    private sealed class Endpoint(Guid id, Uri url, string secret, string apiVersion)
    {
        public string ApiVersion { get; } = apiVersion;

        public Guid Id { get; } = id;

        public Uri Url { get; } = url;

        public string Secret { get; } = secret;

        public Channel<int> Queue { get; } = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true });

        public Task? Worker { get; set; }

        public WebhookEndpointView View => new(Id, Url, Secret, ApiVersion);
    }
}

/// <summary>
/// A webhook endpoint to deliver to: its URL, its secret (generated, <c>whsec_…</c>, when null) and the API version written
/// into its payloads' <c>api_version</c>.
/// </summary>
public sealed record WebhookEndpointOptions(Uri Url, string? Secret = null, string ApiVersion = WebhookEndpointOptions.DefaultApiVersion)
{
    /// <summary>The API version of an endpoint that names none.</summary>
    public const string DefaultApiVersion = "2026-04";
}

/// <summary>A configured webhook endpoint: its id, URL, the secret its deliveries are signed with and its API version.</summary>
public sealed record WebhookEndpointView(Guid Id, Uri Url, string Secret, string ApiVersion);

/// <summary>
/// One webhook for one endpoint: its <c>webhook-id</c>, the event <see cref="Type"/>, when it happened, its status
/// (<c>pending</c>, <c>succeeded</c>, <c>failed</c> after the last attempt), its attempts and the exact body sent.
/// </summary>
public sealed record WebhookDelivery(
    string Id,
    Guid EndpointId,
    Uri Url,
    string Type,
    DateTimeOffset Timestamp,
    string Status,
    IReadOnlyList<WebhookAttempt> Attempts,
    string Payload)
{
    /// <summary>Not delivered yet (queued, or waiting for a retry).</summary>
    public const string Pending = "pending";

    /// <summary>An attempt was answered 2xx.</summary>
    public const string Succeeded = "succeeded";

    /// <summary>Every attempt failed.</summary>
    public const string Failed = "failed";
}

/// <summary>One attempt: its number, when it was made, the HTTP status (null when there was no answer), the error, and when the next attempt is due.</summary>
public sealed record WebhookAttempt(int Number, DateTimeOffset At, int? Status, string? Error, DateTimeOffset? NextAttemptAt);
