using System.Text.Json;
using System.Text.Json.Nodes;
using CreditGrants.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static CreditGrants.Tests.Campaigns.CampaignJson;

namespace CreditGrants.Tests.Campaigns;

public sealed class CampaignRunnerTests : IDisposable
{
    private static readonly DateTimeOffset Monday = new(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Monday.AddMinutes(3));
    private readonly FakePolarGateway _polar = new();
    private readonly Customers.InMemoryCustomerDirectoryStore _directoryStore = new();

    private Customers.CustomerDirectory _directory => TestDirectory.Create(_polar, _time, _directoryStore);
    private readonly string _stateDirectory = Path.Combine(Path.GetTempPath(), "campaign-state-" + Guid.NewGuid().ToString("N"));
    private readonly FileCampaignStateStore _store;

    public CampaignRunnerTests() => _store = new FileCampaignStateStore(_stateDirectory);

    public void Dispose()
    {
        if (Directory.Exists(_stateDirectory))
        {
            Directory.Delete(_stateDirectory, recursive: true);
        }
    }

    private CampaignRunner Runner() => new(new BulkChunkProcessor(_polar, _directory, _time, NullLogger<BulkChunkProcessor>.Instance), _polar,
        new CampaignAudienceReader(_polar, _directory), _time, NullLogger<CampaignRunner>.Instance);

    private Customer AddCustomer(string? externalId, string plan = "free", DateTimeOffset? createdAt = null)
    {
        var customer = new Customer(Guid.NewGuid(), $"{externalId ?? Guid.NewGuid().ToString("N")}@lovelace.dev", null, externalId, "individual",
            createdAt ?? Monday.AddDays(-30), null, new Dictionary<string, JsonElement> { ["plan"] = JsonSerializer.SerializeToElement(plan) });
        _polar.Customers.Add(customer);
        return customer;
    }

    private static Campaign Weekly(string policy = "everyOccurrence", Action<JsonObject>? change = null)
    {
        var document = CampaignJson.Weekly();
        document["grantPolicy"] = policy;
        document["startsAt"] = "2026-11-01T00:00:00Z";
        change?.Invoke(document);
        return Valid(document);
    }

    private IEnumerable<string> GrantIds() => _polar.Ingested.Select(e => e.Metadata!["grant_id"].GetString()!);

    [Fact]
    public void Once_per_customer_grant_id_names_campaign_and_customer()
    {
        var target = new CampaignTarget("user-1", Guid.NewGuid(), null);

        Assert.Equal("campaign:weekly-free:user-1", CampaignRunner.GrantIdFor(Weekly("oncePerCustomer"), Monday, target).Value);
    }

    [Fact]
    public void Every_occurrence_grant_id_names_the_occurrence_in_UTC()
    {
        var target = new CampaignTarget("user-1", Guid.NewGuid(), null);

        Assert.Equal("campaign:weekly-free:2026-12-07T08:00:00Z:user-1", CampaignRunner.GrantIdFor(Weekly(), Monday, target).Value);
    }

    [Fact]
    public void Customer_without_external_id_is_named_by_Polar_id()
    {
        var id = Guid.NewGuid();

        Assert.Equal($"campaign:weekly-free:{id:D}", CampaignRunner.GrantIdFor(Weekly("oncePerCustomer"), Monday, new CampaignTarget(null, id, null)).Value);
    }

    [Fact]
    public async Task Due_occurrence_grants_the_matching_customers_once_each()
    {
        AddCustomer("user-1");
        AddCustomer("user-2");
        AddCustomer("user-3", plan: "pro");

        var result = await Runner().RunAsync(Weekly(), _store, _time.GetUtcNow());

        var occurrence = Assert.Single(result.Occurrences);
        Assert.Equal("2026-12-07T08:00:00Z", occurrence.Occurrence);
        Assert.Equal(2, occurrence.Granted);
        Assert.Equal(200m, occurrence.UnitsGranted);
        Assert.Equal(["campaign:weekly-free:2026-12-07T08:00:00Z:user-1", "campaign:weekly-free:2026-12-07T08:00:00Z:user-2"], GrantIds().Order());
    }

    [Fact]
    public async Task Second_run_at_the_same_instant_grants_nothing()
    {
        AddCustomer("user-1");
        await Runner().RunAsync(Weekly(), _store, _time.GetUtcNow());

        var again = await Runner().RunAsync(Weekly(), _store, _time.GetUtcNow());

        Assert.Empty(again.Occurrences);
        Assert.Single(_polar.Ingested);
    }

    [Fact]
    public async Task Run_that_lost_its_state_grants_nothing_twice()
    {
        AddCustomer("user-1");
        await Runner().RunAsync(Weekly(), _store, _time.GetUtcNow());
        Directory.Delete(_stateDirectory, recursive: true);

        var again = await Runner().RunAsync(Weekly(), _store, _time.GetUtcNow());

        Assert.Equal(1, Assert.Single(again.Occurrences).Duplicates);
        Assert.Single(_polar.Ingested);
    }

