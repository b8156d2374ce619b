using CreditGrants.Customers;
using Xunit;

namespace CreditGrants.Tests.Contracts;

/// <summary>
/// What every <see cref="ICustomerDirectoryStore"/> must do when several instances (of the app, of the CLI) share one storage:
/// concurrent writers lose no entry and never leave an entry naming another external id's customer, and sweep bookkeeping
/// written against a stale version fails (optimistic concurrency). Linked into the test projects of each store.
/// </summary>
public abstract class CustomerDirectoryStoreContract
{
    private static readonly DateTimeOffset Confirmed = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A new store instance over the test's one storage (a table, a file): two calls are two writers.</summary>
    protected abstract ICustomerDirectoryStore NewStore();

    /// <summary>External ids whose characters a key or a query could trip on, each held by its own customer.</summary>
    private static readonly (string ExternalId, Guid CustomerId)[] Customers =
        [.. Enumerable.Range(0, 300).Select(i => ($"user/{i}#'?\"{(i % 7 == 0 ? " Ü" : "")}", Guid.NewGuid()))];

    [Fact]
    public async Task Concurrent_writers_of_overlapping_entries_lose_nothing_and_never_name_another_customer()
    {
        var stores = new[] { NewStore(), NewStore() };

        // 24 writers, alternating between the two store instances, each saving an overlapping window of 60 entries in batches
        // of 20 (ten windows overlap every entry); some confirm later than others.
        await Task.WhenAll(Enumerable.Range(0, 24).Select(w => Task.Run(async () =>
        {
            var window = Enumerable.Range(w * 12, 60).Select(i => Customers[i % Customers.Length]);
            foreach (var batch in window.Chunk(20))
            {
                await stores[w % 2].SaveAsync([.. batch.Select(c => new CustomerDirectoryEntry(c.ExternalId, c.CustomerId, Confirmed.AddSeconds(w)))]);
            }
        })));

        foreach (var store in stores)
        {
            var found = await store.FindAsync([.. Customers.Select(c => c.ExternalId)]);
            Assert.Equal(Customers.Length, found.Count);
            Assert.All(Customers, c =>
            {
                var entry = found[c.ExternalId];
                Assert.Equal((c.ExternalId, (Guid?)c.CustomerId), (entry.ExternalId, entry.CustomerId));
            });
        }
    }

    [Fact]
    public async Task An_entry_is_replaced_by_its_external_id_and_forgotten_on_its_own()
    {
        var store = NewStore();
        var (externalId, first) = Customers[1];
        var (other, otherId) = Customers[2];
        var second = Guid.NewGuid();
        await store.SaveAsync([new CustomerDirectoryEntry(externalId, first, Confirmed), new CustomerDirectoryEntry(other, otherId, Confirmed)]);
        await NewStore().SaveAsync([new CustomerDirectoryEntry(externalId, second, Confirmed.AddMinutes(1))]);
        var replaced = await store.FindAsync([externalId]);

        await store.ForgetAsync(externalId);
        await store.ForgetAsync("never-saved");

        var entry = Assert.Single(replaced).Value;
        Assert.Equal(((Guid?)second, Confirmed.AddMinutes(1)), (entry.CustomerId, entry.ConfirmedAt));
        Assert.Empty(await NewStore().FindAsync([externalId]));
        Assert.Equal(otherId, (await store.FindAsync([other]))[other].CustomerId);
    }

    [Fact]
    public async Task An_entry_without_a_customer_id_round_trips()
    {
        var store = NewStore();
        await store.SaveAsync([new CustomerDirectoryEntry("exists-unnamed", null, Confirmed)]);

        var entry = Assert.Single(await NewStore().FindAsync(["exists-unnamed", "absent"])).Value;

        Assert.Equal(("exists-unnamed", (Guid?)null, Confirmed), (entry.ExternalId, entry.CustomerId, entry.ConfirmedAt));
    }

    [Fact]
    public async Task Sweep_state_written_with_a_stale_version_fails()
    {
        var (a, b) = (NewStore(), NewStore());
        Assert.Equal(CustomerSweepState.None, await a.ReadSweepAsync());
        var claim = new CustomerSweepState(null, 250, Confirmed, Confirmed.AddMinutes(5), null);

        Assert.True(await a.TryWriteSweepAsync(claim, expectedVersion: null));
        Assert.False(await b.TryWriteSweepAsync(claim, expectedVersion: null)); // someone stored a state first

        var readByA = await a.ReadSweepAsync();
        var readByB = await b.ReadSweepAsync();
        Assert.Equal(readByA.Version, readByB.Version);
        Assert.Equal(claim with { Version = readByA.Version }, readByA);

        Assert.True(await a.TryWriteSweepAsync(readByA with { SweepingUntil = null, CompletedAt = Confirmed }, readByA.Version));
        Assert.False(await b.TryWriteSweepAsync(readByB with { SweepingUntil = Confirmed.AddHours(1) }, readByB.Version));

        var final = await b.ReadSweepAsync();
        Assert.Equal((Confirmed, (DateTimeOffset?)null), (final.CompletedAt, final.SweepingUntil));
        Assert.NotEqual(readByA.Version, final.Version);
    }

    [Fact]
    public async Task A_sweeps_checkpoint_and_finish_time_are_kept_so_that_another_instance_or_run_continues_it()
    {
        var (a, b) = (NewStore(), NewStore());
        var checkpoint = new CustomerSweepState(null, 2_600, Confirmed, Confirmed.AddMinutes(5), null)
        {
            ResumeFromPage = 12,
            ResumeStartedAt = Confirmed,
            FinishedAt = Confirmed.AddMinutes(-30),
        };

        Assert.True(await a.TryWriteSweepAsync(checkpoint, expectedVersion: null));
        var read = await b.ReadSweepAsync();

        Assert.Equal((12, Confirmed, Confirmed.AddMinutes(-30)), (read.ResumeFromPage, read.ResumeStartedAt, read.FinishedAt));
        Assert.True(await b.TryWriteSweepAsync(read with { ResumeFromPage = null, ResumeStartedAt = null }, read.Version));
        Assert.Null((await a.ReadSweepAsync()).ResumeFromPage);
    }

    [Fact]
    public async Task Of_many_claims_against_one_version_exactly_one_wins()
    {
        var stores = Enumerable.Range(0, 4).Select(_ => NewStore()).ToList();
        Assert.True(await stores[0].TryWriteSweepAsync(CustomerSweepState.None, null));
        var state = await stores[0].ReadSweepAsync();

        var won = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(() =>
            stores[i % stores.Count].TryWriteSweepAsync(state with { SweepingUntil = Confirmed.AddSeconds(i) }, state.Version))));

        Assert.Equal(1, won.Count(w => w));
    }
}
