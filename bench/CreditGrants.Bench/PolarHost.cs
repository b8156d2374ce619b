using CreditGrants.Bulk;
using CreditGrants.Polar;
using CreditGrants.Polar.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Bench;

/// <summary>
/// The gateway and grant services wired as the CLI wires them (<c>AddPolarGateway</c> + <c>AddGrantServices</c>), plus a
/// handler on the gateway's HttpClient that counts the requests that leave the process.
/// </summary>
public static class PolarHost
{
    public const string ServerVariable = "POLAR_SERVER";
    public const string TokenVariable = "POLAR_ACCESS_TOKEN";

    /// <summary>
    /// The services, with the gateway's request budget at <see cref="PolarSettings.RequestsPerMinute"/>, or off when null (figures
    /// of the code, not of the budget), and the settings' chunk rows and events per ingest request.
    /// </summary>
    public static ServiceProvider Build(PolarSettings polar, RequestTally tally, Action<IServiceCollection>? more = null)
    {
        ArgumentNullException.ThrowIfNull(polar);
        var requestsPerMinute = polar.RequestsPerMinute;
        var services = new ServiceCollection();
        // Logs go to stderr: stdout carries the JSON result.
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning).AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace));
        if (requestsPerMinute is null)
        {
            // Registered first, so the gateway's TryAdd keeps it: a budget that never makes a request wait.
            services.AddSingleton(new PolarRequestBudget(int.MaxValue));
        }

        services.AddPolarGateway(options =>
        {
            options.Server = polar.Server;
            options.AccessToken = polar.Token;
            options.RequestsPerMinute = requestsPerMinute;
            if (polar.MaxEventsPerRequest is { } maxEvents)
            {
                options.MaxEventsPerRequest = maxEvents;
            }
        });
        BenchDirectory.AddStore(services, polar.DirectoryStore, polar.DirectoryFile);
        services.AddGrantServices();
        services.Configure<BulkOptions>(options => options.ChunkRows = polar.ChunkRows);
        services.AddSingleton(tally);
        services.AddHttpClient<PolarClient>().AddHttpMessageHandler(sp => new CountingHandler(sp.GetRequiredService<RequestTally>()));
        more?.Invoke(services);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }
}
