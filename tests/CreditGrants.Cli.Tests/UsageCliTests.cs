using System.Text.Json;
using CreditGrants.Cli;

namespace CreditGrants.Cli.Tests;

/// <summary><c>credits usage</c>: usage recorded as the SaaS app would, for trying grants, the ledger and expiry on the embedded default.</summary>
public sealed class UsageCliTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-usage-").FullName;
    private static readonly Dictionary<string, string?> NoPolar = [];

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    private async Task<decimal> BalanceAsync(string customer) => (await Credits("balance", "--customer", customer, "--json")).Balance();

    [Fact]
    public async Task Usage_spends_the_credits_of_the_grant_that_expires_first()
    {
        await Credits("grant", "--customer", "user-1", "--email", "user-1@lovelace.dev", "--units", "50", "--grant-id", "trial", "--expires-in", "P30D");
        await Credits("grant", "--customer", "user-1", "--units", "20", "--grant-id", "bonus");

        var usage = await Credits("usage", "--customer", "user-1", "--units", "30");
        var ledger = await Credits("grants", "list", "--customer", "user-1", "--json");

        Assert.Equal(ExitCodes.Ok, usage.ExitCode);
        Assert.Contains("Recorded 30 units of usage by 'user-1' on meter 'API Calls'", usage.Out, StringComparison.Ordinal);
        Assert.Equal(40m, await BalanceAsync("user-1"));
        var remaining = JsonDocument.Parse(ledger.Out).RootElement.GetProperty("grants").EnumerateArray()
            .ToDictionary(g => g.GetProperty("grantId").GetString()!, g => g.GetProperty("remaining").GetDecimal());
        Assert.Equal(20m, remaining["trial"]);
        Assert.Equal(20m, remaining["bonus"]);
    }

    [Fact]
    public async Task The_same_event_id_records_usage_once()
    {
        await Credits("grant", "--customer", "user-2", "--email", "user-2@lovelace.dev", "--units", "50", "--grant-id", "g2");

        var first = await Credits("usage", "--customer", "user-2", "--units", "5", "--event-id", "u-1", "--json");
        var again = await Credits("usage", "--customer", "user-2", "--units", "5", "--event-id", "u-1", "--json");

        Assert.True(JsonDocument.Parse(first.Out).RootElement.GetProperty("recorded").GetBoolean());
        Assert.False(JsonDocument.Parse(again.Out).RootElement.GetProperty("recorded").GetBoolean());
        Assert.Equal(45m, await BalanceAsync("user-2"));
    }

    [Theory]
    [InlineData("0", "--units '0': must be a number greater than 0")]
    [InlineData("-5", "--units '-5': must be a number greater than 0")]
    [InlineData("1,5", "--units '1,5': must be a number greater than 0, with a '.' for decimals")]
    [InlineData("0.0000001", "--units '0.0000001': has more than 6 decimal places")]
    public async Task Bad_units_are_refused_before_Polar_naming_the_value(string units, string message)
    {
        var run = await Credits("usage", "--customer", "user-3", "--units", units);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dataDir, PolarConnection.EmulatorStateFile)));
    }

    [Fact]
    public async Task Usage_is_refused_on_production_where_usage_comes_from_the_app()
    {
        var token = Path.Combine(_dataDir, "token");
        await File.WriteAllTextAsync(token, "polar_oat_not_a_real_token");

        var run = await Credits("usage", "--customer", "user-4", "--units", "5", "--polar-server", "production", "--polar-token-file", token);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("usage is refused on production", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("polar_oat_not_a_real_token", run.Error, StringComparison.Ordinal);
    }
}
