using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Expiry;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using CreditGrants.Storage.Expiry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator;

namespace CreditFunctions.Tests.Expiry;

/// <summary>
/// The expiry sweep (issue #20, item 3) on the app's services, its index in a table on Azurite, against the emulator on one
/// scripted clock: what is unspent at the expiry's hour is taken back once, usage before and after the hour counted where it
/// belongs, Polar's own credits present, a reset in between, the event store's lag, and runs repeated or interrupted.
/// </summary>
public sealed class ExpirySweepTests : IAsyncLifetime
{
    private const string Meter = "API Calls";

    /// <summary>10:00 UTC on a fixed day: the script's hours are read from it.</summary>
    private static readonly DateTimeOffset Start = new(2026, 11, 2, 10, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _clock = new(Start);
    private readonly string _table = "expiries" + Guid.NewGuid().ToString("N")[..16];
    private App _app = null!;

    private static DateTimeOffset At(int hour, int minute = 0) => Start.AddHours(hour - 10).AddMinutes(minute);

    public Task InitializeAsync() => StartAsync(TimeSpan.Zero);

    private async Task StartAsync(TimeSpan eventStoreLag)
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _app = await App.StartAsync(new EmulatorOptions { SeedMeter = true, TimeProvider = _clock, EventStoreLag = eventStoreLag },
            new Dictionary<string, string?> { ["AzureWebJobsStorage"] = BulkApp.StorageConnection, ["Expiry:Table"] = _table },
            configure: s => s.Replace(ServiceDescriptor.Singleton<TimeProvider>(_clock)));
    }

    public async Task DisposeAsync()
    {
        await ((TableExpiryIndex)Index).Table.DeleteAsync();
        await _app.DisposeAsync();
    }

    private IPolarGateway Polar => _app.Services.GetRequiredService<IPolarGateway>();

    private IExpiryIndex Index => _app.Services.GetRequiredService<IExpiryIndex>();

    private ExpirySweep Sweep => _app.Services.GetRequiredService<ExpirySweep>();

    /// <summary>Moves the one clock of the app and the emulator to a time of the script.</summary>
    private void Now(DateTimeOffset at) => _clock.AdjustTime(at);

    private Task<GrantOutcome> GrantAsync(string customer, string grantId, decimal units, DateTimeOffset expiresAt) =>
        _app.Services.GetRequiredService<GrantService>().GrantAsync(
            new CreditGrant(new GrantId(grantId), CustomerRef.External(customer, $"{customer}@credits.dev"), units, Meter, "promo", "test", expiresAt));

    private async Task UseAsync(string customer, decimal units)
    {
        var report = await Polar.IngestAsync([new PolarEvent("api_usage", null, customer, null, null,
            new Dictionary<string, JsonElement> { ["units"] = PolarMetadata.Number(units) })]);
        Assert.Equal(0, report.Rejected);
    }

    private async Task<decimal> BalanceAsync(string customer) =>
        (await _app.Services.GetRequiredService<BalanceService>().GetBalanceAsync(customer, Meter)).Balance;

    /// <summary>The customer's ledger as the HTTP API and the CLI print it (its notes included).</summary>
    private async Task<CustomerLedgerJson> LedgerPageAsync(string customer) =>
        LedgerJson.Page(await _app.Services.GetRequiredService<LedgerReader>().ReadAsync(customer, Meter), [], null, 10);

    private async Task<LedgerGrant> LedgerGrantAsync(string customer, string grantId) =>
        (await _app.Services.GetRequiredService<LedgerReader>().ReadAsync(customer, Meter)).Find(grantId)!;

    private async Task<IReadOnlyList<RecordedEvent>> ExpiryEventsAsync(string grantId) =>
        (await Polar.FindEventsByMetadataAsync(GrantMetadata.GrantId, [GrantMetadata.CompensationId(CompensationKind.Expired, grantId).Value]))
        .Events.GetValueOrDefault(GrantMetadata.CompensationId(CompensationKind.Expired, grantId).Value) ?? [];