    [Fact]
    public async Task Every_occurrence_grants_again_at_the_next_occurrence()
    {
        AddCustomer("user-1");
        await Runner().RunAsync(Weekly(), _store, _time.GetUtcNow());
        _time.Advance(TimeSpan.FromDays(7));

        var next = await Runner().RunAsync(Weekly(), _store, _time.GetUtcNow());

        Assert.Equal(1, Assert.Single(next.Occurrences).Granted);
        Assert.Equal(2, _polar.Ingested.Count);
    }

    [Fact]
    public async Task Once_per_customer_grants_nothing_at_the_next_occurrence()
    {
        AddCustomer("user-1");
        await Runner().RunAsync(Weekly("oncePerCustomer"), _store, _time.GetUtcNow());
        _time.Advance(TimeSpan.FromDays(7));

        var next = await Runner().RunAsync(Weekly("oncePerCustomer"), _store, _time.GetUtcNow());

        Assert.Equal(1, Assert.Single(next.Occurrences).Duplicates);
        Assert.Single(_polar.Ingested);
    }

    [Fact]
    public async Task Missed_occurrences_beyond_catch_up_are_skipped_and_counted()
    {
        AddCustomer("user-1");
        var campaign = Weekly(change: d => d["startsAt"] = "2026-12-07T00:00:00Z");
        var first = await Runner().RunAsync(campaign, _store, _time.GetUtcNow());
        _time.Advance(TimeSpan.FromDays(21));

        var late = await Runner().RunAsync(campaign, _store, _time.GetUtcNow());

        Assert.Equal(0, first.SkippedOccurrences);

        Assert.Equal("2026-12-28T08:00:00Z", Assert.Single(late.Occurrences).Occurrence);
        Assert.Equal(2, late.SkippedOccurrences);
        Assert.Equal(2, (await _store.ReadAsync("weekly-free")).State.SkippedOccurrences);
    }

    [Fact]
    public async Task Audience_over_several_pages_is_granted_whole()
    {
        for (var i = 0; i < 250; i++)
        {
            AddCustomer($"user-{i}");
        }

        var result = await Runner().RunAsync(Weekly(), _store, _time.GetUtcNow());

        Assert.Equal(250, Assert.Single(result.Occurrences).Granted);
        Assert.Equal(3, _polar.ListCalls);
        Assert.Equal(250, GrantIds().Distinct().Count());
    }

    [Fact]
    public async Task Grant_that_would_cross_max_grants_is_not_made_and_the_campaign_is_exhausted()
    {
        for (var i = 0; i < 5; i++)
        {
            AddCustomer($"user-{i}");
        }

        var result = await Runner().RunAsync(Weekly(change: d => d["budget"] = new JsonObject { ["maxGrants"] = 3 }), _store, _time.GetUtcNow());

        var occurrence = Assert.Single(result.Occurrences);
        Assert.Equal(3, occurrence.Granted);
        Assert.Equal(2, occurrence.OverBudget);
        Assert.True(result.Budget.Exhausted);
        Assert.Equal(3, _polar.Ingested.Count);
    }

    [Fact]
    public async Task Max_total_units_is_never_crossed()
    {
        for (var i = 0; i < 5; i++)
        {
            AddCustomer($"user-{i}");
        }

        var result = await Runner().RunAsync(Weekly(change: d => d["budget"] = new JsonObject { ["maxTotalUnits"] = 250 }), _store, _time.GetUtcNow());

        Assert.Equal(200m, result.UnitsGranted);
        Assert.Equal(200m, result.Budget.UnitsGranted);
        Assert.True(result.Budget.Exhausted);
    }

    [Fact]
    public async Task Duplicates_release_their_reservation_so_new_customers_still_fit()
    {
        AddCustomer("user-1");
        AddCustomer("user-2");
        var campaign = Weekly("oncePerCustomer", d => d["budget"] = new JsonObject { ["maxGrants"] = 3 });
        await Runner().RunAsync(campaign, _store, _time.GetUtcNow());
        AddCustomer("user-3");
        _time.Advance(TimeSpan.FromDays(7));

        var next = await Runner().RunAsync(campaign, _store, _time.GetUtcNow());

        var occurrence = Assert.Single(next.Occurrences);
        Assert.Equal(2, occurrence.Duplicates);
        Assert.Equal(1, occurrence.Granted);
        var state = (await _store.ReadAsync(campaign.Id)).State;
        Assert.Equal(3, state.Grants);
        Assert.Equal(0, state.GrantsReserved);
        Assert.Equal(0m, state.UnitsReserved);
    }

