using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests.Lifecycle;

/// <summary>
/// The ledger and revocation (issue #20) against the emulator: block statuses from what Polar holds, revocation of unused,
/// partly used and used grants, repeats, races, a balance that lags, and the ledger's Polar request count.
/// </summary>
public sealed class LedgerTests : IAsyncLifetime
{
    private const string Meter = "API Calls";
    private App _app = null!;

    public async Task InitializeAsync() => _app = await App.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private IPolarGateway Polar => _app.Services.GetRequiredService<IPolarGateway>();

    private LedgerReader Ledgers => _app.Services.GetRequiredService<LedgerReader>();

    private GrantRevocation Revocation => _app.Services.GetRequiredService<GrantRevocation>();

    private static DateTimeOffset Hour(int hoursAgo)
    {
        var now = DateTimeOffset.UtcNow;
        return new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(-hoursAgo);
    }

    private Task<GrantOutcome> GrantAsync(string customer, string grantId, decimal units) =>
        _app.Services.GetRequiredService<GrantService>().GrantAsync(
            new CreditGrant(new GrantId(grantId), CustomerRef.External(customer, $"{customer}@credits.dev"), units, Meter, null, "test"));

    /// <summary>A grant event as GrantService builds it, at a time in the past.</summary>
    private async Task GrantAtAsync(string customer, string grantId, decimal units, DateTimeOffset at)
    {
        var target = await Polar.GetGrantTargetAsync(Meter);
        var grant = new CreditGrant(new GrantId(grantId), CustomerRef.External(customer), units, Meter, "backdated", "test");
        var report = await Polar.IngestAsync([GrantService.BuildEvent(grant, target, null) with { Timestamp = at }]);
        Assert.Equal(CreditGrants.Polar.Events.IngestStatus.Inserted, report.Outcomes[0].Status);
    }

    private async Task UseAsync(string customer, decimal units, DateTimeOffset? at = null, int events = 1)
    {
        var list = Enumerable.Range(0, events).Select(_ => new PolarEvent("api_usage", null, customer, null, at,
            new Dictionary<string, System.Text.Json.JsonElement> { ["units"] = PolarMetadata.Number(units / events) })).ToList();
        var report = await Polar.IngestAsync(list);
        Assert.Equal(0, report.Rejected);
    }

    private async Task<decimal> BalanceAsync(string customer) =>
        (await _app.Services.GetRequiredService<BalanceService>().GetBalanceAsync(customer, Meter)).Balance;

    [Fact]
    public async Task The_ledger_spends_the_oldest_grant_first_and_shows_each_grants_status()
    {
        await Polar.CreateCustomerAsync(new CustomerCreate("l1@credits.dev", null, "l1"));
        await GrantAtAsync("l1", "l1-a", 20, Hour(5).AddMinutes(10));
        await GrantAtAsync("l1", "l1-b", 50, Hour(4).AddMinutes(10));
        await GrantAtAsync("l1", "l1-c", 30, Hour(3).AddMinutes(10));
        await UseAsync("l1", 35, Hour(2).AddMinutes(5));

        var ledger = await Ledgers.ReadAsync("l1", Meter);

        Assert.Equal(["l1-a", "l1-b", "l1-c"], ledger.Grants.Select(g => g.GrantId));
        Assert.Equal([LedgerStatus.Used, LedgerStatus.PartlyUsed, LedgerStatus.Active], ledger.Grants.Select(g => g.Status));
        Assert.Equal([0m, 35m, 30m], ledger.Grants.Select(g => g.Remaining));
        Assert.Equal("backdated", ledger.Grants[0].Reason);
        Assert.Equal("test", ledger.Grants[0].Source);
        Assert.Equal(65m, ledger.Read.Balance);
        Assert.False(ledger.Read.BalanceLags);
        Assert.Equal(35m, ledger.Read.Usage);
    }

    [Fact]
    public async Task Revoking_an_unused_grant_takes_back_all_of_it_and_the_ledger_shows_it_revoked()
    {
        await GrantAsync("r1", "r1-welcome", 100);

        var outcome = await Revocation.RevokeAsync(new RevokeRequest("r1-welcome", "wrong customer"));

        Assert.Equal(RevokeStatus.Revoked, outcome.Status);
        Assert.Equal(100m, outcome.TakenBack);
        Assert.Equal(100m, outcome.Unspent);
        Assert.False(outcome.BalanceGoesNegative);
        Assert.Equal(100m, outcome.Read.Balance);
        Assert.Equal(0m, await BalanceAsync("r1"));
        var grant = Assert.Single((await Ledgers.ReadAsync("r1", Meter)).Grants);
        Assert.Equal(LedgerStatus.Revoked, grant.Status);
        Assert.Equal(100m, grant.TakenBack);
        Assert.Equal(0m, grant.Spent);
        Assert.Equal(outcome.RevocationGrantId, grant.CompensationGrantId);
    }

