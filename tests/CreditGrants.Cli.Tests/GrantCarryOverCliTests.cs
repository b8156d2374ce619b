using System.Text.Json;
using CreditGrants.Cli;

namespace CreditGrants.Cli.Tests;

/// <summary><c>credits grant --carry-over</c>: the grant is marked to survive meter resets, and its ledger says so (<c>carryOver</c> is printed only when true).</summary>
public sealed class GrantCarryOverCliTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-carry-").FullName;
    private static readonly Dictionary<string, string?> NoPolar = [];

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    [Fact]
    public async Task A_grant_with_carry_over_is_listed_as_carried_over_and_one_without_is_not()
    {
        var kept = await Credits("grant", "--customer", "user-1", "--email", "user-1@lovelace.dev", "--units", "50", "--grant-id", "kept", "--carry-over");
        await Credits("grant", "--customer", "user-1", "--units", "20", "--grant-id", "plain");

        var ledger = await Credits("grants", "list", "--customer", "user-1", "--json");

        Assert.Equal(ExitCodes.Ok, kept.ExitCode);
        var carryOver = JsonDocument.Parse(ledger.Out).RootElement.GetProperty("grants").EnumerateArray()
            .ToDictionary(g => g.GetProperty("grantId").GetString()!, g => g.TryGetProperty("carryOver", out var flag) && flag.GetBoolean());
        Assert.True(carryOver["kept"]);
        Assert.False(carryOver["plain"]);
    }

    [Fact]
    public async Task The_grant_answer_says_carry_over_and_a_repeat_without_it_is_refused()
    {
        var kept = await Credits("grant", "--customer", "user-2", "--email", "user-2@lovelace.dev", "--units", "50", "--grant-id", "kept-2", "--carry-over");
        var json = await Credits("grant", "--customer", "user-2", "--units", "50", "--grant-id", "kept-2", "--carry-over", "--json");
        var without = await Credits("grant", "--customer", "user-2", "--units", "50", "--grant-id", "kept-2");

        Assert.Contains("Carried over meter resets", kept.Out, StringComparison.Ordinal);
        Assert.True(JsonDocument.Parse(json.Out).RootElement.GetProperty("carryOver").GetBoolean());
        Assert.NotEqual(ExitCodes.Ok, without.ExitCode);
        Assert.Contains("differs in carryOver (first true)", without.Error, StringComparison.Ordinal);
    }
}
