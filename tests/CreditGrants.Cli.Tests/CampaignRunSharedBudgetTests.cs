using System.Text.Json;
using Azure.Data.Tables;
using CreditGrants.Cli;

namespace CreditGrants.Cli.Tests;

/// <summary>
/// <c>credits campaigns run --storage</c> takes its Polar requests from the Functions app's shared request budget (the
/// <c>PolarBudget</c> table on that storage), as <c>credits bulk run --storage</c> does; without <c>--storage</c> it keeps to
/// its own process's budget and never touches the table.
/// </summary>
public sealed class CampaignRunSharedBudgetTests : IDisposable
{
    private static readonly string Storage = TestStorage.ConnectionString;
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-campaign-budget-").FullName;
    private readonly string _id = Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        Directory.Delete(_dataDir, recursive: true);
        var account = CreditGrants.Storage.StorageAccount.FromConnectionString(Storage);
        account.Blobs.GetBlobContainerClient($"campaigns-{_id}").DeleteIfExists();
        account.Tables.DeleteTable($"campaignstate{_id}");
        account.Tables.DeleteTable(BudgetTable);
    }

    private string BudgetTable => $"budget{_id}";

    private Dictionary<string, string?> Environment => new()
    {
        ["Campaigns__Container"] = $"campaigns-{_id}",
        ["Campaigns__StateTable"] = $"campaignstate{_id}",
        ["PolarBudget__Table"] = BudgetTable,
    };

    private static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "campaigns", name + ".json");

    /// <summary>Each window row of the budget table as (minute, window, permits taken); empty when the table does not exist.</summary>
    private List<(string Minute, DateTimeOffset? Window, int? Taken)> BudgetRows()
    {
        var table = new TableClient(Storage, BudgetTable);
        try
        {
            return [.. table.Query<TableEntity>().Select(e => (e.RowKey, e.GetDateTimeOffset("Window"), e.GetInt32("Taken"))).OrderBy(r => r.RowKey)];
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            return [];
        }
    }

    [Fact]
    public async Task A_campaign_run_with_storage_takes_its_polar_requests_from_the_apps_budget_table_and_one_without_does_not()
    {
        await CliRun.RunAsync(Environment, "campaigns", "seed-samples", "--data-dir", _dataDir);

        var withStorage = await CliRun.RunAsync(Environment, "campaigns", "run", Sample("launch-partners"), "--json", "--data-dir", _dataDir, "--storage", Storage);
        var afterShared = BudgetRows();
        // Local state (the data folder) has not seen the occurrence, so this run lists and ingests again: Polar answers duplicates.
        var withoutStorage = await CliRun.RunAsync(Environment, "campaigns", "run", Sample("launch-partners"), "--json", "--data-dir", _dataDir);
        var afterLocal = BudgetRows();

        Assert.Equal(ExitCodes.Ok, withStorage.ExitCode);
        Assert.Equal(3, JsonDocument.Parse(withStorage.Out).RootElement.GetProperty("granted").GetInt32());
        Assert.NotEmpty(afterShared);
        Assert.True(afterShared.Sum(r => r.Taken ?? 0) > 0, "the run with --storage took its permits from the app's table");
        Assert.Equal(ExitCodes.Ok, withoutStorage.ExitCode);
        Assert.Equal(3, JsonDocument.Parse(withoutStorage.Out).RootElement.GetProperty("duplicates").GetInt32());
        Assert.Equal(afterShared, afterLocal);
    }
}
