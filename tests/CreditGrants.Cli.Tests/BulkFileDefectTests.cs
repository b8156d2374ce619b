using System.Text;
using System.Text.Json;

namespace CreditGrants.Cli.Tests;

/// <summary>
/// The inputs of issue 9's table, each run through <c>credits bulk run</c> against the embedded emulator: files as operators
/// really produce them must never grant the wrong amount, to the wrong customer, or twice, while the run says all is well.
/// </summary>
public sealed class BulkFileDefectTests : IDisposable
{
    private static readonly Dictionary<string, string?> NoPolar = [];

    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-defects-data-").FullName;
    private readonly string _folder = Directory.CreateTempSubdirectory("credits-defects-files-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_folder, recursive: true);
    }

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Write(string name, string text) => Write(name, Encoding.UTF8.GetBytes(text));

    private List<IReadOnlyDictionary<string, string>> Results(string name) => Csv.Rows(File.ReadAllText(Path.Combine(_folder, name)));

    /// <summary>Makes a customer exist, with one unit granted, so that later balances show exactly what a file added.</summary>
    private async Task SeedAsync(string customer)
    {
        var run = await Credits("grant", "--customer", customer, "--email", $"{customer}@lovelace.dev", "--units", "1", "--grant-id", $"seed-{customer}");
        Assert.Equal(ExitCodes.Ok, run.ExitCode);
    }

    /// <summary>The customer's balance, or null when no customer has that external id.</summary>
    private async Task<decimal?> BalanceAsync(string customer)
    {
        var run = await Credits("balance", "--customer", customer, "--json");
        return run.ExitCode == ExitCodes.Ok ? JsonDocument.Parse(run.Out).RootElement.GetProperty("balance").GetDecimal() : null;
    }

    [Fact]
    public async Task A_row_with_a_field_more_than_the_header_is_rejected_naming_both_counts_and_nothing_is_sent()
    {
        await SeedAsync("u-1");
        var input = Write("extra.csv", "external_customer_id,units,reason\nu-1,1,500,Spring promo\n");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        var row = Assert.Single(Results("extra.results.csv"));
        Assert.Equal("rejected", row["status"]);
        Assert.StartsWith("line 2 has 4 fields and the header 3: a cell that holds a comma must be quoted", row["reason"], StringComparison.Ordinal);
        Assert.Equal(1m, await BalanceAsync("u-1"));
    }

    [Fact]
    public async Task Cells_are_trimmed_so_padded_units_are_granted()
    {
        await SeedAsync("u-2");
        var input = Write("padded.csv", "external_customer_id,units\nu-2, 75 \n");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(76m, await BalanceAsync("u-2"));
    }

    [Fact]
    public async Task A_padded_external_id_is_trimmed_and_granted_to_the_customer_it_names()
    {
        await SeedAsync("u-3");
        var input = Write("padded-id.csv", "external_customer_id,units\n u-3,10\n");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal("u-3", Assert.Single(Results("padded-id.results.csv"))["external_customer_id"]);
        Assert.Equal(11m, await BalanceAsync("u-3"));
    }

    [Fact]
    public async Task An_unclosed_quote_is_rejected_at_its_line_and_the_rows_after_it_are_granted()
    {
        foreach (var customer in new[] { "u-4", "u-5", "u-6" })
        {
            await SeedAsync(customer);
        }

        var input = Write("quote.csv", "external_customer_id,units,reason\nu-4,10,\"Launch week\nu-5,20,x\nu-6,30,y\n");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        var results = Results("quote.results.csv");
        Assert.Equal(["rejected", "granted", "granted"], results.Select(r => r["status"]));
        Assert.StartsWith("line 2 opens a quoted cell that is not closed on this line", results[0]["reason"], StringComparison.Ordinal);
        Assert.Equal((1m, 21m, 31m), (await BalanceAsync("u-4"), await BalanceAsync("u-5"), await BalanceAsync("u-6")));
    }