    [Fact]
    public async Task Overlapping_runs_on_one_state_never_exceed_the_budget_nor_grant_twice()
    {
        for (var i = 0; i < 40; i++)
        {
            AddCustomer($"user-{i}");
        }

        var campaign = Weekly(change: d => d["budget"] = new JsonObject { ["maxTotalUnits"] = 2_500 });

        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Runner().RunAsync(campaign, _store, _time.GetUtcNow()))));

        var balance = 0m;
        foreach (var customer in _polar.Customers)
        {
            balance += (await _polar.GetCustomerMeterAsync(customer.Id, Guid.Empty))!.Balance;
        }

        Assert.Equal(2_500m, balance);
        Assert.Equal(25, GrantIds().Distinct().Count());
        Assert.Equal(25, _polar.Ingested.Count);
        var state = (await _store.ReadAsync(campaign.Id)).State;
        Assert.Equal(2_500m, state.UnitsGranted);
        Assert.Equal(0m, state.UnitsReserved);
        Assert.Equal(25, runs.Sum(r => r.Granted));
    }

    [Fact]
    public async Task Listed_id_without_a_customer_waits_and_is_granted_once_it_exists()
    {
        AddCustomer("user-1");
        var campaign = Weekly("oncePerCustomer", d => d["audience"] = new JsonObject { ["externalIds"] = new JsonArray("user-1", "user-9") });

        var first = await Runner().RunAsync(campaign, _store, _time.GetUtcNow());
        AddCustomer("user-9");
        _time.Advance(TimeSpan.FromDays(7));
        var second = await Runner().RunAsync(campaign, _store, _time.GetUtcNow());

        Assert.Equal((1L, 1L), (Assert.Single(first.Occurrences).Granted, first.Occurrences[0].Waiting));
        Assert.Equal((1L, 0L), (Assert.Single(second.Occurrences).Granted, second.Occurrences[0].Waiting));
        Assert.Equal(["campaign:weekly-free:user-1", "campaign:weekly-free:user-9"], GrantIds().Order());
    }

    [Fact]
    public async Task New_customers_are_those_created_at_or_after_startsAt()
    {
        var startsAt = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        AddCustomer("before", createdAt: startsAt.AddTicks(-1));
        AddCustomer("at-start", createdAt: startsAt);
        AddCustomer("after", createdAt: startsAt.AddDays(3));
        var campaign = Weekly("oncePerCustomer", d => d["audience"] = new JsonObject { ["newCustomers"] = new JsonObject() });

        await Runner().RunAsync(campaign, _store, _time.GetUtcNow());

        Assert.Equal(["campaign:weekly-free:after", "campaign:weekly-free:at-start"], GrantIds().Order());
        Assert.Equal(startsAt.AddDays(3), (await _store.ReadAsync(campaign.Id)).State.HighWaterMark);
    }

    [Fact]
    public async Task New_customers_run_lists_only_back_to_the_high_water_mark()
    {
        for (var i = 0; i < 300; i++)
        {
            AddCustomer($"old-{i}", createdAt: Monday.AddDays(-20).AddMinutes(i));
        }

        var campaign = Weekly("oncePerCustomer", d => d["audience"] = new JsonObject { ["newCustomers"] = new JsonObject() });
        await Runner().RunAsync(campaign, _store, _time.GetUtcNow());
        var listedFirst = _polar.ListCalls;
        AddCustomer("fresh", createdAt: Monday.AddDays(2));
        _time.Advance(TimeSpan.FromDays(7));

        var second = await Runner().RunAsync(campaign, _store, _time.GetUtcNow());

        Assert.Equal(3, listedFirst);
        Assert.Equal(4, _polar.ListCalls);
        Assert.Equal(1, Assert.Single(second.Occurrences).Granted);
        Assert.Equal(301, _polar.Ingested.Count);
    }

    [Fact]
    public async Task Run_at_a_future_instant_is_refused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Runner().RunAsync(Weekly(), _store, _time.GetUtcNow().AddSeconds(1)));
    }
}

public sealed class CampaignOutageTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 8, 3, 0, TimeSpan.Zero));
    private readonly FakePolarGateway _polar = new() { IngestCallsBeforeOutage = 0 };
    private readonly Customers.InMemoryCustomerDirectoryStore _directoryStore = new();

    private Customers.CustomerDirectory _directory => TestDirectory.Create(_polar, _time, _directoryStore);
    private readonly string _stateDirectory = Path.Combine(Path.GetTempPath(), "campaign-state-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_stateDirectory))
        {
            Directory.Delete(_stateDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Polar_outage_leaves_the_occurrence_due_and_the_reservation_held()
    {
        _polar.AddCustomer("ada@lovelace.dev", "user-1");
        var document = Weekly();
        document["audience"] = new JsonObject { ["allCustomers"] = new JsonObject() };
        document["startsAt"] = "2026-12-01T00:00:00Z";
        document["budget"] = new JsonObject { ["maxGrants"] = 10 };
        var campaign = Valid(document);
        var store = new FileCampaignStateStore(_stateDirectory);
        var runner = new CampaignRunner(new BulkChunkProcessor(_polar, _directory, _time, NullLogger<BulkChunkProcessor>.Instance), _polar,
            new CampaignAudienceReader(_polar, _directory), _time, NullLogger<CampaignRunner>.Instance);

        var result = await runner.RunAsync(campaign, store, _time.GetUtcNow());

        Assert.NotNull(result.Error);
        Assert.Equal((1L, 1L), (Assert.Single(result.Occurrences).Targets, result.Occurrences[0].Failed));
        var state = (await store.ReadAsync(campaign.Id)).State;
        Assert.Null(state.LastOccurrence);
        Assert.Equal((1L, 0L), (state.GrantsReserved, state.Grants));
        Assert.NotNull(state.LastError);
    }
}