    [Fact]
    public async Task Before_its_expiry_is_sent_an_expired_grant_says_its_unspent_units_still_count_in_the_balance()
    {
        Now(At(10, 10));
        await GrantAsync("eve", "eve-promo", 50, At(12));
        Now(At(11, 20));
        await UseAsync("eve", 30);
        Now(At(12, 2));

        var ledger = await LedgerPageAsync("eve");

        var grant = Assert.Single(ledger.Grants);
        Assert.Equal(("expired", 20m, (decimal?)null), (grant.Status, grant.Units - grant.Spent, grant.TakenBack));
        Assert.Equal(20m, await BalanceAsync("eve"));
        Assert.Contains(ledger.Notes, n => n.StartsWith("Grant eve-promo expired at 2026-11-02T12:00:00Z with 20 units unspent: they count in Polar's balance",
            StringComparison.Ordinal));

        Now(At(12, 10));
        await Sweep.RunAsync();
        var after = await LedgerPageAsync("eve");
        Assert.DoesNotContain(after.Notes, n => n.StartsWith("Grant eve-promo", StringComparison.Ordinal));
        Assert.Equal(0m, await BalanceAsync("eve"));
    }

    [Fact]
    public async Task An_expiry_on_the_hour_takes_back_what_usage_before_it_left_and_usage_after_it_spends_no_expired_credit()
    {
        Now(At(10, 10));
        await GrantAsync("ada", "ada-promo", 100, At(12));
        Now(At(11, 20));
        await UseAsync("ada", 30);
        Now(At(11, 59));
        await UseAsync("ada", 10);
        Now(At(12, 0));
        await UseAsync("ada", 5);
        Now(At(12, 40));
        await UseAsync("ada", 20);
        Now(At(13, 10));

        var result = await Sweep.RunAsync();

        var expired = Assert.Single(result.Expiries);
        Assert.Equal((ExpiryStatus.Expired, 60m), (expired.Status, expired.UnitsTakenBack));
        var grant = await LedgerGrantAsync("ada", "ada-promo");
        Assert.Equal((LedgerStatus.Expired, 40m, 60m, At(12)), (grant.Status, grant.Spent, grant.TakenBack, grant.ClosedAt));
        Assert.Equal(At(12), Assert.Single(await ExpiryEventsAsync("ada-promo")).Timestamp);
        Assert.Equal(-25m, await BalanceAsync("ada"));
        Assert.Empty(await Index.DueAsync(At(23), 10));
    }

    [Fact]
    public async Task An_expiry_inside_an_hour_takes_effect_at_its_end_so_usage_up_to_then_spends_the_grant()
    {
        Now(At(10, 10));
        var outcome = await GrantAsync("bea", "bea-promo", 100, At(11, 15));
        Now(At(11, 40));
        await UseAsync("bea", 30);
        Now(At(12, 4));

        var early = await Sweep.RunAsync();
        Now(At(12, 6));
        var result = await Sweep.RunAsync();

        Assert.Equal(At(12), GrantExpiry.TakesEffectAt(outcome.ExpiresAt!.Value));
        Assert.Empty(early.Expiries);
        Assert.Equal((ExpiryStatus.Expired, 70m), (Assert.Single(result.Expiries).Status, result.UnitsTakenBack));
        Assert.Equal(0m, await BalanceAsync("bea"));
    }

    [Fact]
    public async Task With_Polars_own_credits_present_usage_spends_the_expiring_grant_first_and_the_credits_stay()
    {
        Now(At(10, 10));
        await GrantAsync("cat", "cat-promo", 100, At(11, 45));
        Now(At(10, 30));
        await SubscribeAsync("cat", 100);
        Now(At(11, 20));
        await UseAsync("cat", 30);
        Now(At(12, 30));
        await UseAsync("cat", 50);
        Now(At(13, 10));

        var result = await Sweep.RunAsync();

        Assert.Equal(70m, Assert.Single(result.Expiries).UnitsTakenBack);
        Assert.Equal(50m, await BalanceAsync("cat"));
        var credit = Assert.Single((await _app.Services.GetRequiredService<LedgerReader>().ReadAsync("cat", Meter)).Grants, g => g.PolarCredit);
        Assert.Equal((LedgerStatus.PartlyUsed, 50m), (credit.Status, credit.Remaining));
    }

