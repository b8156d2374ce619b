using Azure.Data.Tables;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Storage.Budget;

namespace CreditFunctions.Tests.Budget;

/// <summary>The shared request budget's table on Azurite, written by several processes at once.</summary>
public sealed class TableRequestBudgetStoreTests : IAsyncLifetime
{
    private readonly string _table = "budget" + Guid.NewGuid().ToString("N")[..12];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await new TableClient(BulkApp.StorageConnection, _table).DeleteAsync();

    private TableRequestBudgetStore Store() => new(() => new TableClient(BulkApp.StorageConnection, _table));

    [Fact]
    public async Task Three_processes_taking_at_once_share_one_count_and_never_pass_the_ceiling()
    {
        var window = new DateTimeOffset(2026, 11, 30, 9, 14, 0, TimeSpan.Zero);
        var stores = Enumerable.Range(0, 3).Select(_ => Store()).ToList();
        await stores[0].TakeAsync(window, 0, 100, CancellationToken.None);

        // 40 blocks of 3 wanted (120) against a ceiling of 100.
        var taken = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => stores[i % 3].TakeAsync(window, 3, 100, CancellationToken.None)));

        Assert.Equal(100, taken.Sum());
        Assert.All(taken, t => Assert.InRange(t, 0, 3));
        Assert.Equal(0, await stores[1].TakeAsync(window, 3, 100, CancellationToken.None));
    }

    [Fact]
    public async Task A_window_of_the_next_hour_reuses_the_minutes_row_from_zero_and_an_older_window_gets_nothing()
    {
        var window = new DateTimeOffset(2026, 11, 30, 9, 15, 0, TimeSpan.Zero);
        var store = Store();
        Assert.Equal(50, await store.TakeAsync(window, 50, 50, CancellationToken.None));

        var nextHour = await store.TakeAsync(window.AddHours(1), 10, 50, CancellationToken.None);
        var late = await store.TakeAsync(window, 10, 100, CancellationToken.None);

        Assert.Equal(10, nextHour);
        Assert.Equal(0, late);
    }

    [Fact]
    public async Task Background_work_stops_at_its_ceiling_and_interactive_requests_take_the_rest()
    {
        var window = new DateTimeOffset(2026, 11, 30, 9, 16, 0, TimeSpan.Zero);
        var store = Store();

        var background = await store.TakeAsync(window, 90, 80, CancellationToken.None);
        var moreBackground = await store.TakeAsync(window, 5, 80, CancellationToken.None);
        var interactive = await store.TakeAsync(window, 30, 100, CancellationToken.None);

        Assert.Equal((80, 0, 20), (background, moreBackground, interactive));
    }
}
