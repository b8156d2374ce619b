using System.Text.Json;

namespace CreditGrants.Cli.Tests;

/// <summary>
/// <c>credits bulk run</c> against the embedded emulator for rows to external ids that no Polar customer holds: granted with
/// the 180-minute note and counted as "No customer yet", or rejected with <c>--require-existing-customers</c>.
/// </summary>
public sealed class CustomerDirectoryCliTests : IDisposable
{
    private static readonly Dictionary<string, string?> NoPolar = [];

    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-directory-data-").FullName;
    private readonly string _folder = Directory.CreateTempSubdirectory("credits-directory-files-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_folder, recursive: true);
    }

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    /// <summary>A file with a row that creates its customer (email) and a row to an id no customer holds (no email).</summary>
    private string File(string name)
    {
        var path = Path.Combine(_folder, name);
        System.IO.File.WriteAllText(path, "external_customer_id,email,units\nuser-1,ada@lovelace.dev,10\nghost-7,,20\n");
        return path;
    }

    private string[] Results(string name) => System.IO.File.ReadAllLines(Path.Combine(_folder, name));

    private async Task<decimal> BalanceAsync(string customer) => (await Credits("balance", "--customer", customer, "--json")).Balance();

    [Fact]
    public async Task Rows_to_ids_no_customer_holds_are_granted_with_the_180_minute_note_and_counted_as_no_customer_yet()
    {
        var run = await Credits("bulk", "run", File("grants.csv"), "--json");
        var table = await Credits("bulk", "run", File("again.csv"), "--dry-run");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var json = JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal((2L, 1L), (json.GetProperty("granted").GetInt64(), json.GetProperty("awaitingCustomer").GetInt64()));
        var ghost = Results("grants.results.csv")[2];
        Assert.Contains(",granted,no Polar customer has external id 'ghost-7' yet", ghost, StringComparison.Ordinal);
        Assert.Contains("within 180 minutes", ghost, StringComparison.Ordinal);
        Assert.EndsWith(",granted,", Results("grants.results.csv")[1], StringComparison.Ordinal);
        Assert.Contains("No customer yet", table.Out, StringComparison.Ordinal);
        Assert.Equal(10m, await BalanceAsync("user-1"));
        // The flagged row was ingested: a customer created for the id within 180 minutes counts it.
        Assert.Equal(ExitCodes.Ok, (await Credits("grant", "--customer", "ghost-7", "--email", "ghost@lovelace.dev", "--units", "1", "--grant-id", "ghost-created")).ExitCode);
        Assert.Equal(21m, await BalanceAsync("ghost-7"));
    }

    [Fact]
    public async Task With_require_existing_customers_those_rows_are_rejected_with_what_to_change_and_nothing_is_ingested_for_them()
    {
        var dry = await Credits("bulk", "run", File("dry.csv"), "--require-existing-customers", "--dry-run", "--json");
        var run = await Credits("bulk", "run", File("grants.csv"), "--require-existing-customers", "--json");

        Assert.Equal(ExitCodes.RowsRejected, dry.ExitCode);
        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        var json = JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal((1L, 1L, 0L), (json.GetProperty("granted").GetInt64(), json.GetProperty("rejected").GetInt64(), json.GetProperty("awaitingCustomer").GetInt64()));
        foreach (var results in new[] { Results("dry.results.csv"), Results("grants.results.csv") })
        {
            Assert.Contains(",rejected,", results[2], StringComparison.Ordinal);
            Assert.Contains("no Polar customer has external id 'ghost-7'", results[2], StringComparison.Ordinal);
            Assert.Contains("create the customer first", results[2], StringComparison.Ordinal);
            Assert.Contains("add an email column", results[2], StringComparison.Ordinal);
        }

        Assert.Contains(",would_grant,", Results("dry.results.csv")[1], StringComparison.Ordinal);
        Assert.EndsWith(",granted,", Results("grants.results.csv")[1], StringComparison.Ordinal);
        Assert.Equal(10m, await BalanceAsync("user-1"));
        // Had the rejected row been ingested, the customer created now would count its 20 units too (Polar's 180-minute rule).
        Assert.Equal(ExitCodes.Ok, (await Credits("grant", "--customer", "ghost-7", "--email", "ghost@lovelace.dev", "--units", "1", "--grant-id", "ghost-created")).ExitCode);
        Assert.Equal(1m, await BalanceAsync("ghost-7"));
    }

    [Fact]
    public async Task A_dry_run_shows_the_note_on_rows_to_ids_no_customer_holds()
    {
        var run = await Credits("bulk", "run", File("dry.csv"), "--dry-run", "--json");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(1L, JsonDocument.Parse(run.Out).RootElement.GetProperty("awaitingCustomer").GetInt64());
        Assert.Contains("no Polar customer has external id 'ghost-7' yet", Results("dry.results.csv")[2], StringComparison.Ordinal);
    }
}

/// <summary><c>credits customers sync</c>: the whole organization into the CLI's directory, one list request per 100 customers.</summary>
public sealed class CustomersSyncCliTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-sync-data-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task Sync_records_every_customer_in_one_list_request_per_100_and_later_rows_to_them_cost_no_customer_request()
    {
        await using var polar = await PolarEmulator.PolarEmulatorServer.StartAsync(new PolarEmulator.EmulatorOptions { SeedMeter = true, SeedCustomers = 250 });
        var environment = new Dictionary<string, string?>
        {
            [PolarConnection.ServerVariable] = polar.BaseAddress.AbsoluteUri,
            [PolarConnection.TokenVariable] = polar.Token,
        };

        var sync = await CliRun.RunAsync(environment, "customers", "sync", "--json", "--data-dir", _dataDir);

        Assert.Equal(ExitCodes.Ok, sync.ExitCode);
        var answer = JsonDocument.Parse(sync.Out).RootElement;
        Assert.Equal((250, 3), (answer.GetProperty("customers").GetInt32(), answer.GetProperty("requests").GetInt32()));
        Assert.Equal(3, polar.RequestCountOf("GET /v1/customers"));
        // Rows with emails to those customers go straight to ingest: no create, no read.
        var file = Path.Combine(_dataDir, "known.csv");
        await File.WriteAllLinesAsync(file, ["external_customer_id,email,units", .. Enumerable.Range(1, 250).Select(i => $"user-{i},user{i}@lovelace.dev,1")]);
        var run = await CliRun.RunAsync(environment, "bulk", "run", file, "--data-dir", _dataDir);
        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(0, polar.RequestCountOf("POST /v1/customers") + polar.RequestCountOf("GET /v1/customers/external"));
        Assert.Equal(3, polar.RequestCountOf("GET /v1/customers"));
    }
}
