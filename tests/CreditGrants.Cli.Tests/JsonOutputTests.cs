using System.Text.Json;
using CreditGrants.Storage;

namespace CreditGrants.Cli.Tests;

/// <summary>
/// <c>--json</c> is for scripts: every command, given it, prints exactly one JSON object on stdout and nothing else
/// (notes and progress go to stderr). The walk covers every command the CLI has, so a new one cannot skip it.
/// </summary>
public sealed class JsonOutputTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-json-").FullName;
    private readonly string _id = Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        Directory.Delete(_dataDir, recursive: true);
        var account = StorageAccount.FromConnectionString(TestStorage.ConnectionString);
        foreach (var container in new[] { $"campaigns-{_id}", $"uploads-{_id}", $"results-{_id}", $"rules-{_id}" })
        {
            account.Blobs.GetBlobContainerClient(container).DeleteIfExists();
        }

        account.Queues.GetQueueClient($"work-{_id}").DeleteIfExists();
        account.Queues.GetQueueClient($"work-{_id}-poison").DeleteIfExists();
        foreach (var table in new[] { $"campaignstate{_id}", $"jobs{_id}", $"budget{_id}" })
        {
            account.Tables.DeleteTable(table);
        }
    }

    private Dictionary<string, string?> Environment => new()
    {
        ["Campaigns__Container"] = $"campaigns-{_id}",
        ["Campaigns__StateTable"] = $"campaignstate{_id}",
        ["Rules__Container"] = $"rules-{_id}",
        ["Bulk__QueueName"] = $"work-{_id}",
        ["Bulk__UploadsContainer"] = $"uploads-{_id}",
        ["Bulk__ResultsContainer"] = $"results-{_id}",
        ["Bulk__JobsTable"] = $"jobs{_id}",
        ["PolarBudget__Table"] = $"budget{_id}",
    };

    private static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "campaigns", name + ".json");

    private async Task<CliRun> Credits(params string[] args) => await CliRun.RunAsync(Environment, [.. args, "--json"]);

    private string Polar => "--data-dir=" + _dataDir;

    private static string Storage => "--storage=" + TestStorage.ConnectionString;

    private static JsonElement OneObject(string command, CliRun run)
    {
        // JsonDocument.Parse refuses anything after the first value, so this is "exactly one", not "starts with one".
        using var document = JsonDocument.Parse(run.Out);
        Assert.True(document.RootElement.ValueKind == JsonValueKind.Object, $"'{command} --json' printed a {document.RootElement.ValueKind}: {run.Out}");
        return document.RootElement.Clone();
    }

    [Fact]
    public async Task Every_command_with_json_prints_exactly_one_json_object_on_stdout()
    {
        await TestStorage.EnsureRunningAsync();
        var csv = Path.Combine(_dataDir, "two.csv");
        await File.WriteAllTextAsync(csv, "external_customer_id,units\njson-1,5\njson-2,7\n");
        var walked = new List<string>();
        async Task<JsonElement> Walk(string command, params string[] args)
        {
            var run = await Credits([.. command.Split(' '), .. args]);
            Assert.True(run.ExitCode == ExitCodes.Ok, $"'{command} --json' exited {run.ExitCode}: {run.Error}");
            walked.Add(command);
            return OneObject(command, run);
        }

        await Walk("campaigns seed-samples", Polar);
        await Walk("grant", "--customer", "sample-1", "--units", "5", "--grant-id", "json-g1", Polar);
        await Walk("balance", "--customer", "sample-1", Polar);
        await Walk("usage", "--customer", "sample-1", "--units", "1", Polar);
        await Walk("grants list", "--customer", "sample-1", Polar);
        await Walk("grants revoke", "json-g1", "--reason", "test", Polar);
        await Walk("grants expire", "--due", Polar);
        await Walk("meters ensure", Polar);
        await Walk("customers sync", Polar);
        await Walk("bulk run", csv, Polar);
        await Walk("bulk revoke", "--results", Path.Combine(_dataDir, "two.results.csv"), "--reason", "test", Polar);
        var job = (await Walk("bulk submit", csv, Storage)).GetProperty("jobId").GetString()!;
        await Walk("bulk status", job, Storage);
        await Walk("bulk retry", job, Storage);
        await Walk("campaigns validate", Sample("launch-partners"));
        await Walk("campaigns preview", Sample("launch-partners"), Polar);
        await Walk("campaigns run", Sample("launch-partners"), Polar);
        await Walk("campaigns revoke", Sample("launch-partners"), "--reason", "test", "--out", Path.Combine(_dataDir, "undo.csv"), Polar);
        await Walk("campaigns upload", Sample("launch-partners"), Storage);
        await Walk("campaigns list", Storage);
        await Walk("campaigns status", "launch-partners", Storage);
        var rule = Path.Combine(AppContext.BaseDirectory, "rules", "signup-credits.json");
        await Walk("rules validate", rule);
        var preview = await Walk("rules preview", rule, "--event", Path.Combine(Repository.Root, "samples", "rules", "events", "customer.created.json"), Storage);
        Assert.Equal(("within the cap and budget", 100m), (preview.GetProperty("decision").GetString(), preview.GetProperty("units").GetDecimal()));
        await Walk("rules upload", rule, Storage);
        Assert.Equal("signup-credits", (await Walk("rules list", Storage)).GetProperty("rules")[0].GetProperty("rule").GetString());
        await using (var endpoint = new FakeWebhookEndpoint())
        {
            var delivery = Path.Combine(_dataDir, "delivery.json");
            await File.WriteAllTextAsync(delivery, "{}");
            var secret = Path.Combine(_dataDir, "webhook-secret");
            await File.WriteAllTextAsync(secret, WebhookReplayCliTests.Secret);
            await Walk("webhooks replay", delivery, "--url", endpoint.App.AbsoluteUri, "--secret-file", secret);
        }

        using var output = new StringWriter();
        Assert.Equal(new CreditsCli(output, output, _ => null).CommandPaths().Order(), walked.Order());
    }

    [Fact]
    public async Task An_invalid_campaign_with_json_is_one_object_listing_its_errors_with_exit_2()
    {
        var path = Path.Combine(_dataDir, "bad.json");
        await File.WriteAllTextAsync(path, """{"id":"bad","units":1}""");

        var run = await Credits("campaigns", "validate", path);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        var json = OneObject("campaigns validate", run);
        Assert.False(json.GetProperty("valid").GetBoolean());
        Assert.NotEmpty(json.GetProperty("errors").EnumerateArray());
    }

    [Fact]
    public async Task An_invalid_campaign_without_json_prints_nothing_on_stdout()
    {
        var path = Path.Combine(_dataDir, "bad.json");
        await File.WriteAllTextAsync(path, """{"id":"bad","units":1}""");

        var run = await CliRun.RunAsync(Environment, "campaigns", "validate", path);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Equal("", run.Out);
        Assert.NotEqual("", run.Error);
    }

    [Fact]
    public async Task An_invalid_rule_names_the_field_and_value_on_stderr_exits_2_and_uploads_nothing()
    {
        var path = Path.Combine(_dataDir, "bad-rule.json");
        await File.WriteAllTextAsync(path, """{"id":"bad","trigger":{"event":"customer.updated"},"units":1}""");

        var run = await CliRun.RunAsync(Environment, "rules", "upload", path, Storage);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Equal("", run.Out);
        Assert.Contains("$.trigger.event \"customer.updated\"", run.Error, StringComparison.Ordinal);
        Assert.Contains("accepted: customer.created, order.paid, subscription.active or subscription.cycled", run.Error, StringComparison.Ordinal);
    }
}
