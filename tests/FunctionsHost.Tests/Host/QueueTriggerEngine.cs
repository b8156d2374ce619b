using System.Globalization;
using System.Text.Json;
using FunctionsHost.Tests.Rpc;
using Google.Protobuf;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Host;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FunctionsHost.Tests.Host;

/// <summary>
/// The Functions host's queue trigger for the worker's queue function: the WebJobs SDK and its storage queue extension
/// (the same engine the host runs) listen on the queue the worker's metadata names (resolved from the worker's settings),
/// with host.json's queue options from the published app. Each delivery reaches the worker as the host sends it to a
/// binding marked <c>SupportsDeferredBinding</c>: the extension's own <see cref="ParameterBindingData"/> (the message as
/// JSON: id, pop receipt, dequeue count, text) as ModelBindingData, with the trigger metadata beside it. A failed invocation
/// is thrown back to the engine, which delivers the message again and finally moves it to the poison queue.
/// </summary>
internal sealed class QueueTriggerEngine : IAsyncDisposable
{
    public const string QueueSetting = "Forward.Queue";
    public const string ConnectionSetting = "ForwardStorage";

    private readonly IHost _engine;

    private QueueTriggerEngine(IHost engine, string functionName, string queue, QueueForwarder forwarder)
    {
        _engine = engine;
        FunctionName = functionName;
        Queue = queue;
        Forwarder = forwarder;
    }

    public string FunctionName { get; }

    /// <summary>The queue, resolved as the host resolves the trigger's <c>queueName</c>.</summary>
    public string Queue { get; }

    public QueueForwarder Forwarder { get; }

    public static async Task<QueueTriggerEngine> StartAsync(WorkerHost worker, string functionName)
    {
        var trigger = worker.Function(functionName).ResolvedTrigger;
        var queue = (string)trigger["queueName"]!;
        var connectionName = (string?)trigger["connection"] is { Length: > 0 } named ? named : "AzureWebJobsStorage";
        var connection = worker.Settings.TryGetValue(connectionName, out var value)
            ? value
            : throw new InvalidOperationException($"The worker has no setting '{connectionName}' for its queue trigger's connection.");
        var hostJson = QueuesHostJson.Read(Path.Combine(worker.AppDirectory, "host.json"));
        var forwarder = new QueueForwarder(worker, functionName, (string)trigger["name"]!);
        var engine = new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
            {
                [QueueSetting] = queue,
                [ConnectionSetting] = connection,
                ["AzureWebJobsStorage"] = connection,
            }))
            .ConfigureWebJobs(builder => builder.AddAzureStorageQueues(options => hostJson.ApplyTo(options)))
            .ConfigureServices(services =>
            {
                services.AddSingleton<ITypeLocator>(new WebJobsAdapter.OnlyTypes(typeof(QueueForwarder)));
                services.AddSingleton<IJobActivator>(new WebJobsAdapter.SingleInstance(forwarder));
            })
            .Build();
        await engine.StartAsync();
        return new QueueTriggerEngine(engine, functionName, queue, forwarder);
    }

    public async ValueTask DisposeAsync()
    {
        await _engine.StopAsync();
        _engine.Dispose();
    }
}

/// <summary>The one WebJobs function the engine indexes: each delivery of the queue becomes an invocation of the worker's function.</summary>
public sealed class QueueForwarder
{
    private readonly WorkerHost _worker;
    private readonly string _function;
    private readonly string _parameter;
    private readonly List<Delivery> _deliveries = [];

    internal QueueForwarder(WorkerHost worker, string function, string parameter)
    {
        _worker = worker;
        _function = function;
        _parameter = parameter;
    }

    /// <summary>One delivery as the worker got it, and whether its invocation succeeded.</summary>
    public sealed record Delivery(string MessageId, long DequeueCount, string Source, string ContentType, JsonElement Content, bool Succeeded, string? Error);

    public IReadOnlyList<Delivery> Deliveries
    {
        get
        {
            lock (_deliveries)
            {
                return _deliveries.ToArray();
            }
        }
    }

    [FunctionName("QueueForwarder")]
    public async Task Run(
        [QueueTrigger("%" + QueueTriggerEngine.QueueSetting + "%", Connection = QueueTriggerEngine.ConnectionSetting)] ParameterBindingData message,
        string id, string popReceipt, long dequeueCount, string queueTrigger, DateTimeOffset insertionTime, DateTimeOffset expirationTime,
        DateTimeOffset nextVisibleTime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        // The trigger metadata the host sends beside the binding (the queue trigger's binding data).
        var metadata = new Dictionary<string, TypedData>
        {
            ["Id"] = new() { String = id },
            ["PopReceipt"] = new() { String = popReceipt },
            ["DequeueCount"] = new() { Json = dequeueCount.ToString(CultureInfo.InvariantCulture) },
            ["QueueTrigger"] = new() { String = queueTrigger },
            ["InsertionTime"] = new() { Json = JsonSerializer.Serialize(insertionTime) },
            ["ExpirationTime"] = new() { Json = JsonSerializer.Serialize(expirationTime) },
            ["NextVisibleTime"] = new() { Json = JsonSerializer.Serialize(nextVisibleTime) },
        };
        var binding = new ParameterBinding
        {
            Name = _parameter,
            Data = new TypedData
            {
                ModelBindingData = new ModelBindingData
                {
                    Version = message.Version,
                    Source = message.Source,
                    ContentType = message.ContentType,
                    Content = ByteString.CopyFrom(message.Content.ToArray()),
                },
            },
        };

        var response = await _worker.InvokeAsync(_function, [binding], metadata, cancellationToken);
        var failed = response.Result.Status != StatusResult.Types.Status.Success;
        using var content = JsonDocument.Parse(message.Content.ToMemory());
        lock (_deliveries)
        {
            _deliveries.Add(new Delivery(id, dequeueCount, message.Source, message.ContentType, content.RootElement.Clone(), !failed,
                failed ? response.Result.Exception?.Message : null));
        }

        if (failed)
        {
            // As the host does with a failed invocation: the message is not deleted, and is delivered again.
            throw new InvalidOperationException($"{_function} failed: {response.Result.Exception?.Message}");
        }
    }
}