    [Fact]
    public async Task A_reset_between_grant_and_expiry_wiped_the_grant_so_the_expiry_takes_nothing_back_and_sends_nothing()
    {
        Now(At(10, 10));
        await GrantAsync("dan", "dan-promo", 100, At(12));
        Now(At(10, 20));
        var subscription = await SubscribeAsync("dan", 10);
        Now(At(11, 0));
        await UseAsync("dan", 5);
        Now(At(11, 30));
        await CycleAsync(subscription);
        Now(At(12, 10));

        var result = await Sweep.RunAsync();

        Assert.Equal(ExpiryStatus.WipedByReset, Assert.Single(result.Expiries).Status);
        Assert.Empty(await ExpiryEventsAsync("dan-promo"));
        Assert.Equal(LedgerStatus.WipedByReset, (await LedgerGrantAsync("dan", "dan-promo")).Status);
        Assert.Empty(await Index.DueAsync(At(23), 10));
    }

    [Fact]
    public async Task A_reset_after_the_expiry_took_effect_but_before_the_sweep_sends_no_expiry_into_the_window_after_it()
    {
        Now(At(10, 10));
        await GrantAsync("fay", "fay-promo", 100, At(12));
        Now(At(10, 20));
        var subscription = await SubscribeAsync("fay", 10);
        Now(At(12, 2));
        await CycleAsync(subscription);
        Now(At(12, 10));

        var result = await Sweep.RunAsync();

        var expiry = Assert.Single(result.Expiries);
        Assert.Equal(ExpiryStatus.WipedByReset, expiry.Status);
        Assert.Contains("after the expiry took effect and before it was sent", expiry.Note, StringComparison.Ordinal);
        Assert.Empty(await ExpiryEventsAsync("fay-promo"));
        // Polar's 10 credited units of the new cycle are untouched.
        Assert.Equal(10m, await BalanceAsync("fay"));
        Assert.Empty(await Index.DueAsync(At(23), 10));
    }

    [Fact]
    public async Task A_grant_the_event_store_does_not_show_yet_waits_in_the_index_for_the_next_run()
    {
        await StartAsync(eventStoreLag: TimeSpan.FromHours(6));
        Now(At(10, 10));
        await GrantAsync("eve", "eve-promo", 40, At(11));
        Now(At(11, 10));

        var lagging = await Sweep.RunAsync();
        _app.Emulator.CatchUp();
        var caughtUp = await Sweep.RunAsync();

        Assert.Equal(ExpiryStatus.Waiting, Assert.Single(lagging.Expiries).Status);
        Assert.Equal((ExpiryStatus.Expired, 40m), (Assert.Single(caughtUp.Expiries).Status, caughtUp.UnitsTakenBack));
    }

    [Fact]
    public async Task A_repeated_run_takes_back_nothing_twice_even_after_a_crash_before_the_index_forgot_the_entry()
    {
        Now(At(10, 10));
        await GrantAsync("fay", "fay-promo", 100, At(11));
        var entries = await Index.DueAsync(At(11), 10);
        Now(At(11, 10));
        await Sweep.RunAsync();

        var again = await Sweep.RunAsync();
        await Index.AddAsync(entries);
        var afterCrash = await Sweep.RunAsync();

        Assert.Empty(again.Expiries);
        Assert.Equal(ExpiryStatus.AlreadyExpired, Assert.Single(afterCrash.Expiries).Status);
        Assert.Single(await ExpiryEventsAsync("fay-promo"));
        Assert.Equal(0m, await BalanceAsync("fay"));
        Assert.Empty(await Index.DueAsync(At(23), 10));
    }

    [Fact]
    public async Task A_grant_revoked_before_its_expiry_is_not_expired()
    {
        Now(At(10, 10));
        await GrantAsync("gus", "gus-promo", 100, At(12));
        Now(At(10, 30));
        await _app.Services.GetRequiredService<GrantRevocation>().RevokeAsync(new RevokeRequest("gus-promo", "wrong customer"));
        Now(At(12, 10));

        var result = await Sweep.RunAsync();

        Assert.Equal(ExpiryStatus.Revoked, Assert.Single(result.Expiries).Status);
        Assert.Empty(await ExpiryEventsAsync("gus-promo"));
        Assert.Equal(0m, await BalanceAsync("gus"));
    }

