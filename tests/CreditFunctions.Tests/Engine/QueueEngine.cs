using System.Reflection;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using CreditFunctions.Functions;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Host;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using WorkerQueueTrigger = Microsoft.Azure.Functions.Worker.QueueTriggerAttribute;

namespace CreditFunctions.Tests.Engine;

/// <summary>
/// The Functions host's trigger engine (the WebJobs SDK and its storage queue extension) running the app's own queue
/// function against Azurite. Nothing of the trigger is copied: the queue name and connection come from the app's
/// <see cref="ProcessGrantWork"/> attribute by reflection (its <c>%Setting%</c> resolved from the app's settings), and the
/// queue options from the app's <c>host.json</c>. A test may shorten <c>visibilityTimeout</c> (the delay before a failed
/// message is delivered again), and says so.
/// </summary>
internal sealed class QueueEngine : IAsyncDisposable
{
    /// <summary>The setting the adapter's trigger names: the app's queue, as its attribute and settings give it.</summary>
    public const string QueueSetting = "Engine.GrantWorkQueue";

    /// <summary>The connection the adapter's trigger names: the app attribute's connection setting, copied under this name.</summary>
    public const string ConnectionSetting = "EngineStorage";

    private readonly IHost _host;

    private QueueEngine(IHost host, QueuesHostJson options, string queue)
    {
        _host = host;
        Options = options;
        Queue = queue;
    }

    /// <summary>The queue options as host.json gives them (before any test override).</summary>
    public QueuesHostJson Options { get; }

    /// <summary>The queue the app's trigger listens on, resolved.</summary>
    public string Queue { get; }

    /// <summary>
    /// Starts the engine on the app's queue function. <paramref name="around"/> runs each delivery instead of calling the
    /// function directly, so a test can count deliveries or fail one after the function ran (a crash before the delete).
    /// </summary>
    public static async Task<QueueEngine> StartAsync(IServiceProvider app, IConfiguration appSettings, GrantWorkJob.Around around,
        TimeSpan? visibilityTimeout = null)
    {
        var trigger = typeof(ProcessGrantWork).GetMethod(nameof(ProcessGrantWork.Run))!.GetParameters()
            .Select(p => p.GetCustomAttribute<WorkerQueueTrigger>()).Single(a => a is not null)!;
        var queue = WebJobsAdapter.Resolve(trigger.QueueName, appSettings);
        var connection = appSettings[trigger.Connection ?? "AzureWebJobsStorage"]
            ?? throw new InvalidOperationException($"The app has no setting '{trigger.Connection}' for its queue trigger's connection.");
        var hostJson = QueuesHostJson.Read(Path.Combine(AppContext.BaseDirectory, "host.json"));
        var function = new ProcessGrantWork(app.GetRequiredService<CreditGrants.Storage.Bulk.BulkWorker>());
        var host = new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
            {
                [QueueSetting] = queue,
                [ConnectionSetting] = connection,
                ["AzureWebJobsStorage"] = connection,
            }))
            .ConfigureWebJobs(builder => builder.AddAzureStorageQueues(options => hostJson.ApplyTo(options, visibilityTimeout)))
            .ConfigureServices(services =>
            {
                services.AddSingleton<ITypeLocator>(new WebJobsAdapter.OnlyTypes(typeof(GrantWorkJob)));
                services.AddSingleton<IJobActivator>(new WebJobsAdapter.SingleInstance(new GrantWorkJob(function, around)));
            })
            .Build();
        await host.StartAsync();
        return new QueueEngine(host, hostJson, queue);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>
/// The adapter the engine discovers: one WebJobs function that hands each message to the app's own
/// <see cref="ProcessGrantWork"/>. Its trigger names settings that <see cref="QueueEngine"/> fills from the app's attribute.
/// </summary>
public sealed class GrantWorkJob
{
    /// <summary>Runs one delivery: <c>run</c> calls the app's function.</summary>
    public delegate Task Around(QueueMessage message, Func<Task> run);

    private readonly ProcessGrantWork _function;
    private readonly Around _around;

    internal GrantWorkJob(ProcessGrantWork function, Around around)
    {
        _function = function;
        _around = around;
    }

    [FunctionName(nameof(ProcessGrantWork))]
    public Task Run([QueueTrigger("%" + QueueEngine.QueueSetting + "%", Connection = QueueEngine.ConnectionSetting)] QueueMessage message,
        CancellationToken cancellationToken) =>
        _around(message, () => _function.Run(message, cancellationToken));
}