    [Fact]
    public async Task A_file_saved_as_windows_1252_is_refused_naming_the_first_bad_line_and_nothing_is_sent()
    {
        // "José" and "Müller" as Windows-1252 writes them: é = 0xE9, ü = 0xFC, which are not UTF-8.
        var bytes = Encoding.Latin1.GetBytes("external_customer_id,name,email,units\nu-7,Ann,ann@lovelace.dev,5\njos\u00e9,Jos\u00e9,jose@lovelace.dev,5\nm\u00fcller,M\u00fcller,m@lovelace.dev,5\n");
        var input = Write("ansi.csv", bytes);

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("line 3 is not valid UTF-8 (byte 0xE9)", run.Error, StringComparison.Ordinal);
        Assert.Contains("CSV UTF-8", run.Error, StringComparison.Ordinal);
        Assert.Null(await BalanceAsync("u-7"));
        Assert.False(File.Exists(Path.Combine(_folder, "ansi.results.csv")));
    }

    [Fact]
    public async Task A_utf16_file_with_a_byte_order_mark_is_read_in_that_encoding_in_every_chunk()
    {
        var text = "external_customer_id,name,email,units\nj\u00f6rg,J\u00f6rg,joerg@lovelace.dev,5\nren\u00e9e,Ren\u00e9e,renee@lovelace.dev,7\n";
        var input = Write("unicode.csv", [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(text)]);

        var run = await Credits("bulk", "run", input, "--json");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(2, JsonDocument.Parse(run.Out).RootElement.GetProperty("rows").GetInt64());
        Assert.Equal(5m, await BalanceAsync("j\u00f6rg"));
        Assert.Equal(7m, await BalanceAsync("ren\u00e9e"));
    }

    [Fact]
    public async Task Lines_of_only_separators_and_spaces_are_skipped_like_blank_lines()
    {
        var input = Write("trailing.csv", "external_customer_id,email,units\nu-8,u8@lovelace.dev,5\n,,\n  ,  , \n\"\",,\n\n");

        var run = await Credits("bulk", "run", input, "--json");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(1, JsonDocument.Parse(run.Out).RootElement.GetProperty("rows").GetInt64());
        Assert.Equal(5m, await BalanceAsync("u-8"));
    }

    [Theory]
    [InlineData("7.12345E+15")]
    [InlineData("1E+10")]
    [InlineData("4,5E+12")]
    public async Task An_id_a_spreadsheet_rewrote_in_exponent_notation_is_rejected(string id)
    {
        var input = Write("exponent.csv", $"external_customer_id,units\n\"{id}\",25\n12345678901234567890,1\n");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        var results = Results("exponent.results.csv");
        Assert.Equal("rejected", results[0]["status"]);
        Assert.Contains("spreadsheet rewrote in exponent notation", results[0]["reason"], StringComparison.Ordinal);
        Assert.Equal("granted", results[1]["status"]);
    }

    [Fact]
    public async Task A_file_fixed_in_place_and_run_again_grants_only_the_fixed_rows()
    {
        var rows = Enumerable.Range(1, 8).Select(i => $"f-{i},f{i}@lovelace.dev,{i}").ToList();
        string File(string bad1, string bad2) =>
            "external_customer_id,email,units\n" + string.Join("\n", rows.Take(4)) + $"\n{bad1}\n" + string.Join("\n", rows.Skip(4)) + $"\n{bad2}\n";
        var input = Write("promo.csv", File("f-9,f9@lovelace.dev,-9", "f-10,f10@lovelace,10"));
        var first = await Credits("bulk", "run", input, "--json");
        Assert.Equal(ExitCodes.RowsRejected, first.ExitCode);

        Write("promo.csv", File("f-9,f9@lovelace.dev,9", "f-10,f10@lovelace.dev,10"));
        var again = await Credits("bulk", "run", input, "--json");

        Assert.Equal(ExitCodes.Ok, again.ExitCode);
        var summary = JsonDocument.Parse(again.Out).RootElement;
        Assert.Equal("promo", summary.GetProperty("batch").GetString());
        Assert.Equal((2L, 8L, 0L), (summary.GetProperty("granted").GetInt64(), summary.GetProperty("duplicates").GetInt64(),
            summary.GetProperty("grantedOrDuplicate").GetInt64()));
        var results = Results("promo.results.csv");
        Assert.Equal(["f-9", "f-10"], results.Where(r => r["status"] == "granted").Select(r => r["external_customer_id"]));
        for (var i = 1; i <= 10; i++)
        {
            Assert.Equal(i, await BalanceAsync($"f-{i}"));
        }
    }