    [Fact]
    public async Task An_entry_whose_grant_never_reached_Polar_waits_a_while_then_is_forgotten()
    {
        Now(At(10, 10));
        await Index.AddAsync([new DueExpiry("never-sent", "hal", null, Meter, 10, At(11), At(10, 10))]);
        Now(At(11, 10));

        var soon = await Sweep.RunAsync();
        Now(At(11, 10).AddDays(1));
        var later = await Sweep.RunAsync();

        Assert.Equal(ExpiryStatus.Waiting, Assert.Single(soon.Expiries).Status);
        Assert.Equal(ExpiryStatus.NeverGranted, Assert.Single(later.Expiries).Status);
        Assert.Empty(await Index.DueAsync(At(23).AddDays(2), 10));
    }

    [Fact]
    public async Task An_entry_at_another_hour_than_the_grants_event_is_moved_to_the_events_hour()
    {
        Now(At(10, 10));
        await GrantAsync("ida", "ida-promo", 100, At(14));
        // A retried request with another expiresIn recorded an earlier hour for the same grant id.
        await Index.AddAsync([new DueExpiry("ida-promo", "ida", null, Meter, 100, At(11), At(10, 10))]);
        Now(At(11, 10));

        var result = await Sweep.RunAsync();

        Assert.Equal(ExpiryStatus.Rescheduled, Assert.Single(result.Expiries).Status);
        Assert.Equal([At(14)], (await Index.DueAsync(At(23), 10)).Select(e => e.TakesEffectAt));
        Assert.Empty(await ExpiryEventsAsync("ida-promo"));
    }

    [Fact]
    public async Task A_grant_made_by_Polar_customer_id_is_expired_through_the_customers_external_id_and_one_without_any_is_kept_as_failed()
    {
        Now(At(10, 10));
        var jon = await Polar.CreateCustomerAsync(new CustomerCreate("jon@credits.dev", null, "jon"));
        var anonymous = await Polar.CreateCustomerAsync(new CustomerCreate("kim@credits.dev", null, null));
        foreach (var (customer, grantId) in new[] { (jon, "jon-promo"), (anonymous, "kim-promo") })
        {
            await _app.Services.GetRequiredService<GrantService>().GrantAsync(
                new CreditGrant(new GrantId(grantId), CustomerRef.Polar(customer.Id), 30, Meter, null, "campaign:spring", At(11)));
        }

        Now(At(11, 10));
        var result = await Sweep.RunAsync();

        Assert.Equal((ExpiryStatus.Expired, 30m), (result.Expiries.Single(e => e.GrantId == "jon-promo").Status, result.UnitsTakenBack));
        var failed = result.Expiries.Single(e => e.GrantId == "kim-promo");
        Assert.Equal(ExpiryStatus.Failed, failed.Status);
        Assert.Contains("has no external id", failed.Note, StringComparison.Ordinal);
        Assert.Equal(["kim-promo"], (await Index.DueAsync(At(23), 10)).Select(e => e.GrantId));
    }

    [Fact]
    public async Task A_sweep_as_of_a_future_instant_is_refused()
    {
        Now(At(10, 10));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Sweep.RunAsync(At(11)));
    }

    /// <summary>A subscription with a Meter Credit benefit of <paramref name="units"/> on the meter: Polar's own credits, and a reset at each cycle.</summary>
    private async Task<string> SubscribeAsync(string externalId, int units)
    {
        var customer = await Polar.FindCustomerByExternalIdAsync(externalId) ?? throw new InvalidOperationException("no customer " + externalId);
        var meter = (await Polar.FindMeterAsync(Meter))!;
        using var http = Emulator();
        using var subscribed = await http.PostAsync("__emulator/subscriptions",
            new StringContent($$"""{"customer_id":"{{customer.Id}}","meter_id":"{{meter.Id}}","units":{{units}}}""", Encoding.UTF8, "application/json"));
        return JsonDocument.Parse(await subscribed.EnsureSuccessStatusCode().Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
    }

    private async Task CycleAsync(string subscription)
    {
        using var http = Emulator();
        using var cycled = await http.PostAsync($"__emulator/subscriptions/{subscription}/cycle", new ByteArrayContent([]));
        cycled.EnsureSuccessStatusCode();
    }

    private HttpClient Emulator()
    {
        var http = new HttpClient { BaseAddress = _app.Emulator.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _app.Emulator.Token);
        return http;
    }
}
