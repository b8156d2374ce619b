using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CreditGrants.CarryOver;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using CreditGrants.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator;

namespace CreditFunctions.Tests.Lifecycle;

/// <summary>
/// Carry-over across meter resets (issue #21 item 3) and reset wipes (issue #20) against the emulator's subscriptions:
/// what a reset wipes, what is granted again and when, Polar's own rollover counted once, every reset carried once
/// however often and in whatever order the webhooks come, and the event store's lag.
/// </summary>
public sealed class CarryOverTests : IAsyncLifetime
{
    private const string Meter = "API Calls";

    /// <summary>The one clock of the app and the emulator: each step of a script happens a minute after the one before.</summary>
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 2, 10, 0, 0, TimeSpan.Zero));
    private readonly string _table = "expiries" + Guid.NewGuid().ToString("N")[..16];
    private App _app = null!;

    public async Task InitializeAsync()
    {
        // The event store lags a day: what a test has not caught up (CatchUp) is not listed.
        _app = await App.StartAsync(new EmulatorOptions { SeedMeter = true, TimeProvider = _clock, EventStoreLag = TimeSpan.FromDays(1) },
            new Dictionary<string, string?> { ["AzureWebJobsStorage"] = Bulk.BulkApp.StorageConnection, ["Expiry:Table"] = _table },
            configure: s => s.Replace(ServiceDescriptor.Singleton<TimeProvider>(_clock)));
        // Webhooks are caught by an endpoint that never answers: the tests hand their payloads to the handler.
        _app.Emulator.AddWebhookEndpoint(new Uri("http://127.0.0.1:9/hooks"));
    }

    public async Task DisposeAsync()
    {
        await ((CreditGrants.Storage.Expiry.TableExpiryIndex)_app.Services.GetRequiredService<CreditGrants.Expiry.IExpiryIndex>()).Table.DeleteAsync();
        await _app.DisposeAsync();
    }

    private IPolarGateway Polar => _app.Services.GetRequiredService<IPolarGateway>();

    private CarryOverService CarryOver => _app.Services.GetRequiredService<CarryOverService>();

    /// <summary>Revokes as the API does, then lets the event store list what it sent.</summary>
    private async Task<RevokeOutcome> RevokeAsync(string grantId, decimal? units = null)
    {
        _app.Emulator.CatchUp();
        var outcome = await _app.Services.GetRequiredService<GrantRevocation>().RevokeAsync(new RevokeRequest(grantId, "Refund", units));
        _app.Emulator.CatchUp();
        return outcome;
    }

    /// <summary>Hands a webhook to the carry-over handler, then lets the event store list the re-grants it sent.</summary>
    private async Task CarryAsync(PolarWebhookEvent webhook)
    {
        await Handler.HandleAsync(webhook, CancellationToken.None);
        _app.Emulator.CatchUp();
    }

    private CarryOverWebhookHandler Handler => _app.Services.GetServices<IPolarWebhookHandler>().OfType<CarryOverWebhookHandler>().Single();

    private Task<CustomerLedger> LedgerAsync(string customer)
    {
        _app.Emulator.CatchUp();
        return _app.Services.GetRequiredService<LedgerReader>().ReadAsync(customer, Meter);
    }

    private async Task<decimal> BalanceAsync(string customer)
    {
        _app.Emulator.CatchUp();
        return (await _app.Services.GetRequiredService<BalanceService>().GetBalanceAsync(customer, Meter)).Balance;
    }

    private void Later(int minutes = 1) => _clock.Advance(TimeSpan.FromMinutes(minutes));

    private async Task GrantAsync(string customer, string grantId, decimal units, bool carryOver, DateTimeOffset? expiresAt = null)
    {
        Later();
        await _app.Services.GetRequiredService<GrantService>().GrantAsync(new CreditGrant(new GrantId(grantId),
            CustomerRef.External(customer, $"{customer}@credits.dev"), units, Meter, "test", "test", expiresAt, carryOver));
        _app.Emulator.CatchUp();
    }

    private async Task UseAsync(string customer, decimal units)
    {
        Later();
        var report = await Polar.IngestAsync([new PolarEvent("api_usage", null, customer, null, null,
            new Dictionary<string, JsonElement> { ["units"] = PolarMetadata.Number(units) })]);
        Assert.Equal(0, report.Rejected);
        _app.Emulator.CatchUp();
    }

    /// <summary>A subscription with a metered price on the meter (a reset now) and a Meter Credit benefit of <paramref name="units"/>.</summary>
    private async Task<string> SubscribeAsync(string externalId, int units, bool rollover = false)
    {
        Later();
        var customer = await Polar.FindCustomerByExternalIdAsync(externalId) ?? throw new InvalidOperationException("no customer " + externalId);
        var meter = (await Polar.FindMeterAsync(Meter))!;
        using var http = Emulator();
        using var subscribed = await http.PostAsync("__emulator/subscriptions", new StringContent(
            $$"""{"customer_id":"{{customer.Id}}","meter_id":"{{meter.Id}}","units":{{units}},"rollover":{{(rollover ? "true" : "false")}},"metered_price":true}""",
            Encoding.UTF8, "application/json"));
        return JsonDocument.Parse(await subscribed.EnsureSuccessStatusCode().Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>
    /// Renews the subscription (a reset, Polar's rollover, the period's credits) and returns its <c>subscription.cycled</c>
    /// webhook; with <paramref name="catchUp"/> false, the event store does not list the reset yet.
    /// </summary>
    private async Task<PolarWebhookEvent> CycleAsync(string subscription, bool catchUp = true)
    {
        Later(30);
        var before = _app.Emulator.WebhookDeliveries.Count(d => d.Type == CarryOverWebhookHandler.SubscriptionCycled);
        using var http = Emulator();
        using var cycled = await http.PostAsync($"__emulator/subscriptions/{subscription}/cycle", new ByteArrayContent([]));
        cycled.EnsureSuccessStatusCode();
        var deliveries = await _app.Emulator.WaitForWebhooksAsync(d => d.Count(x => x.Type == CarryOverWebhookHandler.SubscriptionCycled) > before);
        var delivery = deliveries.Where(d => d.Type == CarryOverWebhookHandler.SubscriptionCycled).ElementAt(before);
        if (catchUp)
        {
            _app.Emulator.CatchUp();
        }

        return new PolarWebhookEvent(delivery.Type, delivery.Id, delivery.Timestamp, JsonDocument.Parse(delivery.Payload).RootElement.Clone());
    }

    private HttpClient Emulator()
    {
        var http = new HttpClient { BaseAddress = _app.Emulator.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _app.Emulator.Token);
        return http;
    }

    [Fact]
    public async Task A_reset_wipes_grants_without_carry_over_and_the_unspent_part_of_a_carry_over_grant_is_granted_again_at_it()
    {
        await GrantAsync("co1", "co1-promo", 100, carryOver: true, expiresAt: new DateTimeOffset(2030, 1, 31, 22, 30, 0, TimeSpan.Zero));
        await GrantAsync("co1", "co1-plain", 40, carryOver: false);
        await UseAsync("co1", 30);
        await SubscribeAsync("co1", units: 10);
        _app.Emulator.CatchUp();

        Assert.Equal(10m, await BalanceAsync("co1"));
        var outcome = await CarryOver.CarryOverAsync("co1", null, CancellationToken.None);

        var regrant = Assert.Single(Assert.Single(outcome.Meters).Regrants);
        Assert.Equal((GrantStatus.Granted, 70m, 0m), (regrant.Status, regrant.Units, outcome.Meters[0].Shortfall));
        Assert.Equal(80m, await BalanceAsync("co1"));
        var ledger = await LedgerAsync("co1");
        var reset = Assert.Single(ledger.Resets);
        Assert.Equal(LedgerStatus.WipedByReset, ledger.Find("co1-plain")!.Status);
        Assert.Equal((LedgerStatus.WipedByReset, 30m), (ledger.Find("co1-promo")!.Status, ledger.Find("co1-promo")!.Spent));
        var carried = ledger.Find(regrant.GrantId)!;
        Assert.Equal((LedgerStatus.Active, 70m, "co1-promo", true, reset), (carried.Status, carried.Remaining, carried.Carries, carried.CarryOver, carried.GrantedAt));
        Assert.Equal(new DateTimeOffset(2030, 1, 31, 23, 0, 0, TimeSpan.Zero), carried.ExpiresAt);
        Assert.StartsWith("co_", regrant.GrantId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_cycle_webhook_ten_times_carries_once_and_a_carried_grant_carries_again_at_the_next_reset()
    {
        await GrantAsync("co2", "co2-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co2", units: 10);
        await GrantAsync("co2", "co2-promo", 100, carryOver: true);
        // Polar's 10 units are older than the promo: spent first; 15 of the promo.
        await UseAsync("co2", 25);
        var first = await CycleAsync(subscription);

        for (var i = 0; i < 10; i++)
        {
            await Handler.HandleAsync(first, CancellationToken.None);
        }

        // The re-grant and Polar's new 10 units are both dated at the reset: the re-grant goes first by id (co_ before polar:).
        await UseAsync("co2", 30);
        var second = await CycleAsync(subscription);
        // Out of order and replayed: the second cycle's webhook, then the first's again, then the second's.
        await Handler.HandleAsync(second, CancellationToken.None);
        await Handler.HandleAsync(first, CancellationToken.None);
        await Handler.HandleAsync(second, CancellationToken.None);

        var ledger = await LedgerAsync("co2");
        var regrants = ledger.Grants.Where(g => g.Carries is not null).ToList();
        Assert.Equal([(85m, "co2-promo"), (55m, regrants[0].GrantId)], regrants.Select(g => (g.Units, g.Carries!)));
        Assert.Equal(ledger.Resets.Skip(1), regrants.Select(g => g.GrantedAt));
        Assert.Equal(65m, await BalanceAsync("co2"));
    }

    [Fact]
    public async Task Usage_after_a_reset_in_the_resets_own_hour_does_not_lower_the_regrant()
    {
        await GrantAsync("co7", "co7-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co7", units: 10);
        await GrantAsync("co7", "co7-promo", 100, carryOver: true);
        // Polar's 10 units are older than the promo: spent first; 10 of the promo.
        await UseAsync("co7", 20);
        await CycleAsync(subscription);
        // In the reset's hour, after it: Polar's quantities total that hour whole, so only the events say what came before.
        await UseAsync("co7", 5);
        _app.Emulator.CatchUp();

        var outcome = await CarryOver.CarryOverAsync("co7", null, CancellationToken.None);

        var regrant = Assert.Single(Assert.Single(outcome.Meters).Regrants);
        Assert.Equal((GrantStatus.Granted, 90m), (regrant.Status, regrant.Units));
    }

    [Fact]
    public async Task Two_resets_before_any_carry_over_make_one_regrant_in_the_latest_window_of_all_that_was_unspent()
    {
        await GrantAsync("co6", "co6-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co6", units: 10);
        await GrantAsync("co6", "co6-promo", 100, carryOver: true);
        // Polar's 10 units are older than the promo: spent first; 15 of the promo.
        await UseAsync("co6", 25);
        await CycleAsync(subscription);
        // Between the resets the customer had no re-grant (none was made): this usage spent Polar's new 10 and went over.
        await UseAsync("co6", 30);
        await CycleAsync(subscription);

        var outcome = await CarryOver.CarryOverAsync("co6", null, CancellationToken.None);

        // Polar counts from the latest reset's ingestion: one re-grant, in the latest window, of all the promo had unspent.
        var regrant = Assert.Single(Assert.Single(outcome.Meters).Regrants);
        Assert.Equal((GrantStatus.Granted, 85m), (regrant.Status, regrant.Units));
        Assert.Equal(95m, await BalanceAsync("co6"));
        var again = await CarryOver.CarryOverAsync("co6", null, CancellationToken.None);
        Assert.All(Assert.Single(again.Meters).Regrants, r => Assert.Equal(GrantStatus.Duplicate, r.Status));
        Assert.Equal(95m, await BalanceAsync("co6"));
        Assert.Equal((await LedgerAsync("co6")).Resets[^1], (await LedgerAsync("co6")).Find(regrant.GrantId)!.GrantedAt);
    }

    [Fact]
    public async Task A_cycle_webhook_before_its_reset_is_listed_waits_for_a_retry_and_then_carries()
    {
        await GrantAsync("co3", "co3-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co3", units: 5);
        await GrantAsync("co3", "co3-promo", 50, carryOver: true);
        var cycled = await CycleAsync(subscription, catchUp: false);

        // The event store lags: the reset is not listed yet, so nothing is guessed and the delivery is retried.
        await Assert.ThrowsAsync<CarryOverNotReadyException>(() => Handler.HandleAsync(cycled, CancellationToken.None));
        _app.Emulator.CatchUp();
        await Handler.HandleAsync(cycled, CancellationToken.None);

        var carried = Assert.Single((await LedgerAsync("co3")).Grants, g => g.Carries is not null);
        Assert.Equal((50m, "co3-promo"), (carried.Units, carried.Carries));
        Assert.Equal(55m, await BalanceAsync("co3"));
    }

    [Fact]
    public async Task Units_polar_rolled_over_beyond_its_own_unspent_credits_are_taken_off_the_regrant_and_never_carried_twice()
    {
        // Polar credits 20 rollover units at the subscription's start; then a carry-over grant of 50 and 10 units used, which
        // spend Polar's older block. Polar keeps min(balance 60, rollover credits 20) = 20 at the cycle: its own 10 unspent and
        // 10 of ours, so the re-grant is 50 - 10 = 40 (not 50: those 10 would then count twice).
        await GrantAsync("co4", "co4-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co4", units: 20, rollover: true);
        await GrantAsync("co4", "co4-promo", 50, carryOver: true);
        await UseAsync("co4", 10);
        var cycled = await CycleAsync(subscription);
        _app.Emulator.CatchUp();

        await Handler.HandleAsync(cycled, CancellationToken.None);

        var regrant = Assert.Single((await LedgerAsync("co4")).Grants, g => g.Carries == "co4-promo");
        Assert.Equal(40m, regrant.Units);
        // Polar's 20 carried + the period's 20 + our 40: the 60 unspent before the reset, plus the new period's credits.
        Assert.Equal(80m, await BalanceAsync("co4"));
    }

    [Fact]
    public async Task A_customer_without_carry_over_grants_costs_one_request_and_grants_nothing()
    {
        await GrantAsync("co5", "co5-plain", 40, carryOver: false);
        var subscription = await SubscribeAsync("co5", units: 10);
        var cycled = await CycleAsync(subscription);
        _app.Emulator.CatchUp();
        var before = _app.Emulator.RequestCount;

        await Handler.HandleAsync(cycled, CancellationToken.None);

        Assert.Equal(1, _app.Emulator.RequestCount - before);
        Assert.Equal(10m, await BalanceAsync("co5"));
    }

    [Fact]
    public async Task Revoking_a_carry_over_grant_a_reset_wiped_takes_back_what_its_regrant_holds_once_and_the_next_reset_carries_nothing_of_it()
    {
        await GrantAsync("co8", "co8-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co8", units: 10);
        await GrantAsync("co8", "co8-promo", 100, carryOver: true);
        // Polar's 10 units are older than the promo: spent first; 15 of the promo, 85 carried over.
        await UseAsync("co8", 25);
        await CarryAsync(await CycleAsync(subscription));
        // The re-grant goes before Polar's new 10 (both dated at the reset; co_ before polar:): 80 of it left.
        await UseAsync("co8", 5);
        var before = await LedgerAsync("co8");
        var regrant = Assert.Single(before.Grants, g => g.Carries == "co8-promo");
        // The 25 used before the reset, in its hour, are read exactly: not charged to the re-grant dated at the reset.
        Assert.Equal((80m, false), (regrant.Remaining, before.Read.BalanceLags));
        Assert.Equal(90m, await BalanceAsync("co8"));

        var revoked = await RevokeAsync("co8-promo");
        var again = await RevokeAsync("co8-promo");
        var different = await Assert.ThrowsAsync<RevokeException>(() => RevokeAsync("co8-promo", 50));

        Assert.Equal((RevokeStatus.Revoked, "co8-promo", regrant.GrantId, 100m, 80m, 80m),
            (revoked.Status, revoked.GrantId, revoked.CarriedAs, revoked.GrantUnits, revoked.Unspent, revoked.TakenBack));
        Assert.Equal((RevokeStatus.AlreadyRevoked, regrant.GrantId, 80m, revoked.RevocationGrantId),
            (again.Status, again.CarriedAs, again.TakenBack, again.RevocationGrantId));
        Assert.Equal(RevokeErrorKind.Conflict, different.Kind);
        Assert.Contains($"'co8-promo' (carried over a meter reset as '{regrant.GrantId}') was already revoked", different.Message, StringComparison.Ordinal);
        Assert.Contains($"re-grant {regrant.GrantId}: 80 units were taken back", Assert.Single(RevokeOutcomeJson.From(revoked).Notes), StringComparison.Ordinal);
        Assert.Equal(10m, await BalanceAsync("co8"));

        // The next reset finds the re-grant revoked: nothing of the promo is carried again.
        await CarryAsync(await CycleAsync(subscription));
        var ledger = await LedgerAsync("co8");
        Assert.Equal(LedgerStatus.Revoked, Assert.Single(ledger.Grants, g => g.Carries is not null).Status);
        Assert.Equal(10m, await BalanceAsync("co8"));
        // History stays as it was read before: the promo had spent 15 at the first reset, whatever came after.
        Assert.Equal((before.Find("co8-promo")!.Spent, 15m), (ledger.Find("co8-promo")!.Spent, ledger.Find("co8-promo")!.Spent));
    }

    [Fact]
    public async Task Revoking_a_carry_over_grant_after_two_resets_follows_its_regrants_to_the_one_that_holds_its_units()
    {
        await GrantAsync("co9", "co9-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co9", units: 10);
        await GrantAsync("co9", "co9-promo", 100, carryOver: true);
        await UseAsync("co9", 25);
        await CarryAsync(await CycleAsync(subscription));
        await UseAsync("co9", 30);
        await CarryAsync(await CycleAsync(subscription));
        var ledger = await LedgerAsync("co9");
        var first = Assert.Single(ledger.Grants, g => g.Carries == "co9-promo");
        var second = Assert.Single(ledger.Grants, g => g.Carries == first.GrantId);
        Assert.Equal(65m, await BalanceAsync("co9"));

        var revoked = await RevokeAsync("co9-promo");

        Assert.Equal((second.GrantId, 55m, 55m), (revoked.CarriedAs, revoked.Unspent, revoked.TakenBack));
        Assert.Equal(10m, await BalanceAsync("co9"));
        // The re-grant in between says the same: one revocation, of the one that holds the units.
        var viaFirst = await RevokeAsync(first.GrantId);
        Assert.Equal((RevokeStatus.AlreadyRevoked, second.GrantId, revoked.RevocationGrantId), (viaFirst.Status, viaFirst.CarriedAs, viaFirst.RevocationGrantId));
    }

    [Fact]
    public async Task Revoking_a_wiped_carry_over_grant_before_its_regrant_is_listed_asks_to_try_again_and_never_takes_from_elsewhere()
    {
        await GrantAsync("co10", "co10-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co10", units: 5);
        await GrantAsync("co10", "co10-promo", 50, carryOver: true);
        await GrantAsync("co10", "co10-used", 5, carryOver: true, expiresAt: new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        // Polar's 5, then co10-used (it expires, so it goes first): nothing of it is left to carry.
        await UseAsync("co10", 10);
        var cycled = await CycleAsync(subscription);

        var early = await Assert.ThrowsAsync<RevokeException>(() => RevokeAsync("co10-promo"));
        var nothingLeft = await Assert.ThrowsAsync<RevokeException>(() => RevokeAsync("co10-used"));
        Assert.Equal(RevokeErrorKind.GrantNotFound, early.Kind);
        Assert.Contains("with 50 units unspent, and no carry-over re-grant of it is listed", early.Message, StringComparison.Ordinal);
        Assert.Equal(RevokeErrorKind.Conflict, nothingLeft.Kind);
        Assert.Contains("'co10-used' was wiped by a meter reset at", nothingLeft.Message, StringComparison.Ordinal);
        Assert.EndsWith("nothing of it is left to take back.", nothingLeft.Message, StringComparison.Ordinal);
        // Nothing was sent: the balance is Polar's new 5 alone.
        Assert.Equal(5m, await BalanceAsync("co10"));

        await CarryAsync(cycled);
        var revoked = await RevokeAsync("co10-promo");

        Assert.Equal((RevokeStatus.Revoked, 50m), (revoked.Status, revoked.TakenBack));
        Assert.Equal(5m, await BalanceAsync("co10"));
    }

    [Fact]
    public async Task A_wiped_carry_over_grant_whose_regrant_is_late_is_never_revoked_into_the_new_window_and_is_taken_from_the_late_regrant()
    {
        await GrantAsync("co11", "co11-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co11", units: 5);
        await GrantAsync("co11", "co11-promo", 30, carryOver: true);
        var cycled = await CycleAsync(subscription);
        Later(60);

        // An hour on, no re-grant yet (the app missed the reset's webhooks): nothing is taken where none of our grants holds the units.
        var refused = await Assert.ThrowsAsync<RevokeException>(() => RevokeAsync("co11-promo"));
        Assert.Equal(RevokeErrorKind.GrantNotFound, refused.Kind);
        Assert.Contains("with 30 units unspent, and no carry-over re-grant of it is listed", refused.Message, StringComparison.Ordinal);
        Assert.Equal(5m, await BalanceAsync("co11"));

        // The late carry-over re-grants them; the revocation then takes them from it, once.
        await CarryAsync(cycled);
        var revoked = await RevokeAsync("co11-promo");
        Assert.Equal((RevokeStatus.Revoked, 30m), (revoked.Status, revoked.TakenBack));
        Assert.Equal(5m, await BalanceAsync("co11"));
        Assert.Equal(RevokeStatus.AlreadyRevoked, (await RevokeAsync("co11-promo")).Status);
    }

    [Fact]
    public async Task A_revocation_sent_before_its_reset_was_listed_is_met_by_the_regrant_and_a_second_one_takes_nothing_more()
    {
        await GrantAsync("co13", "co13-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co13", units: 10);
        await GrantAsync("co13", "co13-promo", 100, carryOver: true);
        await UseAsync("co13", 25);
        // The cycle resets the meter, but Polar's event store does not list the reset yet: the revocation reads the promo
        // as open with 85 unspent, and takes them; Polar counts that revocation after the reset, in the new window.
        var cycled = await CycleAsync(subscription, catchUp: false);
        Later();
        var first = await _app.Services.GetRequiredService<GrantRevocation>().RevokeAsync(new RevokeRequest("co13-promo", "Refund"));
        Assert.Equal((RevokeStatus.Revoked, 85m, (string?)null), (first.Status, first.TakenBack, first.CarriedAs));
        _app.Emulator.CatchUp();
        // Before the carry-over ran: a bulk revocation of it says it was revoked, not "try again".
        var (rows, _) = await _app.Services.GetRequiredService<BulkRevocation>().RevokeAsync(
            [new BulkGrantedRow(2, "co13-promo", "co13", null, null, Meter, "granted")], new BulkRevokeOptions("Again", DryRun: false, "test"));
        Assert.Equal((BulkRevokeStatus.AlreadyRevoked, 85m), (rows[0].Status, rows[0].UnitsRevoked));

        // The carry-over re-grants the 85 the reset wiped, to meet the revocation in the new window, and closes it at once.
        await CarryAsync(cycled);
        var regrant = Assert.Single((await LedgerAsync("co13")).Grants, g => g.Carries == "co13-promo");
        Assert.Equal((85m, LedgerStatus.Revoked, first.RevocationGrantId), (regrant.Units, regrant.Status, regrant.CompensationGrantId));
        Assert.Equal(10m, await BalanceAsync("co13"));

        // Asked again (a retry, a bulk re-run), by the original or its re-grant: the one revocation, nothing more taken.
        var again = await RevokeAsync("co13-promo");
        var viaRegrant = await RevokeAsync(regrant.GrantId);
        Assert.Equal((RevokeStatus.AlreadyRevoked, 85m, first.RevocationGrantId), (again.Status, again.TakenBack, again.RevocationGrantId));
        // Asked by the re-grant, the units were taken from the original before it: no carriedAs.
        Assert.Equal((RevokeStatus.AlreadyRevoked, first.RevocationGrantId, (string?)null), (viaRegrant.Status, viaRegrant.RevocationGrantId, viaRegrant.CarriedAs));
        Assert.Equal(10m, await BalanceAsync("co13"));

        // The next reset carries nothing of the promo.
        await CarryAsync(await CycleAsync(subscription));
        Assert.Single((await LedgerAsync("co13")).Grants, g => g.Carries is not null);
        Assert.Equal(10m, await BalanceAsync("co13"));
    }

    [Fact]
    public async Task A_bulk_revocation_takes_from_live_regrants_and_calls_an_expired_or_used_up_chain_nothing_unspent()
    {
        await GrantAsync("co14", "co14-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co14", units: 5);
        await GrantAsync("co14", "co14-promo", 50, carryOver: true);
        await GrantAsync("co14", "co14-small", 20, carryOver: true, expiresAt: _clock.GetUtcNow().AddHours(10));
        await GrantAsync("co14", "co14-short", 30, carryOver: true, expiresAt: _clock.GetUtcNow().AddMinutes(30));
        // The soonest expiry first: short's 30, then 10 of small's 20.
        await UseAsync("co14", 40);
        await CarryAsync(await CycleAsync(subscription));
        // After the reset: the re-grants of small (10, expiring first) and promo (50); 15 used spends small's and 5 of promo's.
        await UseAsync("co14", 15);
        Later(60 * 11);
        _app.Emulator.CatchUp();
        static BulkGrantedRow Row(long line, string grantId) => new(line, grantId, "co14", null, null, Meter, "granted");

        var (rows, _) = await _app.Services.GetRequiredService<BulkRevocation>().RevokeAsync(
            [Row(2, "co14-promo"), Row(3, "co14-small"), Row(4, "co14-short")], new BulkRevokeOptions("Wrong file", DryRun: false, "test"));

        // Promo's re-grant holds 45; small's expired (used up); short was used up before the reset: no event for either.
        Assert.Equal([(BulkRevokeStatus.Revoked, 45m), (BulkRevokeStatus.NothingUnspent, 0m), (BulkRevokeStatus.NothingUnspent, 0m)],
            rows.Select(r => (r.Status, r.UnitsRevoked)));
        _app.Emulator.CatchUp();
        Assert.Single((await LedgerAsync("co14")).Compensations, c => c.Kind == CompensationKind.Revoked);
    }

    [Fact]
    public async Task Usage_dated_before_a_reset_but_sent_after_it_is_named_by_the_ledger_since_Polar_counts_it_in_the_new_window()
    {
        await GrantAsync("co12", "co12-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co12", units: 10);
        await GrantAsync("co12", "co12-promo", 100, carryOver: true);
        await UseAsync("co12", 20);
        await CycleAsync(subscription);
        var reset = (await LedgerAsync("co12")).Resets[^1];
        Later();
        var late = await Polar.IngestAsync([new PolarEvent("api_usage", null, "co12", null, reset.AddMinutes(-1),
            new Dictionary<string, JsonElement> { ["units"] = PolarMetadata.Number(7) })]);
        Assert.Equal(0, late.Rejected);

        var ledger = await LedgerAsync("co12");

        // Polar: the new window's 10 less the 7 ingested after the reset; the ledger, by timestamps, puts them before it.
        Assert.Equal((3m, 10m), (ledger.Read.Balance, ledger.Read.BalanceFromEvents));
        var note = Assert.Single(CreditGrants.Lifecycle.LedgerJson.Page(ledger, [], null, 100).Notes, n => n.StartsWith("Polar's balance", StringComparison.Ordinal));
        Assert.Contains("usage dated before the meter reset", note, StringComparison.Ordinal);
        // The carry-over cannot tell when Polar ingested them (its API does not say): it says by how much it may be short.
        var carried = Assert.Single((await CarryOver.CarryOverAsync("co12", null, CancellationToken.None)).Meters);
        Assert.Equal(7m, carried.Shortfall);
    }

    /// <summary>
    /// Polar's rollover carries 10 of the promo's units at the reset; a revocation sent before the reset was listed takes
    /// the promo's 85 in the new window: its re-grant's 75 and, beyond them, the 10 Polar's rollover carried. The other
    /// carry-over grant's re-grant keeps its 50 (a revocation of it takes all 50), and the next reset carries what is left
    /// exactly once (before, the model left those 10 in Polar's rollover credit: 10 too many carried, or 40 of 50 taken).
    /// </summary>
    [Fact]
    public async Task A_late_revocation_takes_what_polars_rollover_carried_of_its_grant_from_that_rollover_and_no_other_grant()
    {
        await GrantAsync("co20", "co20-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co20", units: 10, rollover: true);
        await GrantAsync("co20", "co20-promo", 100, carryOver: true);
        await GrantAsync("co20", "co20-other", 50, carryOver: true);
        await UseAsync("co20", 25);
        var cycled = await CycleAsync(subscription, catchUp: false);
        Later();
        var first = await _app.Services.GetRequiredService<GrantRevocation>().RevokeAsync(new RevokeRequest("co20-promo", "Refund"));
        Assert.Equal(85m, first.TakenBack);
        _app.Emulator.CatchUp();
        await CarryAsync(cycled);

        // Polar: rollover 10 + the period's 10 + re-grants 75 and 50 - 85 = 60; the ledger derives the same, the rollover used up.
        var ledger = await LedgerAsync("co20");
        Assert.Equal((60m, 60m), (await BalanceAsync("co20"), ledger.Grants.Sum(g => g.Remaining)));
        Assert.Equal(75m, Assert.Single(ledger.Grants, g => g.Carries == "co20-promo").Units);

        // The next reset: the customer holds the other grant's 50 and the period's 10; Polar's rollover keeps 20 (its credits),
        // 10 of them the other grant's, so its re-grant is 40: 20 + 40 + the new period's 10 = 70.
        await CarryAsync(await CycleAsync(subscription));
        ledger = await LedgerAsync("co20");
        Assert.Equal(70m, await BalanceAsync("co20"));
        Assert.Equal(40m, Assert.Single(ledger.Grants, g => g.Carries is { } c && c != "co20-promo" && c != "co20-other").Units);
    }

    [Fact]
    public async Task A_late_revocation_of_a_grant_carried_whole_by_polars_rollover_is_charged_to_that_rollover_not_to_later_grants()
    {
        await GrantAsync("co21", "co21-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co21", units: 100, rollover: true);
        await GrantAsync("co21", "co21-promo", 20, carryOver: true);
        await UseAsync("co21", 90);
        // Polar's rollover keeps all 30 left (the period's 10 and the promo's 20): the promo has no re-grant, and a revocation
        // sent before the reset was listed takes its 20 from the new window.
        var cycled = await CycleAsync(subscription, catchUp: false);
        Later();
        Assert.Equal(20m, (await _app.Services.GetRequiredService<GrantRevocation>().RevokeAsync(new RevokeRequest("co21-promo", "Refund"))).TakenBack);
        _app.Emulator.CatchUp();
        await CarryAsync(cycled);
        Assert.DoesNotContain((await LedgerAsync("co21")).Grants, g => g.Carries is not null);
        await GrantAsync("co21", "co21-later", 30, carryOver: true);
        var before = await BalanceAsync("co21");

        // The next reset: the balance is 140 (Polar's credits 130 less the 20 revoked, and the later 30); Polar's rollover keeps
        // 130, its credits' units, of which only 110 are left: 20 are the later grant's, so its re-grant is 10, not 30.
        await CarryAsync(await CycleAsync(subscription));
        var ledger = await LedgerAsync("co21");
        Assert.Equal(140m, before);
        Assert.Equal(10m, Assert.Single(ledger.Grants, g => g.Carries == "co21-later").Units);
        Assert.Equal((240m, 240m), (await BalanceAsync("co21"), ledger.Grants.Sum(g => g.Remaining)));
    }

    [Fact]
    public async Task A_partial_revocation_leaves_the_rest_open_to_be_carried_over_and_to_expire()
    {
        await GrantAsync("co22", "co22-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co22", units: 10);
        await GrantAsync("co22", "co22-promo", 100, carryOver: true);
        await GrantAsync("co22", "co22-exp", 50, carryOver: false, expiresAt: _clock.GetUtcNow().AddHours(2));
        await UseAsync("co22", 25);
        // 25 used of the expiring grant first; then part of each taken back (a partial refund).
        Assert.Equal(30m, (await RevokeAsync("co22-promo", 30)).TakenBack);
        Assert.Equal(20m, (await RevokeAsync("co22-exp", 20)).TakenBack);
        var ledger = await LedgerAsync("co22");
        var promo = ledger.Find("co22-promo")!;
        Assert.Equal((LedgerStatus.Active, 70m, 30m, (decimal?)30m), (promo.Status, promo.Remaining, promo.Revoked, promo.TakenBack));
        Assert.Equal(5m, ledger.Find("co22-exp")!.Remaining);

        // The expiry takes the 5 left of the expiring grant, not nothing.
        Later(60 * 3);
        _app.Emulator.CatchUp();
        var sweep = await _app.Services.GetRequiredService<CreditGrants.Expiry.ExpirySweep>().RunAsync();
        Assert.Equal((CreditGrants.Expiry.ExpiryStatus.Expired, 5m), (Assert.Single(sweep.Expiries).Status, sweep.Expiries[0].UnitsTakenBack));
        var balance = await BalanceAsync("co22");

        // The reset carries the promo's 70 left; a second revocation of it is the first one.
        await CarryAsync(await CycleAsync(subscription));
        Assert.Equal(70m, Assert.Single((await LedgerAsync("co22")).Grants, g => g.Carries == "co22-promo").Units);
        // The period's 10 wiped, the new period's 10 credited.
        Assert.Equal(balance, await BalanceAsync("co22"));
        var again = await RevokeAsync("co22-promo", 30);
        Assert.Equal((RevokeStatus.AlreadyRevoked, 30m), (again.Status, again.TakenBack));
    }

    [Fact]
    public async Task Revoking_a_carry_over_grant_polars_rollover_carried_whole_is_a_conflict_that_says_so_not_a_404_forever()
    {
        await GrantAsync("co23", "co23-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co23", units: 20, rollover: true);
        await GrantAsync("co23", "co23-g", 10, carryOver: true);
        await GrantAsync("co23", "co23-h", 50, carryOver: true);
        await UseAsync("co23", 20);
        // 20 used of Polar's 20; Polar's rollover keeps min(60, 20) = 20, all of them ours: g's 10 (the oldest), then 10 of h's.
        await CarryAsync(await CycleAsync(subscription));
        var ledger = await LedgerAsync("co23");
        Assert.DoesNotContain(ledger.Grants, g => g.Carries == "co23-g");
        Assert.Equal((0m, 40m), (ledger.Find("co23-g")!.CarryOverUnits, ledger.Find("co23-h")!.CarryOverUnits));

        // Minutes after the reset, usage the event store does not list yet could be why: "try again", not a final refusal.
        Assert.Equal(RevokeErrorKind.GrantNotFound, (await Assert.ThrowsAsync<RevokeException>(() => RevokeAsync("co23-g"))).Kind);
        Later(15);
        var refused = await Assert.ThrowsAsync<RevokeException>(() => RevokeAsync("co23-g"));
        Assert.Equal(RevokeErrorKind.Conflict, refused.Kind);
        Assert.Contains("Polar's own rollover carried all of them", refused.Message, StringComparison.Ordinal);
        var (rows, _) = await _app.Services.GetRequiredService<BulkRevocation>().RevokeAsync(
            [new BulkGrantedRow(2, "co23-g", "co23", null, null, Meter, "granted")], new BulkRevokeOptions("Wrong file", DryRun: false, "test"));
        Assert.Equal(BulkRevokeStatus.NothingUnspent, rows[0].Status);
        // Nothing was taken: Polar's 20 carried, h's re-grant of 40 and the new period's 20.
        Assert.Equal(80m, await BalanceAsync("co23"));
    }

    [Fact]
    public async Task A_partial_late_revocation_whose_window_passed_before_the_carry_over_leaves_the_rest_carried_once()
    {
        await GrantAsync("co24", "co24-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co24", units: 10);
        await GrantAsync("co24", "co24-promo", 100, carryOver: true);
        await UseAsync("co24", 25);
        // 30 of the promo's 85 taken back before the reset was listed; a second reset comes before either carry-over runs.
        var cycled = await CycleAsync(subscription, catchUp: false);
        Later();
        Assert.Equal(30m, (await _app.Services.GetRequiredService<GrantRevocation>().RevokeAsync(new RevokeRequest("co24-promo", "Refund", 30))).TakenBack);
        _app.Emulator.CatchUp();
        var second = await CycleAsync(subscription);
        await CarryAsync(cycled);
        await CarryAsync(second);

        // The 30 came out of the window between the resets; the 55 left are granted again once, in the latest window.
        var ledger = await LedgerAsync("co24");
        Assert.Equal(55m, Assert.Single(ledger.Grants, g => g.Carries == "co24-promo").Units);
        Assert.Equal((65m, 65m), (await BalanceAsync("co24"), ledger.Grants.Sum(g => g.Remaining)));
    }

    [Fact]
    public async Task A_revocation_in_the_hour_of_usage_leaves_the_other_grants_whole_once_the_hour_has_passed()
    {
        await GrantAsync("co25", "co25-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co25", units: 10);
        await UseAsync("co25", 10);
        await GrantAsync("co25", "co25-a", 100, carryOver: false, expiresAt: _clock.GetUtcNow().AddDays(30));
        await GrantAsync("co25", "co25-b", 50, carryOver: true);
        await UseAsync("co25", 7);
        // The revocation saw the hour's 17 charged to a (it expires first; usage is known per hour, so the 10 from before a
        // was granted count in its hour too: docs/credit-lifecycle.md) and took 83. In a read after the hour the 17 come
        // after the revocation's moment: they were charged to b as well (b left with 33, its re-grant 33, before the fix).
        Assert.Equal(83m, (await RevokeAsync("co25-a")).TakenBack);
        Later(90);

        var ledger = await LedgerAsync("co25");
        Assert.Equal((17m, 50m), (ledger.Find("co25-a")!.Spent, ledger.Find("co25-b")!.Remaining));
        Assert.Equal((60m, 60m), (await BalanceAsync("co25"), ledger.Grants.Sum(g => g.Remaining)));
        await CarryAsync(await CycleAsync(subscription));
        Assert.Equal(50m, Assert.Single((await LedgerAsync("co25")).Grants, g => g.Carries == "co25-b").Units);
        Assert.Equal(60m, await BalanceAsync("co25"));
    }

    [Fact]
    public async Task What_a_revocation_with_a_negative_balance_allowed_takes_beyond_its_grant_goes_in_the_consumption_order()
    {
        await GrantAsync("co26", "co26-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co26", units: 20, rollover: true);
        await GrantAsync("co26", "co26-x", 30, carryOver: false);
        await GrantAsync("co26", "co26-y", 30, carryOver: false, expiresAt: _clock.GetUtcNow().AddDays(30));
        await GrantAsync("co26", "co26-promo", 50, carryOver: true);
        _app.Emulator.CatchUp();
        await _app.Services.GetRequiredService<GrantRevocation>().RevokeAsync(new RevokeRequest("co26-x", "Refund", 40, AllowNegativeBalance: true));
        _app.Emulator.CatchUp();

        // The 10 beyond x's 30 come out of y (it expires first), not Polar's rollover credit: the promo is carried whole.
        var ledger = await LedgerAsync("co26");
        Assert.Equal((10m, 20m), (ledger.Find("co26-y")!.Revoked, ledger.Grants.Single(g => g.PolarCredit).Remaining));
        await CarryAsync(await CycleAsync(subscription));
        Assert.Equal(50m, Assert.Single((await LedgerAsync("co26")).Grants, g => g.Carries == "co26-promo").Units);
        Assert.Equal(90m, await BalanceAsync("co26"));
    }

    [Fact]
    public async Task Revocations_and_expiries_of_other_grants_wait_for_a_pending_carry_over_and_then_take_the_right_units()
    {
        await GrantAsync("co27", "co27-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co27", units: 10);
        await GrantAsync("co27", "co27-g", 50, carryOver: true);
        var cycled = await CycleAsync(subscription);
        // The reset is listed, but its carry-over has not run (its delivery is being retried): the re-grant, dated at the
        // reset, will take the usage since it, so what y and e have unspent is not settled yet.
        await GrantAsync("co27", "co27-y", 40, carryOver: false);
        await GrantAsync("co27", "co27-e", 20, carryOver: false, expiresAt: _clock.GetUtcNow().AddMinutes(10));
        await UseAsync("co27", 30);
        Later(50);
        var waiting = await Assert.ThrowsAsync<RevokeException>(() => RevokeAsync("co27-y"));
        Assert.Equal(RevokeErrorKind.GrantNotFound, waiting.Kind);
        Assert.Contains("carry-over re-grant is not listed yet", waiting.Message, StringComparison.Ordinal);
        var sweep = await _app.Services.GetRequiredService<CreditGrants.Expiry.ExpirySweep>().RunAsync();
        Assert.Equal(CreditGrants.Expiry.ExpiryStatus.Waiting, Assert.Single(sweep.Expiries).Status);

        // Once the re-grant is made: the 30 used since the reset are e's 20 (it expires first) and 10 of the re-grant (dated
        // at the reset, older than y): e expires with nothing left, y is revoked whole, and the ledger and Polar agree on the
        // re-grant's 40 and the period's 10.
        await CarryAsync(cycled);
        sweep = await _app.Services.GetRequiredService<CreditGrants.Expiry.ExpirySweep>().RunAsync();
        Assert.Equal((CreditGrants.Expiry.ExpiryStatus.Expired, 0m), (Assert.Single(sweep.Expiries).Status, sweep.Expiries[0].UnitsTakenBack));
        Assert.Equal(40m, (await RevokeAsync("co27-y")).TakenBack);
        var ledger = await LedgerAsync("co27");
        Assert.Equal((50m, 50m), (await BalanceAsync("co27"), ledger.Grants.Sum(g => g.Remaining)));
    }

    [Fact]
    public async Task A_ledger_whose_grants_do_not_add_up_to_polars_balance_says_so()
    {
        await GrantAsync("co28", "co28-seed", 1, carryOver: false);
        var subscription = await SubscribeAsync("co28", units: 10);
        await GrantAsync("co28", "co28-g", 50, carryOver: true);
        var cycled = await CycleAsync(subscription);
        await GrantAsync("co28", "co28-y", 40, carryOver: false);
        await UseAsync("co28", 30);
        // The carry-over comes over an hour late (a poisoned delivery replayed): the revocation no longer waits for it.
        Later(90);
        Assert.DoesNotContain(LedgerJson.Page(await LedgerAsync("co28"), [], null, 100).Notes, n => n.Contains("add up to", StringComparison.Ordinal));
        await RevokeAsync("co28-y");
        await CarryAsync(cycled);

        var page = LedgerJson.Page(await LedgerAsync("co28"), [], null, 100);
        var note = Assert.Single(page.Notes, n => n.StartsWith("The grants' remaining units add up to", StringComparison.Ordinal));
        Assert.Contains($"Polar's balance is {await BalanceAsync("co28")}", note, StringComparison.Ordinal);
    }
}
