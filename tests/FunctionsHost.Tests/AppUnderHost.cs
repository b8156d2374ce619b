using FunctionsHost.Tests.Host;
using PolarEmulator;

namespace FunctionsHost.Tests;

/// <summary>
/// The published app's worker under the test host, started with the settings of local.settings.sample.json, against an
/// in-process Polar emulator (the sample's <c>Polar__Server</c> points at where it listens, with the sample's token) and
/// Azurite (the sample's <c>AzureWebJobsStorage</c>). Queue, container and table names get a suffix of this run, so that
/// test projects sharing Azurite do not read each other's messages.
/// </summary>
public sealed class AppUnderHost : IAsyncLifetime
{
    /// <summary>How long the worker may take from process start to answering init and indexing (the bound).</summary>
    public static readonly TimeSpan StartupLimit = TimeSpan.FromSeconds(30);

    private PolarEmulatorServer? _emulator;
    private WorkerHost? _host;

    public PolarEmulatorServer Emulator => _emulator ?? throw new InvalidOperationException("Not started.");

    internal WorkerHost Host => _host ?? throw new InvalidOperationException("Not started.");

    /// <summary>The webhook secret the worker accepts (<c>Polar__WebhookSecrets__0</c>).</summary>
    public const string WebhookSecret = "whsec_d29ya2VyLXByb3RvY29sLXRlc3QtaG9zdA";

    /// <summary>A suffix unique to this run, for storage names.</summary>
    public string Run { get; } = Guid.NewGuid().ToString("N")[..8];

    public async Task InitializeAsync()
    {
        var settings = AppSettings.Sample();
        _emulator = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, Token = settings["Polar__AccessToken"] });
        settings["Polar__Server"] = _emulator.BaseAddress.AbsoluteUri;
        settings["Polar__WebhookSecrets__0"] = WebhookSecret;
        foreach (var (key, value) in IsolatedStorage(Run))
        {
            settings[key] = value;
        }

        _host = await WorkerHost.StartAsync(AppSettings.AppDirectory, settings, StartupLimit);
    }

    /// <summary>Storage names of one run: the app's defaults with a suffix (tables take letters and digits only).</summary>
    public static Dictionary<string, string> IsolatedStorage(string run) => new()
    {
        ["Bulk__QueueName"] = $"grant-work-{run}",
        ["Bulk__UploadsContainer"] = $"bulk-uploads-{run}",
        ["Bulk__ResultsContainer"] = $"bulk-results-{run}",
        ["Bulk__JobsTable"] = $"jobs{run}",
        ["Campaigns__Container"] = $"campaigns-{run}",
        ["Campaigns__StateTable"] = $"campaignstate{run}",
        ["Expiry__Table"] = $"expiries{run}",
        ["CustomerDirectory__Table"] = $"customerdirectory{run}",
        ["GrantCaps__Table"] = $"grantcaps{run}",
        ["PolarBudget__Table"] = $"polarbudget{run}",
        ["Webhooks__QueueName"] = $"webhook-work-{run}",
        ["Webhooks__Table"] = $"webhooks{run}",
        ["Webhooks__Container"] = $"webhook-deliveries-{run}",
    };

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        if (_emulator is not null)
        {
            await _emulator.DisposeAsync();
        }
    }
}

/// <summary>The tests that share one worker.</summary>
[CollectionDefinition(Name)]
public sealed class SharedWorker : ICollectionFixture<AppUnderHost>
{
    public const string Name = "Worker";
}
