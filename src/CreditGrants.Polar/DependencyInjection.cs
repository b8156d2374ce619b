using System.Net.Http.Headers;
using CreditGrants.Polar.Budget;
using CreditGrants.Polar.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace CreditGrants.Polar;

/// <summary>Registers the Polar gateway: options, the typed client with its resilience pipeline and request budget.</summary>
public static class DependencyInjection
{
    public static IServiceCollection AddPolarGateway(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<PolarClientOptions>().Bind(configuration.GetSection(PolarClientOptions.SectionName));
        return services.AddPolarGatewayCore();
    }

    public static IServiceCollection AddPolarGateway(this IServiceCollection services, Action<PolarClientOptions> configure)
    {
        services.AddOptions<PolarClientOptions>().Configure(configure);
        return services.AddPolarGatewayCore();
    }

    private static IServiceCollection AddPolarGatewayCore(this IServiceCollection services)
    {
        services.AddOptions<PolarClientOptions>().ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new PolarRequestBudget(sp.GetRequiredService<IOptions<PolarClientOptions>>().Value.EffectiveRequestsPerMinute));
        services.TryAddSingleton<IPolarGateway, PolarGateway>();
        // Resolved only when a shared store is registered (the app's storage); otherwise the per-process budget governs.
        services.TryAddSingleton(sp => new SharedRequestBudget(sp.GetRequiredService<IRequestBudgetStore>(),
            sp.GetRequiredService<IOptions<PolarClientOptions>>().Value.EffectiveRequestsPerMinute,
            sp.GetRequiredService<IOptions<PolarClientOptions>>().Value.InteractiveSharePercent,
            sp.GetRequiredService<PolarRequestBudget>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<SharedRequestBudget>>()));

        services.AddHttpClient<PolarClient>((sp, http) =>
            {
                var options = sp.GetRequiredService<IOptions<PolarClientOptions>>().Value;
                http.BaseAddress = options.GetBaseAddress();
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.AccessToken);
                http.DefaultRequestHeaders.Add("Polar-Version", "2026-04");
                http.DefaultRequestHeaders.UserAgent.ParseAdd("CreditFunctions/1.0");
                // The pipeline's timeouts govern; the client-wide one only catches a pipeline that never ends.
                http.Timeout = Timeout.InfiniteTimeSpan;
            })
            // HttpClient's own logging keeps raw header values, the token among them, in structured log state.
            .RemoveAllLoggers()
            // The gateway is a singleton holding its client: connections, not handlers, are recycled (DNS changes are seen).
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .AddResilienceHandler("polar", ConfigurePipeline);
        return services;
    }

    /// <summary>Retry (with jitter, honouring Retry-After) around a circuit breaker, the request budget and a per-attempt timeout.</summary>
    private static void ConfigurePipeline(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, ResilienceHandlerContext context)
    {
        var options = context.ServiceProvider.GetRequiredService<IOptions<PolarClientOptions>>().Value;
        System.Threading.RateLimiting.RateLimiter budget = context.ServiceProvider.GetService<IRequestBudgetStore>() is null
            ? context.ServiceProvider.GetRequiredService<PolarRequestBudget>().Limiter
            : context.ServiceProvider.GetRequiredService<SharedRequestBudget>();
        var time = context.ServiceProvider.GetRequiredService<TimeProvider>();
        var maxDelay = TimeSpan.FromSeconds(options.MaxRetryDelaySeconds);
        if (options.MaxRetries > 0)
        {
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromSeconds(1),
                MaxDelay = maxDelay,
                // Polar's Retry-After is the window length (60 s), not the time left: honour it, but never past the cap.
                ShouldRetryAfterHeader = false,
                DelayGenerator = args => ValueTask.FromResult(RetryAfterCapped(args.Outcome.Result, time, maxDelay)),
            });
        }

        pipeline
            .AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 20,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(15),
                // Rate limiting is Polar saying "later", not Polar failing: it must not open the circuit.
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Result?.StatusCode != System.Net.HttpStatusCode.TooManyRequests
                    && HttpClientResiliencePredicates.IsTransient(args.Outcome)),
            })
            .AddRateLimiter(budget)
            .AddTimeout(TimeSpan.FromSeconds(options.AttemptTimeoutSeconds));
    }

    /// <summary>The wait a response's Retry-After asks for, at most <paramref name="max"/>; null lets the backoff decide.</summary>
    internal static TimeSpan? RetryAfterCapped(HttpResponseMessage? response, TimeProvider time, TimeSpan max)
    {
        var wanted = response?.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - time.GetUtcNow(),
            _ => (TimeSpan?)null,
        };
        return wanted is { } wait && wait > TimeSpan.Zero ? (wait < max ? wait : max) : null;
    }
}
