using CreditGrants.Bulk;
using CreditGrants.Grants;
using CreditGrants.Polar.Budget;
using CreditGrants.Storage.Budget;
using CreditGrants.Campaigns;
using CreditGrants.Customers;
using CreditGrants.Storage.Campaigns;
using CreditGrants.Storage.Customers;
using CreditGrants.Storage.Bulk;
using CreditGrants.Storage.Rules;
using CreditGrants.Storage.Webhooks;
using CreditGrants.Rules;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CreditGrants.Storage;

/// <summary>Registers bulk jobs on Azure Storage: the account's clients, the store, the job service and the queue worker.</summary>
public static class DependencyInjection
{
    /// <summary>
    /// The account comes from the <c>AzureWebJobsStorage</c> settings (a connection string, or service URIs with a managed
    /// identity), read when first used so that hosts that never touch storage need none.
    /// </summary>
    public static IServiceCollection AddBulkStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddSingleton(sp =>
            new BulkStore(() => StorageAccount.FromConfiguration(configuration), sp.GetRequiredService<IOptions<BulkOptions>>()));
        services.TryAddSingleton(BulkQueuePolicy.Default);
        services.TryAddSingleton<BulkJobs>();
        services.TryAddSingleton<BulkSettlement>();
        services.TryAddSingleton<BulkRevocationRuns>();
        services.TryAddSingleton<BulkWorker>();
        services.AddOptions<PolarBudgetOptions>().Bind(configuration.GetSection(PolarBudgetOptions.SectionName)).ValidateDataAnnotations();
        if (configuration.GetSection(PolarBudgetOptions.SectionName).Get<PolarBudgetOptions>() is { Enabled: true } budget)
        {
            // Every process of the app counts Polar requests in one table, so scaling out never passes the organization's limit.
            services.TryAddSingleton<IRequestBudgetStore>(_ =>
                new TableRequestBudgetStore(() => StorageAccount.FromConfiguration(configuration).Tables.GetTableClient(budget.Table)));
        }

        // What the app knows of the organization's customers, shared by its instances (see CustomerDirectory).
        // It replaces the in-memory store that AddCreditGrants registers.
        services.Replace(ServiceDescriptor.Singleton<ICustomerDirectoryStore>(sp => new TableCustomerDirectoryStore(() => StorageAccount
            .FromConfiguration(configuration).Tables.GetTableClient(sp.GetRequiredService<IOptions<CustomerDirectoryOptions>>().Value.Table),
            sp.GetRequiredService<IOptions<CreditGrants.Polar.PolarClientOptions>>().Value.OrganizationScope())));

        // The expiries to come, shared by every instance: written when a grant that expires is sent, read by the ExpireGrants timer.
        services.Replace(ServiceDescriptor.Singleton<CreditGrants.Expiry.IExpiryIndex>(sp => new Expiry.TableExpiryIndex(() => StorageAccount
            .FromConfiguration(configuration).Tables.GetTableClient(sp.GetRequiredService<IOptions<CreditGrants.Expiry.ExpiryOptions>>().Value.Table))));

        services.AddOptions<GrantCapOptions>().Bind(configuration.GetSection(GrantCapOptions.SectionName)).ValidateDataAnnotations();
        if (configuration.GetSection(GrantCapOptions.SectionName).Get<GrantCapOptions>() is { Enabled: true } caps)
        {
            // Counted for every instance: a leaked key cannot grant more than the caps in a day.
            services.AddSingleton<IGrantCaps>(sp => new TableGrantCaps(
                () => StorageAccount.FromConfiguration(configuration).Tables.GetTableClient(caps.Table), sp.GetRequiredService<IOptions<GrantCapOptions>>()));
        }

        return services;
    }

    /// <summary>
    /// Polar's webhooks on the same account: the options, schemas and handlers (<see cref="CreditGrants.DependencyInjection.AddPolarWebhooks"/>),
    /// the deliveries' store, the intake the endpoint records with and the processor of the webhook queue.
    /// </summary>
    public static IServiceCollection AddWebhookStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddPolarWebhooks(configuration);
        services.TryAddSingleton(sp => new WebhookStore(() => StorageAccount.FromConfiguration(configuration), sp.GetRequiredService<IOptions<WebhookOptions>>()));
        services.TryAddSingleton(BulkQueuePolicy.Default);
        services.TryAddSingleton<WebhookIntake>();
        services.TryAddSingleton<WebhookProcessor>();
        // Grant rules (docs/rules.md): their documents in a container, what they granted in a table.
        services.AddOptions<RuleOptions>().Bind(configuration.GetSection(RuleOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<BlobGrantRuleSource>(sp, (Func<StorageAccount>)(() => StorageAccount.FromConfiguration(configuration))));
        services.TryAddSingleton<IGrantRuleSource>(sp => sp.GetRequiredService<BlobGrantRuleSource>());
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<TableRuleGrantLedger>(sp, (Func<StorageAccount>)(() => StorageAccount.FromConfiguration(configuration))));
        services.TryAddSingleton<IRuleGrantLedger>(sp => sp.GetRequiredService<TableRuleGrantLedger>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPolarWebhookHandler, RuleGrantHandler>());
        return services;
    }

    /// <summary>Campaign state in its table, on the same account as the bulk jobs.</summary>
    public static IServiceCollection AddCampaignStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<CampaignOptions>().Bind(configuration.GetSection(CampaignOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(sp =>
            new TableCampaignStateStore(() => StorageAccount.FromConfiguration(configuration), sp.GetRequiredService<IOptions<CampaignOptions>>()));
        services.TryAddSingleton(sp => ActivatorUtilities.CreateInstance<CampaignScheduler>(sp, (Func<StorageAccount>)(() => StorageAccount.FromConfiguration(configuration))));
        return services;
    }
}