    [Fact]
    public async Task Revoking_a_partly_used_grant_takes_back_only_what_is_unspent()
    {
        await GrantAsync("r2", "r2-welcome", 100);
        await UseAsync("r2", 30);

        var outcome = await Revocation.RevokeAsync(new RevokeRequest("r2-welcome", "promo ended"));

        Assert.Equal(70m, outcome.TakenBack);
        Assert.Equal(0m, await BalanceAsync("r2"));
        var grant = Assert.Single((await Ledgers.ReadAsync("r2", Meter)).Grants);
        Assert.Equal((LedgerStatus.Revoked, 30m, 70m), (grant.Status, grant.Spent, grant.TakenBack));
    }

    [Fact]
    public async Task Revoking_at_most_some_units_takes_back_what_is_unspent_of_them_and_asking_again_is_the_same_revocation()
    {
        await GrantAsync("r5", "r5-welcome", 100);
        await UseAsync("r5", 80);

        var first = await Revocation.RevokeAsync(new RevokeRequest("r5-welcome", "refund", Units: 25, AtMostUnspent: true));
        var again = await Revocation.RevokeAsync(new RevokeRequest("r5-welcome", "refund", Units: 25, AtMostUnspent: true));

        Assert.Equal((RevokeStatus.Revoked, 20m, 20m), (first.Status, first.Unspent, first.TakenBack));
        Assert.Equal((RevokeStatus.AlreadyRevoked, 20m), (again.Status, again.TakenBack));
        Assert.Equal(0m, await BalanceAsync("r5"));
    }

    [Fact]
    public async Task Revoking_a_used_grant_takes_back_nothing_and_leaves_the_balance_as_it_was()
    {
        await GrantAsync("r3", "r3-welcome", 50);
        await UseAsync("r3", 60);

        var outcome = await Revocation.RevokeAsync(new RevokeRequest("r3-welcome", null));

        Assert.Equal((RevokeStatus.Revoked, 0m, 0m), (outcome.Status, outcome.Unspent, outcome.TakenBack));
        Assert.Equal(-10m, await BalanceAsync("r3"));
    }

    [Fact]
    public async Task Revoking_twice_is_one_revocation_and_a_revocation_of_other_units_is_a_conflict()
    {
        await GrantAsync("r4", "r4-welcome", 100);
        await UseAsync("r4", 10);
        var first = await Revocation.RevokeAsync(new RevokeRequest("r4-welcome", "twice"));
        await UseAsync("r4", 5);

        var again = await Revocation.RevokeAsync(new RevokeRequest("r4-welcome", "twice"));
        var sameUnits = await Revocation.RevokeAsync(new RevokeRequest("r4-welcome", "twice", Units: 90));
        var other = await Assert.ThrowsAsync<RevokeException>(() => Revocation.RevokeAsync(new RevokeRequest("r4-welcome", "other", Units: 40)));

        Assert.Equal(RevokeStatus.AlreadyRevoked, again.Status);
        Assert.Equal(RevokeStatus.AlreadyRevoked, sameUnits.Status);
        Assert.Equal(90m, again.TakenBack);
        Assert.Equal(first.RevocationGrantId, again.RevocationGrantId);
        Assert.Equal(RevokeErrorKind.Conflict, other.Kind);
        Assert.Contains("taking back 90 units", other.Message, StringComparison.Ordinal);
        Assert.Equal(-5m, await BalanceAsync("r4"));
    }

