using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Rules;
using CreditGrants.Storage;
using CreditGrants.Storage.Rules;
using Microsoft.Extensions.Options;

namespace CreditGrants.Cli.Tests;

/// <summary><c>credits rules preview</c> and <c>rules list --customer</c>, as a user runs them on the samples.</summary>
public sealed class RuleCliTests : IAsyncLifetime
{
    private readonly string _id = Guid.NewGuid().ToString("N")[..12];
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "credits-rules-" + Guid.NewGuid().ToString("N"));
    private static readonly string Event = Path.Combine(Repository.Root, "samples", "rules", "events", "customer.created.json");
    private const string Customer = "8d3c7c1e-5b7a-4f0e-9a43-2f1d6c0b9e11";

    private static string Sample(string name) => Path.Combine(Repository.Root, "samples", "rules", name + ".json");

    private Dictionary<string, string?> Environment => new()
    {
        ["CREDITS_DATA_DIR"] = _dataDir,
        ["Rules__Table"] = $"rules{_id}",
    };

    private static string Storage => "--storage=" + TestStorage.ConnectionString;

    private TableRuleGrantLedger Ledger => new(() => StorageAccount.FromConnectionString(TestStorage.ConnectionString),
        Options.Create(new RuleOptions { Table = $"rules{_id}" }), TimeProvider.System);

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_dataDir);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await Ledger.Table.DeleteAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    private static JsonElement Json(CliRun run)
    {
        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error);
        using var document = JsonDocument.Parse(run.Out);
        return document.RootElement.Clone();
    }

    [Fact]
    public async Task Preview_shows_units_meter_derived_grant_id_and_cap_not_checked_without_storage()
    {
        var run = await CliRun.RunAsync(Environment, "rules", "preview", Sample("signup-credits"), "--event", Event);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var grantId = DerivedGrantId.Of(GrantIdDomain.RuleGrant, "signup-credits", Customer).Value;
        Assert.Contains("Grants      100 units on meter 'API Calls'", run.Out, StringComparison.Ordinal);
        Assert.Contains($"Grant id    {grantId}", run.Out, StringComparison.Ordinal);
        Assert.Contains("Cap/budget  not checked", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preview_of_an_event_the_rule_does_not_act_on_says_why()
    {
        var json = Json(await CliRun.RunAsync(Environment, "rules", "preview", Sample("monthly-credits"), "--event", Event, "--json"));

        Assert.False(json.GetProperty("grants").GetBoolean());
        Assert.Contains("not customer.created", json.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preview_with_storage_reads_the_recorded_grant_and_grants_nothing()
    {
        await TestStorage.EnsureRunningAsync();
        var rule = new RuleValidator(new GrantOptions()).Validate(await File.ReadAllTextAsync(Sample("signup-credits"))).Rule!;
        var grantId = DerivedGrantId.Of(GrantIdDomain.RuleGrant, rule.Id, Customer).Value;
        await Ledger.RecordAsync(rule, grantId, Customer, 100m, "test", CancellationToken.None);

        var json = Json(await CliRun.RunAsync(Environment, "rules", "preview", Sample("signup-credits"), "--event", Event, Storage, "--json"));
        var list = Json(await CliRun.RunAsync(Environment, "rules", "list", "--customer", Customer, Storage, "--json"));

        Assert.Equal((false, "already recorded as Reserved: a delivery of this event grants nothing again"),
            (json.GetProperty("grants").GetBoolean(), json.GetProperty("decision").GetString()));
        var grant = Assert.Single(list.GetProperty("grants").EnumerateArray());
        Assert.Equal(("signup-credits", grantId, "Reserved"), (grant.GetProperty("rule").GetString(), grant.GetProperty("grantId").GetString(), grant.GetProperty("outcome").GetString()));
    }
}
