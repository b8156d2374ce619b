using CreditGrants.Polar.Budget;
using CreditGrants.Storage.Budget;
using Microsoft.Extensions.DependencyInjection;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    /// <summary>
    /// For a run given the app's storage (<c>--storage</c> of <c>bulk run</c> and <c>campaigns run</c>): counts the run's Polar
    /// requests in the app's shared budget table (<c>PolarBudget:Table</c>, default <c>polarbudget</c>) on that storage, as
    /// background work, so the app's instances and this run together stay under Polar's limit. Null (the process's own budget)
    /// when no storage is given. A malformed storage value is invalid input (exit 2) and one that does not answer is unavailable
    /// (exit 4), as for every <c>--storage</c>.
    /// </summary>
    private async Task<Action<IServiceCollection>?> SharedBudgetAsync(string? storage, CancellationToken cancellationToken)
    {
        if (storage is null)
        {
            return null;
        }

        var account = await OpenReachableStorageAsync(storage, cancellationToken).ConfigureAwait(false);
        var table = _configuration.GetValueOrDefault("PolarBudget:Table") ?? new PolarBudgetOptions().Table;
        return services => services.AddSingleton<IRequestBudgetStore>(new TableRequestBudgetStore(() => account.Tables.GetTableClient(table)));
    }
}
