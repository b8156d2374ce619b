using CreditFunctions.Http;
using CreditGrants;
using CreditGrants.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CreditFunctions;

/// <summary>Everything the Functions app is made of, registered in one place for Program.cs and the tests.</summary>
public static class DependencyInjection
{
    public static IServiceCollection AddCreditFunctions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddCreditGrants(configuration);
        services.AddSingleton(HostQueueSettings.Read(configuration, Path.Combine(AppContext.BaseDirectory, "host.json")));
        services.AddBulkStorage(configuration);
        services.AddCampaignStorage(configuration);
        services.AddWebhookStorage(configuration);
        services.AddSingleton<GrantApi>();
        services.AddSingleton<WebhookApi>();
        services.AddSingleton<BulkGrantApi>();
        services.AddSingleton<LedgerApi>();
        services.AddSingleton<BulkRevokeApi>();
        services.AddSingleton<CampaignRevokeApi>();
        return services;
    }
}
