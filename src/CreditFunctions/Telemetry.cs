using Microsoft.ApplicationInsights;
using Microsoft.ApplicationInsights.WorkerService;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CreditFunctions;

/// <summary>
/// Application Insights for the isolated worker. The worker sends its own logs to Application Insights (with their
/// structured fields as custom dimensions), besides the plain messages it forwards to the Functions host; host.json's
/// <c>logging</c> section governs only the host's. So the worker's levels are the app's <c>Logging:LogLevel</c> settings
/// (docs/configuration.md), and the Application Insights provider's own default rule, which would keep only warnings, is
/// removed. Connection: <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c>, with <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING</c>
/// for the managed identity (both set by infra/modules/functionapp.bicep); without a connection string nothing is sent.
/// </summary>
public static class Telemetry
{
    private const string ApplicationInsightsProvider = "Microsoft.Extensions.Logging.ApplicationInsights.ApplicationInsightsLoggerProvider";

    public static IServiceCollection AddCreditFunctionsTelemetry(this IServiceCollection services)
    {
        services
            .AddApplicationInsightsTelemetryWorkerService(options =>
            {
                // The Functions host already reports live metrics for the app, and the worker runs on no VM of its own:
                // these two would duplicate the host's stream and call the Azure instance metadata endpoint.
                options.EnableQuickPulseMetricStream = false;
                options.EnableAzureInstanceMetadataTelemetryModule = false;
            })
            .ConfigureFunctionsApplicationInsights();
        services.Configure<LoggerFilterOptions>(options =>
        {
            var warningsOnly = options.Rules.FirstOrDefault(r => r.ProviderName == ApplicationInsightsProvider && r.CategoryName is null);
            if (warningsOnly is not null)
            {
                options.Rules.Remove(warningsOnly);
            }
        });
        services.AddHostedService<TelemetryFlush>();
        return services;
    }

    /// <summary>Sends what the telemetry channel still holds when the host stops the worker (scale-in, deployment).</summary>
    private sealed class TelemetryFlush(TelemetryClient telemetry) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => telemetry.FlushAsync(cancellationToken);
    }
}