    [Fact]
    public async Task The_same_rows_in_another_batch_grant_again_and_the_summary_names_the_batch()
    {
        var input = Write("monthly.csv", "external_customer_id,email,units\nm-1,m1@lovelace.dev,5\n");
        await Credits("bulk", "run", input, "--batch", "2026-11");

        var december = await Credits("bulk", "run", input, "--batch", "2026-12");

        Assert.Equal(ExitCodes.Ok, december.ExitCode);
        Assert.Matches(@"Batch\s+2026-12\n", december.Out.ReplaceLineEndings("\n"));
        Assert.Matches(@"Granted\s+1\n", december.Out.ReplaceLineEndings("\n"));
        Assert.Equal(10m, await BalanceAsync("m-1"));
    }

    [Fact]
    public async Task Two_identical_rows_in_one_file_are_two_grants()
    {
        var input = Write("twice.csv", "external_customer_id,email,units\nt-1,t1@lovelace.dev,5\nt-1,t1@lovelace.dev,5\n");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(10m, await BalanceAsync("t-1"));
    }

    [Fact]
    public async Task A_semicolon_file_from_a_european_excel_with_sep_line_and_decimal_commas_is_read_by_its_own_rules()
    {
        var input = Write("excel.csv", "sep=;\r\nexternal_customer_id;email;units;reason\r\ns-1;s1@lovelace.dev;12,25;Promo, spring\r\ns-2;s2@lovelace.dev;1.000;x\r\n");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        var results = Results("excel.results.csv");
        Assert.Equal(("3", "granted"), (results[0]["line"], results[0]["status"]));
        Assert.Equal(12.25m, await BalanceAsync("s-1"));
        Assert.Equal("rejected", results[1]["status"]);
        Assert.Contains("could mean 1 ('.' as the decimal mark) or 1000 ('.' separating thousands)", results[1]["reason"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tab_separated_file_is_read_by_its_header()
    {
        var input = Write("tabs.tsv", "units\texternal_customer_id\temail\n3\ttab-1\ttab1@lovelace.dev\n");

        var run = await Credits("bulk", "run", input);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(3m, await BalanceAsync("tab-1"));
    }

    [Fact]
    public async Task A_dry_run_checks_every_row_writes_the_results_and_grants_nothing()
    {
        var input = Write("dry.csv", "external_customer_id,email,units,meter\nd-1,d1@lovelace.dev,5,\nd-2,d2@lovelace.dev,-1,\nd-3,d3@lovelace.dev,5,Nope\n");

        var run = await Credits("bulk", "run", input, "--dry-run", "--json");

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        Assert.Equal(["would_grant", "rejected", "rejected"], Results("dry.results.csv").Select(r => r["status"]));
        var summary = JsonDocument.Parse(run.Out).RootElement;
        Assert.True(summary.GetProperty("dryRun").GetBoolean());
        Assert.Equal((1L, 0L, 0L), (summary.GetProperty("wouldGrant").GetInt64(), summary.GetProperty("granted").GetInt64(),
            summary.GetProperty("ingestRequests").GetInt64()));
        Assert.Null(await BalanceAsync("d-1"));
    }
}

/// <summary><c>credits bulk run --storage</c> takes part in the Functions app's shared Polar request budget.</summary>
public sealed class BulkRunSharedBudgetTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-budget-data-").FullName;
    private readonly string _table = "budget" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        Directory.Delete(_dataDir, recursive: true);
        new Azure.Data.Tables.TableClient(TestStorage.ConnectionString, _table).Delete();
    }

    [Fact]
    public async Task A_bulk_run_with_storage_counts_its_polar_requests_in_the_apps_budget_table()
    {
        var input = Path.Combine(_dataDir, "budget.csv");
        await File.WriteAllTextAsync(input, "external_customer_id,email,units\nb-1,b1@lovelace.dev,5\n");
        var configuration = new Dictionary<string, string?> { ["PolarBudget__Table"] = _table };

        var run = await CliRun.RunAsync(configuration, "bulk", "run", input, "--storage", TestStorage.ConnectionString, "--data-dir", _dataDir);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var rows = new Azure.Data.Tables.TableClient(TestStorage.ConnectionString, _table).Query<Azure.Data.Tables.TableEntity>().ToList();
        Assert.True(Assert.Single(rows).GetInt32("Taken") > 0, "the run took its permits from the app's table");
    }
}
