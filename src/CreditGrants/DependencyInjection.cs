using CreditGrants.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Customers;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CreditGrants;

/// <summary>Registers the grant domain and the Polar gateway it depends on.</summary>
public static class DependencyInjection
{
    public static IServiceCollection AddCreditGrants(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<GrantOptions>().Bind(configuration.GetSection(GrantOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<BulkOptions>().Bind(configuration.GetSection(BulkOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<CustomerDirectoryOptions>().Bind(configuration.GetSection(CustomerDirectoryOptions.SectionName))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<Expiry.ExpiryOptions>().Bind(configuration.GetSection(Expiry.ExpiryOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddPolarGateway(configuration);
        return services.AddGrantServices();
    }

    /// <summary>The domain services alone, for hosts that register the gateway themselves (the CLI's embedded emulator).</summary>
    public static IServiceCollection AddGrantServices(this IServiceCollection services)
    {
        services.AddOptions<GrantOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new GrantValidator(sp.GetRequiredService<IOptions<GrantOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        services.AddOptions<CustomerDirectoryOptions>();
        // Hosts with somewhere to keep it register their own store first (a table for the app, a file for the CLI).
        services.TryAddSingleton<ICustomerDirectoryStore, InMemoryCustomerDirectoryStore>();
        services.TryAddSingleton<CustomerDirectory>();
        // Likewise the expiry index: a table for the app, a file in the data folder for the CLI.
        services.TryAddSingleton<Expiry.IExpiryIndex, Expiry.InMemoryExpiryIndex>();
        services.AddOptions<Expiry.ExpiryOptions>();
        services.TryAddSingleton<Expiry.ExpirySweep>();
        services.TryAddSingleton<GrantService>();
        services.TryAddSingleton<IGrantCaps, NoGrantCaps>();
        services.TryAddSingleton<BalanceService>();
        services.TryAddSingleton<Lifecycle.GrantCompensation>();
        services.TryAddSingleton<Lifecycle.RecentGrants>();
        services.TryAddSingleton<Lifecycle.LedgerReader>();
        services.TryAddSingleton<Lifecycle.GrantRevocation>();
        services.TryAddSingleton<Lifecycle.BulkRevocation>();
        services.TryAddSingleton<Lifecycle.CampaignGrants>();
        services.TryAddSingleton<CarryOver.CarryOverService>();
        services.AddOptions<BulkOptions>();
        services.TryAddSingleton<BulkChunkProcessor>();
        services.TryAddSingleton<BulkRunner>();
        services.TryAddSingleton(sp => new CampaignValidator(sp.GetRequiredService<IOptions<GrantOptions>>().Value));
        services.TryAddSingleton<CampaignAudienceReader>();
        services.TryAddSingleton<CampaignRunner>();
        services.TryAddSingleton(sp => new Rules.RuleValidator(sp.GetRequiredService<IOptions<GrantOptions>>().Value));
        return services;
    }

    /// <summary>
    /// Polar's webhooks: the secrets (<c>Polar:WebhookSecrets</c>), the <c>Webhooks</c> section, the payload schemas and the
    /// handlers verified events are dispatched to (the customer directory's here; grant rules and carry-over add theirs with
    /// <c>TryAddEnumerable</c>). Where deliveries are recorded and queued is the host's to register.
    /// </summary>
    public static IServiceCollection AddPolarWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<PolarWebhookSecretOptions>().Bind(configuration.GetSection(PolarWebhookSecretOptions.SectionName))
            // One secret set without an index (Polar__WebhookSecrets) counts too, rather than leaving the endpoint shut.
            .PostConfigure(o =>
            {
                if (configuration[$"{PolarWebhookSecretOptions.SectionName}:{nameof(PolarWebhookSecretOptions.WebhookSecrets)}"] is { Length: > 0 } single)
                {
                    o.WebhookSecrets.Add(single);
                }
            });
        services.AddOptions<WebhookOptions>().Bind(configuration.GetSection(WebhookOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(_ => PolarWebhookSchemas.Default);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPolarWebhookHandler, CustomerDirectoryWebhookHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPolarWebhookHandler, CarryOver.CarryOverWebhookHandler>());
        return services;
    }
}
