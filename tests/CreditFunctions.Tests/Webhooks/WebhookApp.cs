using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using Azure.Storage.Queues.Models;
using CreditFunctions.Functions;
using CreditFunctions.Http;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Customers;
using CreditGrants.Storage.Bulk;
using CreditGrants.Storage.Webhooks;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PolarEmulator;

namespace CreditFunctions.Tests.Webhooks;

/// <summary>
/// The Functions app's services wired as Program.cs wires them, with a webhook secret, storage names of its own on Azurite
/// and a <see cref="RecordingHandler"/> beside the customer directory's. <see cref="PostAsync"/> invokes the endpoint's
/// function as the host would; <see cref="DrainAsync"/> plays the host's part for the webhook queue.
/// </summary>
internal sealed class WebhookApp : IAsyncDisposable
{
    public const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    public const string NewSecret = "whsec_bmV3IHNlY3JldCBmb3Igcm90YXRpb24";
    private static readonly Uri Endpoint = new("http://localhost:7071/api/polar/webhooks");

    private readonly string _suffix;

    private WebhookApp(BulkApp app, string suffix)
    {
        App = app;
        _suffix = suffix;
    }

    public BulkApp App { get; }

    public PolarEmulatorServer Emulator => App.Emulator;

    public IServiceProvider Services => App.Services;

    public WebhookStore Store => Services.GetRequiredService<WebhookStore>();

    public RecordingHandler Handler => Services.GetRequiredService<RecordingHandler>();

    /// <summary>The handler registered after <see cref="Handler"/>.</summary>
    public SecondHandler Second => Services.GetRequiredService<SecondHandler>();

    public CustomerDirectory Directory => Services.GetRequiredService<CustomerDirectory>();

    public static async Task<WebhookApp> StartAsync(Dictionary<string, string?>? settings = null, params string[] secrets)
    {
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var configuration = new Dictionary<string, string?>
        {
            ["Webhooks:QueueName"] = $"webhooks-{suffix}",
            ["Webhooks:Table"] = $"webhooks{suffix}",
            ["Webhooks:Container"] = $"webhooks-{suffix}",
            ["CustomerDirectory:Table"] = $"directory{suffix}",
        };
        var all = secrets.Length == 0 ? [Secret] : secrets;
        for (var i = 0; i < all.Length; i++)
        {
            configuration[string.Create(CultureInfo.InvariantCulture, $"Polar:WebhookSecrets:{i}")] = all[i];
        }

        foreach (var (key, value) in settings ?? [])
        {
            configuration[key] = value;
        }

        var app = await BulkApp.StartAsync(settings: configuration, services: services =>
        {
            services.AddSingleton<RecordingHandler>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IPolarWebhookHandler, RecordingHandler>(sp => sp.GetRequiredService<RecordingHandler>()));
            services.AddSingleton<SecondHandler>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IPolarWebhookHandler, SecondHandler>(sp => sp.GetRequiredService<SecondHandler>()));
        });
        var webhooks = new WebhookApp(app, suffix);
        await webhooks.Store.EnsureCreatedAsync(CancellationToken.None);
        return webhooks;
    }

    /// <summary>A delivery signed as Polar signs it, now (or at <paramref name="at"/>), with <paramref name="secret"/>.</summary>
    public static (string Name, string Value)[] Signed(string body, string id, DateTimeOffset? at = null, string secret = Secret)
    {
        var timestamp = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        return
        [
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture)),
            ("webhook-signature", WebhookSignature.Sign(secret, id, timestamp, Encoding.UTF8.GetBytes(body))),
        ];
    }

    /// <summary>Invokes the endpoint's function with a body and headers, as the host hands a request over.</summary>
    public async Task<(HttpStatusCode Status, string Body, string? ContentType)> PostAsync(string body, params (string Name, string Value)[] headers)
    {
        var request = new FakeHttpRequestData("POST", Endpoint, Encoding.UTF8.GetBytes(body), [("Content-Type", "application/json"), .. headers]);
        var function = new ReceivePolarWebhook(Services.GetRequiredService<WebhookApi>());
        var response = (FakeHttpResponseData)await function.Run(request, CancellationToken.None);
        return (response.StatusCode, response.BodyText, response.Headers.TryGetValues("Content-Type", out var types) ? types.Single() : null);
    }

    /// <summary>Posts a body signed now with the app's secret.</summary>
    public Task<(HttpStatusCode Status, string Body, string? ContentType)> DeliverAsync(string body, string id) => PostAsync(body, Signed(body, id));

    /// <summary>Delivers the webhook queue's messages to its function until the queue is empty, as the host would (<see cref="HostQueue"/>).</summary>
    public Task<List<(QueueMessage Message, Exception? Error)>> DrainAsync()
    {
        var function = new ProcessPolarWebhook(Services.GetRequiredService<WebhookProcessor>());
        return HostQueue.DrainAsync(Store.Queue, Store.PoisonQueue, Services.GetRequiredService<BulkQueuePolicy>().MaxDequeueCount,
            m => function.Run(m, CancellationToken.None), limit: 1000);
    }

    /// <summary>The recorded delivery of a webhook-id, or null.</summary>
    internal Task<WebhookDeliveryEntity?> DeliveryAsync(string webhookId) =>
        Store.GetDeliveryAsync(WebhookDeliveryEntity.KeyOf(webhookId), CancellationToken.None);

    public async Task<int> QueuedAsync() => (await Store.Queue.GetPropertiesAsync()).Value.ApproximateMessagesCount;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Store.Table.DeleteAsync();
            await Store.Bodies.DeleteIfExistsAsync();
            await Store.Queue.DeleteIfExistsAsync();
            await Store.PoisonQueue.DeleteIfExistsAsync();
            await new Azure.Data.Tables.TableServiceClient(BulkApp.StorageConnection).DeleteTableAsync($"directory{_suffix}");
        }
        catch (Azure.RequestFailedException)
        {
            // Leftovers in a throwaway Azurite are harmless.
        }

        await App.DisposeAsync();
    }
}

/// <summary>A webhook handler that records every event it is given (and can be told to fail), to count dispatches.</summary>
internal sealed class RecordingHandler : IPolarWebhookHandler
{
    public ConcurrentQueue<PolarWebhookEvent> Handled { get; } = new();

    /// <summary>How many calls from now throw.</summary>
    public int FailuresToCome { get; set; }

    /// <summary>Holds calls until set.</summary>
    public TaskCompletionSource? Gate { get; set; }

    public string Name => "recording";

    public bool CanHandle(string eventType) => true;

    public async Task HandleAsync(PolarWebhookEvent webhook, CancellationToken cancellationToken)
    {
        if (Gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        if (FailuresToCome > 0)
        {
            FailuresToCome--;
            throw new InvalidOperationException("the handler failed on purpose");
        }

        // Keep the payload past its document's life.
        Handled.Enqueue(webhook with { Payload = webhook.Payload.Clone() });
    }
}

/// <summary>A second handler, after <see cref="RecordingHandler"/>, that can be told to fail: to see a handler that is done not called again.</summary>
internal sealed class SecondHandler : IPolarWebhookHandler
{
    public int Calls;

    public int FailuresToCome { get; set; }

    public string Name => "second";

    public bool CanHandle(string eventType) => true;

    public Task HandleAsync(PolarWebhookEvent webhook, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Calls);
        if (FailuresToCome > 0)
        {
            FailuresToCome--;
            throw new InvalidOperationException("the second handler failed on purpose");
        }

        return Task.CompletedTask;
    }
}
