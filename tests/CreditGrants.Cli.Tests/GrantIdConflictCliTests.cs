using System.Text.Json;
using CreditGrants.Cli;

namespace CreditGrants.Cli.Tests;

/// <summary><c>credits grant</c> with a grant id first used for another grant: exit 3, one sentence, nothing granted.</summary>
public sealed class GrantIdConflictCliTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-conflict-").FullName;
    private static readonly Dictionary<string, string?> NoPolar = [];

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    [Fact]
    public async Task A_grant_id_reused_for_another_customer_exits_3_with_one_sentence()
    {
        await Credits("grant", "--customer", "user-44", "--email", "ada@lovelace.dev", "--units", "5", "--grant-id", "g-1");

        var run = await Credits("grant", "--customer", "user-45", "--email", "bob@lovelace.dev", "--units", "5", "--grant-id", "g-1");
        var balance = await Credits("balance", "--customer", "user-45", "--json");

        Assert.Equal(ExitCodes.RefusedByPolar, run.ExitCode);
        Assert.DoesNotContain("Already granted", run.Out, StringComparison.Ordinal);
        var lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.Contains("embedded Polar emulator", StringComparison.Ordinal));
        var line = Assert.Single(lines);
        Assert.StartsWith("credits: Grant id 'g-1' was first used", line, StringComparison.Ordinal);
        Assert.Contains("5 units to external id 'user-44' on meter 'API Calls'", line, StringComparison.Ordinal);
        Assert.EndsWith("use a new grant id for a new grant.", line.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal(0m, JsonDocument.Parse(balance.Out).RootElement.GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task A_grant_id_reused_on_another_meter_exits_3()
    {
        await Credits("meters", "ensure", "--meter", "Storage", "--event", "storage_usage", "--property", "gb");
        await Credits("grant", "--customer", "user-44", "--email", "ada@lovelace.dev", "--units", "5", "--grant-id", "g-1");

        var run = await Credits("grant", "--customer", "user-44", "--units", "5", "--grant-id", "g-1", "--meter", "Storage");

        Assert.Equal(ExitCodes.RefusedByPolar, run.ExitCode);
        Assert.Contains("differs in meter", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_true_repeat_still_exits_0_as_a_duplicate()
    {
        await Credits("grant", "--customer", "user-44", "--email", "ada@lovelace.dev", "--units", "5", "--grant-id", "g-1");

        var run = await Credits("grant", "--customer", "user-44", "--units", "5", "--grant-id", "g-1");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Contains("Already granted", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bulk_row_whose_grant_id_was_used_for_another_grant_is_rejected_and_the_others_granted()
    {
        await Credits("grant", "--customer", "user-44", "--email", "ada@lovelace.dev", "--units", "5", "--grant-id", "g-1");
        await Credits("grant", "--customer", "user-47", "--email", "eve@lovelace.dev", "--units", "5", "--grant-id", "g-3");
        var input = Path.Combine(_dataDir, "grants.csv");
        await File.WriteAllTextAsync(input, "external_customer_id,units,grant_id\nuser-45,5,g-1\nuser-46,7,g-2\nuser-47,5,g-3\n");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        var results = await File.ReadAllLinesAsync(Path.Combine(_dataDir, "grants.results.csv"));
        Assert.Contains(results, l => l.StartsWith("2,g-1,user-45,", StringComparison.Ordinal) && l.Contains(",rejected,", StringComparison.Ordinal)
            && l.Contains("Grant id 'g-1' was first used", StringComparison.Ordinal) && l.Contains("to external id 'user-44'", StringComparison.Ordinal));
        Assert.DoesNotContain(results, l => l.StartsWith("3,", StringComparison.Ordinal) && l.Contains(",rejected,", StringComparison.Ordinal));
        Assert.DoesNotContain(results, l => l.StartsWith("4,", StringComparison.Ordinal) && l.Contains(",rejected,", StringComparison.Ordinal));
        var balance = await Credits("balance", "--customer", "user-47", "--json");
        Assert.Equal(5m, JsonDocument.Parse(balance.Out).RootElement.GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task Running_250_rows_with_grant_ids_again_costs_3_reads_of_events()
    {
        await using var polar = await PolarEmulator.PolarEmulatorServer.StartAsync(new PolarEmulator.EmulatorOptions { SeedMeter = true });
        var environment = new Dictionary<string, string?>
        {
            [PolarConnection.ServerVariable] = polar.BaseAddress.AbsoluteUri,
            [PolarConnection.TokenVariable] = polar.Token,
        };
        var input = Path.Combine(_dataDir, "many.csv");
        await File.WriteAllLinesAsync(input, ["external_customer_id,units,grant_id", .. Enumerable.Range(1, 250).Select(i => $"user-{i},1,grant-{i}")]);

        var first = await CliRun.RunAsync(environment, "bulk", "run", input);
        var firstReads = polar.RequestCountOf("GET /v1/events");
        var again = await CliRun.RunAsync(environment, "bulk", "run", input);
        var againReads = polar.RequestCountOf("GET /v1/events") - firstReads;

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        Assert.Equal(ExitCodes.Ok, again.ExitCode);
        Assert.Matches(@"Duplicates\s+250 ", again.Out.ReplaceLineEndings("\n"));
        // One GET /v1/events/ per 100 repeated ids, and none in the first run (nothing was repeated then).
        Assert.Equal(0, firstReads);
        Assert.Equal(3, againReads);
    }
}
