using CreditGrants.Expiry;

namespace CreditGrants.Tests.Contracts;

/// <summary>
/// What every expiry index does (the app's table, the CLI's SQLite file, the one in memory): due entries by the hour their
/// expiry takes effect, soonest first, at most as many as asked; one entry per grant and hour; removal of entries done.
/// </summary>
public abstract class ExpiryIndexContract
{
    protected static readonly DateTimeOffset Recorded = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);

    protected abstract IExpiryIndex NewIndex();

    protected static DueExpiry Entry(string grantId, DateTimeOffset expiresAt, string? externalId = "user-1", Guid? customerId = null) =>
        new(grantId, externalId, customerId, "API Calls", 12.5m, expiresAt, Recorded);

    private static DateTimeOffset At(int hour, int minute = 0) => new(2026, 12, 5, hour, minute, 0, TimeSpan.Zero);

    [Fact]
    public async Task Entries_are_due_once_the_hour_their_expiry_takes_effect_at_has_come()
    {
        var index = NewIndex();
        await index.AddAsync([Entry("inside", At(10, 30)), Entry("on-the-hour", At(10)), Entry("later", At(12))]);

        Assert.Equal(["on-the-hour"], (await index.DueAsync(At(10, 59), 100)).Select(e => e.GrantId));
        Assert.Equal(["on-the-hour", "inside"], (await index.DueAsync(At(11), 100)).Select(e => e.GrantId));
    }

    [Fact]
    public async Task An_entry_reads_back_as_it_was_written()
    {
        var index = NewIndex();
        var byPolarId = Entry("by-id", At(9, 15), externalId: null, customerId: Guid.Parse("3fa85f64-5717-4562-b3fc-2c963f66afa6"));
        await index.AddAsync([Entry("by-external", At(9, 15)), byPolarId]);

        var due = await index.DueAsync(At(11), 100);

        Assert.Equal(Entry("by-external", At(9, 15)), due.Single(e => e.GrantId == "by-external"));
        Assert.Equal(byPolarId, due.Single(e => e.GrantId == "by-id"));
    }

    [Fact]
    public async Task At_most_the_number_asked_for_is_read_soonest_first()
    {
        var index = NewIndex();
        await index.AddAsync([.. Enumerable.Range(0, 5).Select(i => Entry($"g-{i}", At(5 - i)))]);

        Assert.Equal(["g-4", "g-3"], (await index.DueAsync(At(12), 2)).Select(e => e.GrantId));
    }

    [Fact]
    public async Task The_same_grant_and_hour_twice_is_one_entry_and_another_hour_is_another()
    {
        var index = NewIndex();
        await index.AddAsync([Entry("g", At(9, 10))]);
        await index.AddAsync([Entry("g", At(9, 40)), Entry("g", At(11))]);

        var due = await index.DueAsync(At(12), 100);

        Assert.Equal(2, due.Count);
        Assert.Equal([At(10), At(11)], due.Select(e => e.TakesEffectAt));
    }

    [Fact]
    public async Task Removed_entries_are_no_longer_due_and_removing_one_gone_is_no_error()
    {
        var index = NewIndex();
        var entries = Enumerable.Range(0, 150).Select(i => Entry($"g-{i}", At(9))).ToList();
        await index.AddAsync(entries);

        await index.RemoveAsync([.. entries.Take(120)]);
        await index.RemoveAsync([.. entries.Take(110), Entry("never-held", At(9))]);

        Assert.Equal(30, (await index.DueAsync(At(12), 1000)).Count);
    }

    [Fact]
    public async Task An_index_with_nothing_in_it_has_nothing_due()
    {
        Assert.Empty(await NewIndex().DueAsync(At(23), 100));
    }
}
