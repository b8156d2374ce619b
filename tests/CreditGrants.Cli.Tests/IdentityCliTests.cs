using System.Text.Json;
using CreditGrants.Cli;

namespace CreditGrants.Cli.Tests;

/// <summary>Issue #18 through <c>credits</c>: one grant id is one grant across the CLI and bulk files, and nothing raw reaches the terminal.</summary>
public sealed class IdentityCliTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-identity-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(new Dictionary<string, string?>(), [.. args, "--data-dir", _dataDir]);

    [Fact]
    public async Task A_grant_id_with_a_trailing_space_is_refused_naming_the_trimmed_id()
    {
        var run = await Credits("grant", "--customer", "g3-user", "--email", "g3@credits.dev", "--units", "75", "--grant-id", "promo-g3 ");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("send 'promo-g3'", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_grant_a_bulk_file_made_with_a_trimmed_grant_id_is_a_duplicate_from_the_cli()
    {
        var file = Path.Combine(_dataDir, "promo.csv");
        await File.WriteAllTextAsync(file, "grant_id,external_customer_id,email,units\npromo-g4 ,g4-user,g4@credits.dev,75\n");
        Assert.Equal(ExitCodes.Ok, (await Credits("bulk", "run", file)).ExitCode);

        var again = await Credits("grant", "--customer", "g4-user", "--units", "75", "--grant-id", "promo-g4", "--json");
        var spaced = await Credits("grant", "--customer", "g4-user", "--units", "75", "--grant-id", "promo-g4 ");
        var balance = await Credits("balance", "--customer", "g4-user", "--json");

        Assert.Equal("duplicate", JsonDocument.Parse(again.Out).RootElement.GetProperty("status").GetString());
        Assert.Equal(ExitCodes.InvalidInput, spaced.ExitCode);
        Assert.Equal(75m, JsonDocument.Parse(balance.Out).RootElement.GetProperty("balance").GetDecimal());
    }

    [Theory]
    [InlineData("acme\u001B]0;credits: all grants OK\u0007")]
    [InlineData("acme\u001B[2K\u001B[1A")]
    [InlineData("acme\u009B2K")]
    public async Task Escape_sequences_in_a_value_reach_the_terminal_escaped(string customer)
    {
        var run = await Credits("grant", "--customer", customer, "--units", "5", "--grant-id", "esc-1");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("\\u001B", run.Error.Replace("\\u009B", "\\u001B", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain(run.Error + run.Out, c => c is '\u001B' or '\u0007' or '\u009B');
    }

    [Fact]
    public async Task A_bulk_file_with_escape_sequences_leaves_none_in_the_output_or_the_results_file()
    {
        var file = Path.Combine(_dataDir, "esc.csv");
        await File.WriteAllTextAsync(file, "external_customer_id,email,units,reason\n\"x\u001B]0;pwned\u0007\",x@credits.dev,4,ok\nfine-1,fine1@credits.dev,2,\"a\u202Eb\"\n");

        var run = await Credits("bulk", "run", file);

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        var results = await File.ReadAllTextAsync(Path.ChangeExtension(file, ".results.csv"));
        Assert.DoesNotContain(run.Error + run.Out + results, c => c is '\u001B' or '\u0007' or '\u202E');
        Assert.Contains("\\u001B", results, StringComparison.Ordinal);
    }

    [Fact]
    public void The_terminal_writer_keeps_line_breaks_and_tabs_and_escapes_the_rest()
    {
        Assert.Equal("a\tb\r\nc\\u001B[31m\\u202Ed", TerminalSafeWriter.Escape("a\tb\r\nc\u001B[31m\u202Ed"));
    }

    [Fact]
    public async Task A_meter_name_with_an_invisible_character_is_not_created()
    {
        var run = await Credits("meters", "ensure", "--meter", "API\u200DCalls");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("U+200D (zero width joiner) at character 4", run.Error, StringComparison.Ordinal);
    }
}