    [Fact]
    public async Task Concurrent_revocations_of_one_grant_make_one_compensation()
    {
        await GrantAsync("r5", "r5-welcome", 100);
        await UseAsync("r5", 25);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Revocation.RevokeAsync(new RevokeRequest("r5-welcome", "race"))));

        Assert.Single(outcomes, o => o.Status == RevokeStatus.Revoked);
        Assert.All(outcomes, o => Assert.Equal(75m, o.TakenBack));
        Assert.Equal(0m, await BalanceAsync("r5"));
        Assert.Single((await Ledgers.ReadAsync("r5", Meter)).Compensations);
    }

    [Fact]
    public async Task Taking_back_more_than_is_unspent_needs_an_explicit_flag_and_then_says_the_balance_goes_negative()
    {
        await GrantAsync("r6", "r6-welcome", 100);
        await UseAsync("r6", 80);

        var refused = await Assert.ThrowsAsync<RevokeException>(() => Revocation.RevokeAsync(new RevokeRequest("r6-welcome", "fraud", Units: 100)));
        var outcome = await Revocation.RevokeAsync(new RevokeRequest("r6-welcome", "fraud", Units: 100, AllowNegativeBalance: true));

        Assert.Equal(RevokeErrorKind.ExceedsUnspent, refused.Kind);
        Assert.Contains("20 of 100 units unspent", refused.Message, StringComparison.Ordinal);
        Assert.True(outcome.BalanceGoesNegative);
        Assert.Equal((20m, 100m), (outcome.Unspent, outcome.TakenBack));
        Assert.Equal(-80m, await BalanceAsync("r6"));
    }

    [Fact]
    public async Task An_unknown_grant_id_is_not_found()
    {
        var error = await Assert.ThrowsAsync<RevokeException>(() => Revocation.RevokeAsync(new RevokeRequest("nobody-s-grant", null)));

        Assert.Equal(RevokeErrorKind.GrantNotFound, error.Kind);
    }

    [Fact]
    public async Task The_ledger_costs_the_same_few_requests_for_a_customer_with_100000_usage_events()
    {
        await Polar.CreateCustomerAsync(new CustomerCreate("heavy@credits.dev", null, "heavy"));
        await GrantAtAsync("heavy", "heavy-1", 80_000, Hour(3));
        await GrantAtAsync("heavy", "heavy-2", 50_000, Hour(2));
        for (var batch = 0; batch < 10; batch++)
        {
            await UseAsync("heavy", 12_000, Hour(1).AddMinutes(batch), events: 10_000);
        }

        await Revocation.RevokeAsync(new RevokeRequest("heavy-2", "test"));
        var before = _app.Emulator.RequestCount;
        var ledger = await Ledgers.ReadAsync("heavy", Meter);
        var requests = _app.Emulator.RequestCount - before;

        Assert.Equal(3, ledger.Read.PolarRequests); // events (3 entries: 1 page), quantities, customer meter
        Assert.Equal(ledger.Read.PolarRequests + 1, requests); // + the meter, which the tests' app does not cache
        Assert.Equal((LedgerStatus.Used, 0m), (ledger.Grants[0].Status, ledger.Grants[0].Remaining));
        Assert.Equal((LedgerStatus.Revoked, 40_000m, 10_000m), (ledger.Grants[1].Status, ledger.Grants[1].Spent, ledger.Grants[1].TakenBack));
        Assert.Equal(120_000m, ledger.Read.Usage);
    }

    [Fact]
    public async Task The_ledger_pages_our_events_100_at_a_time()
    {
        await Polar.CreateCustomerAsync(new CustomerCreate("many@credits.dev", null, "many"));
        var target = await Polar.GetGrantTargetAsync(Meter);
        var events = Enumerable.Range(0, 250).Select(i => GrantService.BuildEvent(
            new CreditGrant(new GrantId($"many-{i:000}"), CustomerRef.External("many"), 1, Meter, null, "test"), target, null)).ToList();
        await Polar.IngestAsync(events);

        var ledger = await Ledgers.ReadAsync("many", Meter);

        Assert.Equal(250, ledger.Grants.Count);
        Assert.Equal(2 + 3, ledger.Read.PolarRequests);
    }
}

/// <summary>The ledger while Polar lags: a grant the event store does not list yet, and a balance not recomputed yet.</summary>
public sealed class LedgerLagTests
{
    private const string Meter = "API Calls";

    [Fact]
    public async Task A_grant_the_event_store_does_not_list_yet_is_pending_and_cannot_be_revoked_yet()
    {
        await using var app = await App.StartAsync(new EmulatorOptions { SeedMeter = true, EventStoreLag = TimeSpan.FromHours(1) });
        await app.Services.GetRequiredService<GrantService>().GrantAsync(
            new CreditGrant(new GrantId("lag-1"), CustomerRef.External("lagging", "lagging@credits.dev"), 40, Meter, "welcome", "http"));

        var ledger = await app.Services.GetRequiredService<LedgerReader>().ReadAsync("lagging", Meter);
        var error = await Assert.ThrowsAsync<RevokeException>(() =>
            app.Services.GetRequiredService<GrantRevocation>().RevokeAsync(new RevokeRequest("lag-1", null)));

        var pending = Assert.Single(ledger.Grants);
        Assert.Equal((LedgerStatus.Pending, 40m, "welcome"), (pending.Status, pending.Remaining, pending.Reason));
        Assert.Equal(RevokeErrorKind.GrantNotFound, error.Kind);
        Assert.Contains("try again shortly", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_revocation_while_the_balance_lags_goes_by_the_event_store_and_says_what_the_balance_showed()
    {
        await using var app = await App.StartAsync(new EmulatorOptions { SeedMeter = true, BalanceLag = TimeSpan.FromHours(1) });
        var polar = app.Services.GetRequiredService<IPolarGateway>();
        await polar.CreateCustomerAsync(new CustomerCreate("slow@credits.dev", null, "slow"));
        await app.Services.GetRequiredService<GrantService>().GrantAsync(
            new CreditGrant(new GrantId("slow-1"), CustomerRef.External("slow"), 100, Meter, null, "http"));
        await polar.IngestAsync([new PolarEvent("api_usage", null, "slow", null, null,
            new Dictionary<string, System.Text.Json.JsonElement> { ["units"] = PolarMetadata.Number(30) })]);

        var outcome = await app.Services.GetRequiredService<GrantRevocation>().RevokeAsync(new RevokeRequest("slow-1", null));

        Assert.Equal(70m, outcome.TakenBack);
        Assert.True(outcome.Read.BalanceLags);
        Assert.NotEqual(outcome.Read.BalanceFromEvents, outcome.Read.Balance);
        Assert.Equal(70m, outcome.Read.BalanceFromEvents);
    }
}
