using System.Text.Json;

namespace CreditGrants.Cli.Tests;

/// <summary><c>credits bulk revoke --results</c>: undoing a local <c>credits bulk run</c> against the embedded emulator.</summary>
public sealed class BulkRevokeCliTests : IDisposable
{
    private static readonly Dictionary<string, string?> NoPolar = [];

    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-revoke-data-").FullName;
    private readonly string _folder = Directory.CreateTempSubdirectory("credits-revoke-files-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_folder, recursive: true);
    }

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    private async Task<decimal> BalanceAsync(string customer) => (await Credits("balance", "--customer", customer, "--json")).Balance();

    private static List<string[]> Rows(string path) => File.ReadAllLines(path).Skip(1).Select(line => line.Split(',')).ToList();

    /// <summary>A wrong file run: ada twice, grace once, one rejected row; returns its results file.</summary>
    private async Task<string> WrongRunAsync()
    {
        var input = Path.Combine(_folder, "wrong.csv");
        await File.WriteAllTextAsync(input, "external_customer_id,email,units\nada,ada@x.dev,10\ngrace,grace@x.dev,20\nada,ada@x.dev,5\nbob,,lots\n");
        var run = await Credits("bulk", "run", input);
        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        return Path.Combine(_folder, "wrong.results.csv");
    }

    [Fact]
    public async Task A_dry_run_writes_what_each_row_would_take_back_and_changes_no_balance()
    {
        var results = await WrongRunAsync();

        var run = await Credits("bulk", "revoke", "--results", results, "--reason", "wrong file", "--dry-run");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var rows = Rows(Path.Combine(_folder, "wrong.revocation-dry-run.csv"));
        Assert.Equal(["would_revoke", "would_revoke", "would_revoke", "not_granted"], rows.Select(r => r[6]));
        Assert.Equal(["10", "20", "5", "0"], rows.Select(r => r[5]));
        Assert.Equal(15m, await BalanceAsync("ada"));
        Assert.False(File.Exists(Path.Combine(_folder, "wrong.revocation.csv")));
    }

    [Fact]
    public async Task Revoking_takes_back_the_unspent_units_and_running_it_again_changes_nothing()
    {
        var results = await WrongRunAsync();
        await Credits("grant", "--customer", "ada", "--units", "1", "--grant-id", "kept");

        var first = await Credits("bulk", "revoke", "--results", results, "--reason", "wrong file", "--json");
        var firstRows = Rows(Path.Combine(_folder, "wrong.revocation.csv"));
        var again = await Credits("bulk", "revoke", "--results", results, "--reason", "wrong file", "--json");

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        Assert.Equal(["revoked", "revoked", "revoked", "not_granted"], firstRows.Select(r => r[6]));
        Assert.Equal(35m, JsonDocument.Parse(first.Out).RootElement.GetProperty("unitsRevoked").GetDecimal());
        Assert.Equal(1m, await BalanceAsync("ada"));
        Assert.Equal(0m, await BalanceAsync("grace"));
        Assert.Equal(ExitCodes.Ok, again.ExitCode);
        var json = JsonDocument.Parse(again.Out).RootElement;
        Assert.Equal((3, 0m), (json.GetProperty("alreadyRevoked").GetInt32(), json.GetProperty("unitsRevoked").GetDecimal()));
        Assert.Equal(1m, await BalanceAsync("ada"));
    }

    [Theory]
    [InlineData("--reason", "x")]
    [InlineData("some-job", "--results", "file.csv", "--reason", "x")]
    public async Task Neither_or_both_of_a_job_and_a_results_file_is_invalid_input(params string[] args)
    {
        var run = await Credits(["bulk", "revoke", .. args]);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("either a bulk job id", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_that_is_not_a_results_file_is_invalid_input_naming_the_header_expected()
    {
        var input = Path.Combine(_folder, "grants.csv");
        await File.WriteAllTextAsync(input, "external_customer_id,units\nada,10\n");

        var run = await Credits("bulk", "revoke", "--results", input, "--reason", "x");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("line,grant_id,external_customer_id", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Campaign_revoke_takes_back_one_occurrences_grants_and_needs_the_occurrence_of_an_every_occurrence_campaign()
    {
        var campaign = Path.Combine(_folder, "promo.json");
        await File.WriteAllTextAsync(campaign, """
            {"id":"promo-dec","units":100,"reason":"December promo","schedule":{"once":"2026-12-01T09:00:00Z"},
             "audience":{"externalIds":["sample-1","sample-2"]},"grantPolicy":"everyOccurrence"}
            """);
        Assert.Equal(ExitCodes.Ok, (await Credits("campaigns", "seed-samples")).ExitCode);
        Assert.Equal(ExitCodes.Ok, (await Credits("campaigns", "run", campaign)).ExitCode);
        var before = await BalanceAsync("sample-1");
        var output = Path.Combine(_folder, "undo.csv");

        var missing = await Credits("campaigns", "revoke", campaign, "--reason", "oops");
        var run = await Credits("campaigns", "revoke", campaign, "--occurrence", "2026-12-01T09:00:00Z", "--reason", "oops", "--out", output, "--json");

        Assert.Equal(ExitCodes.InvalidInput, missing.ExitCode);
        Assert.Contains("name the occurrence", missing.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(200m, JsonDocument.Parse(run.Out).RootElement.GetProperty("unitsRevoked").GetDecimal());
        Assert.Equal(["campaign:promo-dec:2026-12-01T09:00:00Z:sample-1", "campaign:promo-dec:2026-12-01T09:00:00Z:sample-2"], Rows(output).Select(r => r[1]));
        Assert.Equal(before - 100, await BalanceAsync("sample-1"));
    }
}
