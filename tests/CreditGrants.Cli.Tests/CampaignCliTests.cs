using System.Text.Json;
using CreditGrants.Cli;

namespace CreditGrants.Cli.Tests;

/// <summary><c>credits campaigns</c> on the samples against the embedded emulator, as a new user would run them.</summary>
public sealed class CampaignCliTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-campaigns-").FullName;
    private static readonly Dictionary<string, string?> NoPolar = [];

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    /// <summary>Runs credits; commands that talk to Polar get this test's data folder (the others take no Polar options).</summary>
    private Task<CliRun> Credits(params string[] args) =>
        CliRun.RunAsync(NoPolar, TakesPolarOptions(args) ? [.. args, "--data-dir", _dataDir] : args);

    internal static bool TakesPolarOptions(string[] args) =>
        args is ["campaigns", "preview" or "run" or "seed-samples", ..] || args is not ["campaigns", ..];

    private static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "campaigns", name + ".json");

    private string Write(string json)
    {
        var path = Path.Combine(_dataDir, "campaign.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task Preview_writes_units_and_grants_with_the_same_thousands_separators()
    {
        var run = await Credits("campaigns", "preview", Sample("monthly-free-plan"));

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Contains("0 of 250,000 units, 0 of 1,000 grants used", run.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("welcome-new-signups")]
    [InlineData("monthly-free-plan")]
    [InlineData("launch-partners")]
    public async Task Sample_is_valid(string sample)
    {
        var run = await Credits("campaigns", "validate", Sample(sample));

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Contains("is valid", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_document_exits_2_with_every_error()
    {
        var path = Write("""{"id":"Bad Id","units":0,"schedule":{"cron":"0 9 * *"},"audience":{"externalIds":["a"]},"grantPolicy":"oncePerCustomer"}""");

        var run = await Credits("campaigns", "validate", path);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("$.id \"Bad Id\"", run.Error, StringComparison.Ordinal);
        Assert.Contains("$.units 0", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("welcome-new-signups", 12)]
    [InlineData("monthly-free-plan", 5)]
    [InlineData("launch-partners", 3)]
    public async Task Sample_runs_on_seeded_customers_and_a_second_run_grants_nothing(string sample, int granted)
    {
        await Credits("campaigns", "seed-samples");

        var first = await Credits("campaigns", "run", Sample(sample), "--json");
        var second = await Credits("campaigns", "run", Sample(sample), "--json", "--at", JsonDocument.Parse(first.Out).RootElement
            .GetProperty("occurrences")[0].GetProperty("occurrence").GetString()!);

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        Assert.Equal(granted, JsonDocument.Parse(first.Out).RootElement.GetProperty("granted").GetInt32());
        Assert.Equal(ExitCodes.Ok, second.ExitCode);
        Assert.Equal(0, JsonDocument.Parse(second.Out).RootElement.GetProperty("granted").GetInt32());
        Assert.Empty(JsonDocument.Parse(second.Out).RootElement.GetProperty("occurrences").EnumerateArray());
    }

    [Fact]
    public async Task Listed_id_without_a_customer_is_reported_waiting()
    {
        await Credits("campaigns", "seed-samples");

        var run = await Credits("campaigns", "run", Sample("launch-partners"), "--json");

        var occurrence = JsonDocument.Parse(run.Out).RootElement.GetProperty("occurrences")[0];
        Assert.Equal(4, occurrence.GetProperty("targets").GetInt32());
        Assert.Equal(1, occurrence.GetProperty("waiting").GetInt32());
    }

    [Fact]
    public async Task Preview_json_has_the_documented_fields_and_grants_nothing()
    {
        await Credits("campaigns", "seed-samples");

        var preview = await Credits("campaigns", "preview", Sample("monthly-free-plan"), "--json", "--count", "2", "--at", "2026-11-03T00:00:00Z");

        Assert.Equal(ExitCodes.Ok, preview.ExitCode);
        var root = JsonDocument.Parse(preview.Out).RootElement;
        Assert.Equal("monthly-free-plan", root.GetProperty("campaign").GetString());
        Assert.Equal("2026-12-07T08:00:00Z", root.GetProperty("nextOccurrences")[0].GetProperty("utc").GetString());
        Assert.Equal("2026-12-07T09:00:00+01:00", root.GetProperty("nextOccurrences")[0].GetProperty("local").GetString());
        Assert.Equal(5, root.GetProperty("audienceSize").GetInt32());
        Assert.Equal(2500m, root.GetProperty("unitsPerOccurrence").GetDecimal());
        Assert.Equal(250000m, root.GetProperty("budget").GetProperty("maxTotalUnits").GetDecimal());
        Assert.False(Directory.Exists(Path.Combine(_dataDir, CreditsCli.CampaignStateFolder)));
    }

    [Fact]
    public async Task At_later_than_now_is_refused()
    {
        var run = await Credits("campaigns", "run", Sample("launch-partners"), "--at", "2999-01-01T00:00:00Z");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("later than now", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_against_a_Polar_server_without_local_state_is_refused_with_a_warning()
    {
        var run = await CliRun.RunAsync(new Dictionary<string, string?> { [PolarConnection.ServerVariable] = "http://127.0.0.1:9", [PolarConnection.TokenVariable] = "polar_oat_x" },
            "campaigns", "run", Sample("launch-partners"), "--data-dir", _dataDir);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("not consulted", run.Error, StringComparison.Ordinal);
        Assert.Contains("--local-state", run.Error, StringComparison.Ordinal);
    }
}

/// <summary><c>credits campaigns upload|list|status</c> and <c>run --storage</c> against Azurite.</summary>
public sealed class CampaignStorageCliTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-campaigns-").FullName;
    private readonly string _id = Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        Directory.Delete(_dataDir, recursive: true);
        var account = CreditGrants.Storage.StorageAccount.FromConnectionString(TestStorage.ConnectionString);
        account.Blobs.GetBlobContainerClient($"campaigns-{_id}").DeleteIfExists();
        account.Tables.DeleteTable($"campaignstate{_id}");
        account.Tables.DeleteTable($"budget{_id}");
    }

    // run --storage counts its Polar requests in the app's budget table: one of this test's own.
    private Dictionary<string, string?> Environment => new()
    {
        ["Campaigns__Container"] = $"campaigns-{_id}",
        ["Campaigns__StateTable"] = $"campaignstate{_id}",
        ["PolarBudget__Table"] = $"budget{_id}",
    };

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(Environment,
        CampaignCliTests.TakesPolarOptions(args) ? [.. args, "--data-dir", _dataDir, "--storage", TestStorage.ConnectionString]
            : [.. args, "--storage", TestStorage.ConnectionString]);

    private static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "campaigns", name + ".json");

    [Fact]
    public async Task Uploaded_campaign_is_listed_and_its_state_shown_after_a_run_on_the_app_table()
    {
        await CliRun.RunAsync(Environment, "campaigns", "seed-samples", "--data-dir", _dataDir);

        var upload = await Credits("campaigns", "upload", Sample("launch-partners"));
        var run = await Credits("campaigns", "run", Sample("launch-partners"), "--json");
        var list = await Credits("campaigns", "list", "--json");
        var status = await Credits("campaigns", "status", "launch-partners", "--json");

        Assert.Equal(ExitCodes.Ok, upload.ExitCode);
        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(3, JsonDocument.Parse(run.Out).RootElement.GetProperty("granted").GetInt32());
        var entry = Assert.Single(JsonDocument.Parse(list.Out).RootElement.GetProperty("campaigns").EnumerateArray());
        Assert.Equal(("launch-partners", 3), (entry.GetProperty("campaign").GetString(), entry.GetProperty("grants").GetInt32()));
        Assert.Equal(ExitCodes.Ok, status.ExitCode);
        Assert.Equal(3000m, JsonDocument.Parse(status.Out).RootElement.GetProperty("unitsGranted").GetDecimal());
    }

    [Fact]
    public async Task Invalid_document_is_not_uploaded()
    {
        var path = Path.Combine(_dataDir, "bad.json");
        await File.WriteAllTextAsync(path, """{"id":"bad","units":1}""");

        var upload = await Credits("campaigns", "upload", path);
        var list = await Credits("campaigns", "list", "--json");

        Assert.Equal(ExitCodes.InvalidInput, upload.ExitCode);
        Assert.Empty(JsonDocument.Parse(list.Out).RootElement.GetProperty("campaigns").EnumerateArray());
    }

    [Fact]
    public async Task Status_right_after_upload_is_the_step_upload_names_and_says_it_has_not_run_yet()
    {
        var upload = await Credits("campaigns", "upload", Sample("monthly-free-plan"));
        var status = await Credits("campaigns", "status", "monthly-free-plan");

        Assert.Equal(ExitCodes.Ok, upload.ExitCode);
        Assert.Contains("credits campaigns status monthly-free-plan", upload.Out, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, status.ExitCode);
        Assert.Contains("never (the app runs it at its next timer tick)", status.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_of_a_campaign_neither_uploaded_nor_run_is_invalid_input()
    {
        var status = await Credits("campaigns", "status", "no-such-campaign");

        Assert.Equal(ExitCodes.InvalidInput, status.ExitCode);
        Assert.Contains("neither uploaded nor has it run", status.Error, StringComparison.Ordinal);
    }
}

/// <summary>
/// Every malformed campaign document of the corpus (tests/Corpus/campaigns, with the JSON path each must be refused at)
/// through <c>credits campaigns validate</c>: exit 2, and the error names that path.
/// </summary>
public sealed class CampaignCorpusTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Corpus", "campaigns");

    public static TheoryData<string, string> Cases()
    {
        var cases = new TheoryData<string, string>();
        foreach (var item in System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "cases.json"))).RootElement.EnumerateArray())
        {
            cases.Add(item.GetProperty("file").GetString()!, item.GetProperty("path").GetString()!);
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_malformed_document_is_refused_naming_its_json_path(string file, string path)
    {
        var run = await CliRun.RunAsync(new Dictionary<string, string?>(), "campaigns", "validate", Path.Combine(Folder, file));

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains(path, run.Error, StringComparison.Ordinal);
    }
}
