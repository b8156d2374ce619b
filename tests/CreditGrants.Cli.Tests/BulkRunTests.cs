using System.Text.Json;
using CreditGrants.Bulk;
using CreditGrants.Polar;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PolarEmulator;

namespace CreditGrants.Cli.Tests;

/// <summary><c>credits bulk run</c> in-process against the embedded emulator, with files in a temporary folder.</summary>
public sealed class BulkRunTests : IDisposable
{
    private const string Header = "external_customer_id,email,name,units,reason";

    private static readonly Dictionary<string, string?> NoPolar = [];

    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-bulk-data-").FullName;
    private readonly string _folder = Directory.CreateTempSubdirectory("credits-bulk-files-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_folder, recursive: true);
    }

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    private string File(string name, params string[] lines)
    {
        var path = Path.Combine(_folder, name);
        System.IO.File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    private string Results(string name) => Path.Combine(_folder, name);

    private static List<string[]> ResultRows(string path) =>
        System.IO.File.ReadAllLines(path).Skip(1).Select(line => line.Split(',')).ToList();

    private async Task<decimal> BalanceAsync(string customer) => (await Credits("balance", "--customer", customer, "--json")).Balance();

    private static JsonElement Json(CliRun run) => JsonDocument.Parse(run.Out).RootElement;

    private string ValidFile() => File("grants.csv", Header,
        "user-1,ada@lovelace.dev,Ada,10,Welcome",
        "user-2,grace@hopper.dev,Grace,20,Welcome",
        "user-1,ada@lovelace.dev,Ada,2.5,Survey");

    [Fact]
    public async Task A_valid_file_grants_every_row_and_writes_the_results_next_to_it()
    {
        var input = ValidFile();

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var results = ResultRows(Results("grants.results.csv"));
        Assert.Equal([2L, 3, 4], results.Select(r => long.Parse(r[0], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.All(results, r => Assert.Equal("granted", r[6]));
        Assert.Matches(@"Rows\s+3\n", run.Out.ReplaceLineEndings("\n"));
        Assert.Matches(@"Granted\s+3\n", run.Out.ReplaceLineEndings("\n"));
        Assert.Matches(@"Units granted\s+32\.5\n", run.Out.ReplaceLineEndings("\n"));
        Assert.Equal(12.5m, await BalanceAsync("user-1"));
        Assert.Equal(20m, await BalanceAsync("user-2"));
    }

    [Fact]
    public async Task The_same_file_again_grants_nothing_and_every_row_is_a_duplicate()
    {
        var input = ValidFile();
        await Credits("bulk", "run", input);

        var again = await Credits("bulk", "run", input, "--json");

        Assert.Equal(ExitCodes.Ok, again.ExitCode);
        Assert.Equal(0, Json(again).GetProperty("granted").GetInt64());
        Assert.Equal(3, Json(again).GetProperty("duplicates").GetInt64());
        Assert.All(ResultRows(Results("grants.results.csv")), r => Assert.Equal("duplicate", r[6]));
        Assert.Equal(12.5m, await BalanceAsync("user-1"));
        Assert.Equal(20m, await BalanceAsync("user-2"));
    }

    [Fact]
    public async Task Bad_rows_are_rejected_with_line_column_and_value_and_exit_5_while_good_rows_are_granted()
    {
        var input = File("mixed.csv", Header,
            "user-1,ada@lovelace.dev,Ada,10,Welcome",
            "user-2,grace@hopper.dev,Grace,-5,Welcome",
            "user-3,not-an-email,Alan,10,Welcome",
            "user-4,katherine@johnson.space,Katherine,10,Welcome");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        var results = System.IO.File.ReadAllLines(Results("mixed.results.csv"));
        Assert.Equal(5, results.Length);
        Assert.Contains(",granted,", results[1], StringComparison.Ordinal);
        Assert.Contains(",rejected,\"line 3, column units, value '-5':", results[2], StringComparison.Ordinal);
        Assert.Contains(",rejected,\"line 4, column email, value 'not-an-email':", results[3], StringComparison.Ordinal);
        Assert.Contains(",granted,", results[4], StringComparison.Ordinal);
        Assert.Contains("line 3, column units, value '-5'", run.Out, StringComparison.Ordinal);
        Assert.Equal(10m, await BalanceAsync("user-4"));
    }

    [Fact]
    public async Task Json_prints_a_single_object_with_the_summary_and_the_results_path()
    {
        var input = File("mixed.csv", Header, "user-1,ada@lovelace.dev,Ada,10,Welcome", "user-2,grace@hopper.dev,Grace,0,Welcome");

        var run = await Credits("bulk", "run", input, "--json");

        var line = Assert.Single(run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        Assert.Equal(2, json.GetProperty("rows").GetInt64());
        Assert.Equal(1, json.GetProperty("granted").GetInt64());
        Assert.Equal(0, json.GetProperty("duplicates").GetInt64());
        Assert.Equal(0, json.GetProperty("grantedOrDuplicate").GetInt64());
        Assert.Equal(1, json.GetProperty("rejected").GetInt64());
        Assert.Equal(0, json.GetProperty("failed").GetInt64());
        Assert.Equal(10m, json.GetProperty("unitsGranted").GetDecimal());
        Assert.Equal(Results("mixed.results.csv"), json.GetProperty("results").GetString());
    }

    [Fact]
    public async Task Out_chooses_where_the_results_go()
    {
        var input = ValidFile();
        var chosen = Results("chosen.csv");

        var run = await Credits("bulk", "run", input, "--out", chosen);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(4, System.IO.File.ReadAllLines(chosen).Length);
        Assert.False(System.IO.File.Exists(Results("grants.results.csv")));
    }

    [Fact]
    public async Task Out_equal_to_the_input_exits_2_and_leaves_the_input_as_it_was()
    {
        var input = ValidFile();
        var before = await System.IO.File.ReadAllTextAsync(input);

        var run = await Credits("bulk", "run", input, "--out", input);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("--out", run.Error, StringComparison.Ordinal);
        Assert.Contains("is the input file itself", run.Error, StringComparison.Ordinal);
        Assert.Equal(before, await System.IO.File.ReadAllTextAsync(input));
    }

    [Fact]
    public async Task Out_in_a_missing_folder_exits_2_naming_the_folder()
    {
        var run = await Credits("bulk", "run", ValidFile(), "--out", Path.Combine(_folder, "nowhere", "results.csv"));

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("nowhere' does not exist", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("external_customer_id,units,credits", "unknown column 'credits'")]
    [InlineData("external_customer_id,email", "a 'units' column is required")]
    [InlineData("external_customer_id,units,Units", "column 'units' appears twice")]
    public async Task An_unusable_header_exits_2_naming_the_file_and_the_column(string header, string message)
    {
        var input = File("bad-header.csv", header, "user-1,1,1");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains($"'{input}' cannot be used: the header row is not usable", run.Error, StringComparison.Ordinal);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
        Assert.False(System.IO.File.Exists(Results("bad-header.results.csv")));
    }

    [Fact]
    public async Task An_unusable_header_leaves_an_earlier_results_file_as_it_was()
    {
        var input = File("grants.csv", "external_customer_id,credits", "user-1,1");
        var earlier = File("grants.results.csv", "line,status", "2,granted");

        await Credits("bulk", "run", input);

        Assert.Equal("line,status\n2,granted\n", await System.IO.File.ReadAllTextAsync(earlier));
    }

    [Fact]
    public async Task A_missing_file_exits_2_naming_it()
    {
        var missing = Path.Combine(_folder, "missing.csv");

        var run = await Credits("bulk", "run", missing);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains($"The file '{missing}' does not exist", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("embedded Polar emulator", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_folder_instead_of_a_file_exits_2()
    {
        var run = await Credits("bulk", "run", _folder);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains($"'{_folder}' is a folder, not a CSV file", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Off_a_terminal_progress_is_plain_lines_on_stderr_without_escape_sequences()
    {
        var run = await Credits("bulk", "run", ValidFile());

        Assert.Contains("0 / 3 rows (0%)\n", run.Error.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("3 / 3 rows (100%): 3 granted\n", run.Error.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', run.Error);
        Assert.DoesNotContain('\u001b', run.Out);
    }

    [Fact]
    public async Task On_a_terminal_the_progress_bar_and_table_are_drawn_with_escape_sequences()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var cli = new CreditsCli(output, error, _ => null) { IsTerminal = _ => true };

        var code = await cli.RunAsync(["bulk", "run", ValidFile(), "--data-dir", _dataDir]);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("\u001b[", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("rows (100%)", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("╭", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_on_a_terminal_draws_no_progress_bar()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var cli = new CreditsCli(output, error, _ => null) { IsTerminal = _ => true };

        await cli.RunAsync(["bulk", "run", ValidFile(), "--json", "--data-dir", _dataDir]);

        Assert.DoesNotContain('\u001b', error.ToString() + output.ToString());
        Assert.Equal(3, JsonDocument.Parse(output.ToString()).RootElement.GetProperty("granted").GetInt64());
    }

    [Fact]
    public async Task A_file_of_several_chunks_has_one_result_line_per_row()
    {
        var rows = Enumerable.Range(1, 2_500).Select(i => $"user-{i % 7},,,1,Bulk");
        var input = File("large.csv", [Header, .. rows]);

        var run = await Credits("bulk", "run", input, "--json");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var lines = ResultRows(Results("large.results.csv")).Select(r => long.Parse(r[0], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Enumerable.Range(2, 2_500).Select(i => (long)i), lines);
        Assert.Contains("2,500 / 2,500 rows (100%): 2,500 granted", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Polar_unavailable_exits_4_and_says_that_running_again_is_safe()
    {
        await using var failing = await FailingPolar.StartAsync();
        var environment = failing.Environment;

        var input = ValidFile();

        var run = await CliRun.RunAsync(environment, "bulk", "run", input);

        var statuses = (await System.IO.File.ReadAllLinesAsync(Path.ChangeExtension(input, ".results.csv"))).Skip(1).Select(l => l.Split(',')[6]);
        Assert.Equal(["failed", "failed", "failed"], statuses);
        Assert.Equal(ExitCodes.Unavailable, run.ExitCode);
        Assert.Contains("stopped after 0 of 3 rows; the other 3 are marked failed", run.Error, StringComparison.Ordinal);
        Assert.Contains("Running the same file again is safe", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sample_file_grants_its_eight_good_rows_and_rejects_the_two_bad_ones()
    {
        var sample = Path.Combine(RepositoryRoot(), "samples", "welcome-credits.csv");
        var input = Path.Combine(_folder, "welcome-credits.csv");
        System.IO.File.Copy(sample, input);

        var run = await Credits("bulk", "run", input, "--json");

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        Assert.Equal(10, Json(run).GetProperty("rows").GetInt64());
        Assert.Equal(8, Json(run).GetProperty("granted").GetInt64());
        Assert.Equal(2, Json(run).GetProperty("rejected").GetInt64());
        Assert.Equal(125m, await BalanceAsync("user-1001"));
    }

    [Fact]
    public void Progress_lines_come_at_most_once_per_interval_and_always_at_the_end()
    {
        using var writer = new StringWriter();
        var time = new ManualTime();
        var lines = new BulkProgressLines(writer, time, TimeSpan.FromSeconds(2));
        static BulkProgress At(long done) => new(done, 3_000, BulkSummary.Empty with { Rows = done, Granted = done });

        lines.Write(At(0));
        lines.Write(At(1_000));
        time.Advance(TimeSpan.FromSeconds(2));
        lines.Write(At(2_000));
        lines.Write(At(3_000));

        Assert.Equal(
            ["0 / 3,000 rows (0%)", "2,000 / 3,000 rows (66%): 2,000 granted", "3,000 / 3,000 rows (100%): 3,000 granted"],
            writer.ToString().Split(writer.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task A_dry_run_says_how_many_units_it_would_grant()
    {
        var file = File("dry.csv", "external_customer_id,units", "user-1,1500", "user-2,1000.5");

        var run = await Credits("bulk", "run", file, "--dry-run");
        var json = await Credits("bulk", "run", file, "--dry-run", "--json");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Contains("Units it would grant", run.Out, StringComparison.Ordinal);
        Assert.Contains("2,500.5", run.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Units granted", run.Out, StringComparison.Ordinal);
        Assert.Equal(2500.5m, Json(json).GetProperty("unitsWouldGrant").GetDecimal());
    }

    [Fact]
    public void While_no_row_finishes_a_tick_repeats_the_last_line_each_interval_saying_it_is_still_working()
    {
        using var writer = new StringWriter();
        var time = new ManualTime();
        var lines = new BulkProgressLines(writer, time, TimeSpan.FromSeconds(2));

        lines.Tick();
        lines.Write(new BulkProgress(0, 2_000, BulkSummary.Empty));
        time.Advance(TimeSpan.FromSeconds(1));
        lines.Tick();
        time.Advance(TimeSpan.FromSeconds(1));
        lines.Tick();
        time.Advance(TimeSpan.FromSeconds(2));
        lines.Tick();

        Assert.Equal(
            ["0 / 2,000 rows (0%)", "0 / 2,000 rows (0%); still working, no row finished for 2 s", "0 / 2,000 rows (0%); still working, no row finished for 4 s"],
            writer.ToString().Split(writer.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void A_tick_after_the_last_row_prints_nothing()
    {
        using var writer = new StringWriter();
        var time = new ManualTime();
        var lines = new BulkProgressLines(writer, time, TimeSpan.FromSeconds(2));

        lines.Write(new BulkProgress(3, 3, BulkSummary.Empty with { Rows = 3, Granted = 3 }));
        time.Advance(TimeSpan.FromSeconds(5));
        lines.Tick();

        Assert.Equal(["3 / 3 rows (100%): 3 granted"], writer.ToString().Split(writer.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Against_the_embedded_emulator_requests_are_not_paced_at_polars_limit()
    {
        var settings = new CliSettings(null, null, _dataDir, Verbose: false, _ => null, new Dictionary<string, string?>());

        await using var connection = await PolarConnection.OpenAsync(settings, TextWriter.Null, CancellationToken.None);

        var options = connection.Services.GetRequiredService<IOptions<PolarClientOptions>>().Value;
        Assert.Equal(PolarConnection.EmbeddedRequestsPerMinute, options.EffectiveRequestsPerMinute);
    }

    [Fact]
    public async Task Against_the_embedded_emulator_a_configured_request_budget_is_kept()
    {
        var settings = new CliSettings(null, null, _dataDir, Verbose: false, _ => null,
            new Dictionary<string, string?> { ["Polar:RequestsPerMinute"] = "100" });

        await using var connection = await PolarConnection.OpenAsync(settings, TextWriter.Null, CancellationToken.None);

        Assert.Equal(100, connection.Services.GetRequiredService<IOptions<PolarClientOptions>>().Value.EffectiveRequestsPerMinute);
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(folder.FullName, "CreditFunctions.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds CreditFunctions.sln.");
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
