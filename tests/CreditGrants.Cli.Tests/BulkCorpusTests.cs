using System.Text.Json;
using CreditGrants.Testing;

namespace CreditGrants.Cli.Tests;

/// <summary>
/// Every file of the corpus (tests/Corpus/bulk) through <c>credits bulk run</c> against the embedded emulator: a refused file
/// exits 2 naming the place and grants nothing; otherwise each row ends as expected, what was rejected is not granted (its
/// customer is not even created), and every other row is granted exactly.
/// </summary>
public sealed class BulkCorpusTests : IDisposable
{
    private static readonly Dictionary<string, string?> NoPolar = [];

    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-corpus-data-").FullName;
    private readonly string _folder = Directory.CreateTempSubdirectory("credits-corpus-files-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_folder, recursive: true);
    }

    public static TheoryData<string> Files() => BulkCorpus.Names();

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    [Theory]
    [MemberData(nameof(Files))]
    public async Task Each_corpus_file_ends_as_expected_through_bulk_run(string file)
    {
        var expected = BulkCorpus.Case(file);
        var input = Path.Combine(_folder, file);
        File.Copy(expected.Path, input);

        var run = await Credits("bulk", "run", input, "--json");

        Assert.True(expected.Exit == run.ExitCode, $"{file}: exit {run.ExitCode}, expected {expected.Exit}\n{run.Error}");
        var results = Path.ChangeExtension(input, ".results.csv");
        if (expected.Exit == ExitCodes.InvalidInput)
        {
            Assert.Contains(expected.Error!, run.Error, StringComparison.OrdinalIgnoreCase);
            Assert.Single(run.Error.Trim().Split('\n'), line => !line.Contains("embedded Polar emulator", StringComparison.Ordinal));
            Assert.False(File.Exists(results), "a refused file leaves no results file");
        }
        else
        {
            expected.AssertRows(Csv.Rows(await File.ReadAllTextAsync(results)));
            var summary = JsonDocument.Parse(run.Out).RootElement;
            Assert.Equal(expected.Rows!.Count, summary.GetProperty("rows").GetInt64());
        }

        foreach (var (customer, units) in expected.Balances ?? [])
        {
            var balance = await Credits("balance", "--customer", customer, "--json");
            if (units is null)
            {
                Assert.True(balance.ExitCode != ExitCodes.Ok, $"{file}: customer '{customer}' exists, but nothing should have been granted to it");
            }
            else
            {
                Assert.True(balance.ExitCode == ExitCodes.Ok, $"{file}: no balance for '{customer}': {balance.Error}");
                Assert.Equal(units.Value, JsonDocument.Parse(balance.Out).RootElement.GetProperty("balance").GetDecimal());
            }
        }
    }
}
