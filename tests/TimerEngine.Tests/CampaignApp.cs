using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using CreditFunctions;
using CreditGrants.Campaigns;
using CreditGrants.Storage.Bulk;
using CreditGrants.Storage.Campaigns;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace TimerEngine.Tests;

/// <summary>
/// The Functions app's services wired as Program.cs wires them (<c>AddCreditFunctions</c>), against an in-process Polar
/// emulator with the "API Calls" meter and customers <c>user-1</c> … <c>user-3</c>, and Azurite (<c>UseDevelopmentStorage=true</c>,
/// or env <c>CREDITS_TEST_STORAGE</c>). Its campaign container, state table, bulk queue, containers and jobs table have
/// names of their own, removed on dispose, and so does its WebJobs host id (<see cref="HostId"/>), whose lock and schedule
/// status blobs in <c>azure-webjobs-hosts</c> are removed too.
/// </summary>
internal sealed class CampaignApp : IAsyncDisposable
{
    /// <summary>The container the WebJobs host keeps its locks and timer status in.</summary>
    public const string HostContainer = "azure-webjobs-hosts";

    private readonly PolarEmulatorServer _emulator;
    private readonly ServiceProvider _services;
    private readonly string _id;

    private CampaignApp(PolarEmulatorServer emulator, ServiceProvider services, IConfiguration settings, string id)
    {
        _emulator = emulator;
        _services = services;
        Settings = settings;
        _id = id;
    }

    public static string StorageConnection => Environment.GetEnvironmentVariable("CREDITS_TEST_STORAGE") ?? "UseDevelopmentStorage=true";

    public IServiceProvider Services => _services;

    /// <summary>The app settings the services were built from.</summary>
    public IConfiguration Settings { get; }

    /// <summary>A WebJobs host id of this app's own, so that its lock and schedule status are not another test's.</summary>
    public string HostId => $"timer-engine-{_id}";

    public CampaignScheduler Scheduler => _services.GetRequiredService<CampaignScheduler>();

    public TableCampaignStateStore State => _services.GetRequiredService<TableCampaignStateStore>();

    /// <param name="campaignSchedule">The app setting <c>CampaignSchedule</c> (six-field cron, UTC) the timer's attribute names.</param>
    public static async Task<CampaignApp> StartAsync(string campaignSchedule)
    {
        var id = Guid.NewGuid().ToString("N")[..16];
        var emulator = await PolarEmulatorServer.StartAsync(new EmulatorOptions
        {
            SeedMeter = true,
            CustomerSeeds = [.. Enumerable.Range(1, 3).Select(i =>
                new EmulatorCustomerSeed($"user-{i}", $"user-{i}@lovelace.dev", null, new Dictionary<string, string>(), HasActiveSubscription: false))],
        });
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Polar:Server"] = emulator.BaseAddress.AbsoluteUri,
            ["Polar:AccessToken"] = emulator.Token,
            ["Polar:MaxRetries"] = "0",
            ["Polar:MeterCacheSeconds"] = "0",
            ["Polar:RequestsPerMinute"] = "100000",
            ["AzureWebJobsStorage"] = StorageConnection,
            ["CampaignSchedule"] = campaignSchedule,
            ["Campaigns:Container"] = $"campaigns-{id}",
            ["Campaigns:StateTable"] = $"campaignstate{id}",
            ["Bulk:QueueName"] = $"work-{id}",
            ["Bulk:UploadsContainer"] = $"uploads-{id}",
            ["Bulk:ResultsContainer"] = $"results-{id}",
            ["Bulk:JobsTable"] = $"jobs{id}",
        }).Build();
        var services = new ServiceCollection().AddLogging().AddCreditFunctions(settings).BuildServiceProvider();
        await services.GetRequiredService<BulkStore>().EnsureCreatedAsync(CancellationToken.None);
        return new CampaignApp(emulator, services, settings, id);
    }

    /// <summary>Stores a campaign document where the timer reads it (<c>{id}.json</c> in the campaigns container).</summary>
    public async Task UploadAsync(string campaignId, string json)
    {
        await Scheduler.Container.CreateIfNotExistsAsync();
        await Scheduler.Container.GetBlobClient(CampaignScheduler.BlobName(campaignId)).UploadAsync(BinaryData.FromString(json), overwrite: true);
    }

    /// <summary>The campaign's state as the timer's runs left it (a new, empty state when no run has seen it).</summary>
    public async Task<CampaignState> StateAsync(string campaignId)
    {
        await State.EnsureCreatedAsync(CancellationToken.None);
        return (await State.ReadAsync(campaignId)).State;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            var blobs = new BlobServiceClient(StorageConnection);
            await Scheduler.Container.DeleteIfExistsAsync();
            await blobs.GetBlobContainerClient(Settings["Bulk:UploadsContainer"]).DeleteIfExistsAsync();
            await blobs.GetBlobContainerClient(Settings["Bulk:ResultsContainer"]).DeleteIfExistsAsync();
            var queues = new QueueServiceClient(StorageConnection);
            await queues.GetQueueClient(Settings["Bulk:QueueName"]).DeleteIfExistsAsync();
            var tables = new TableServiceClient(StorageConnection);
            await tables.DeleteTableAsync(Settings["Campaigns:StateTable"]);
            await tables.DeleteTableAsync(Settings["Bulk:JobsTable"]);
            var hostBlobs = blobs.GetBlobContainerClient(HostContainer);
            foreach (var prefix in new[] { $"locks/{HostId}/", $"timers/{HostId}/" })
            {
                await foreach (var blob in hostBlobs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, prefix, CancellationToken.None))
                {
                    await hostBlobs.DeleteBlobIfExistsAsync(blob.Name);
                }
            }
        }
        catch (Azure.RequestFailedException)
        {
            // Leftovers in a throwaway Azurite are harmless.
        }

        await _services.DisposeAsync();
        await _emulator.DisposeAsync();
    }
}
