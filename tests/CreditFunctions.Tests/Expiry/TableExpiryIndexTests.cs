using CreditFunctions.Tests.Bulk;
using CreditGrants.Expiry;
using CreditGrants.Storage;
using CreditGrants.Storage.Expiry;
using CreditGrants.Tests.Contracts;

namespace CreditFunctions.Tests.Expiry;

/// <summary>The app's expiry index in a table on Azurite: the index contract, one table per test.</summary>
public sealed class TableExpiryIndexTests : ExpiryIndexContract, IAsyncLifetime
{
    private readonly List<TableExpiryIndex> _indexes = [];

    protected override IExpiryIndex NewIndex()
    {
        var name = "expiries" + Guid.NewGuid().ToString("N")[..16];
        var index = new TableExpiryIndex(() => StorageAccount.FromConnectionString(BulkApp.StorageConnection).Tables.GetTableClient(name));
        _indexes.Add(index);
        return index;
    }

    [Fact]
    public void Partitions_sort_as_the_hours_do()
    {
        Assert.Equal("2026120509", TableExpiryIndex.Partition(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.FromHours(1))));
        Assert.True(string.CompareOrdinal(TableExpiryIndex.Partition(new DateTimeOffset(2026, 12, 31, 23, 0, 0, TimeSpan.Zero)),
            TableExpiryIndex.Partition(new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero))) < 0);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var index in _indexes)
        {
            await index.Table.DeleteAsync();
        }
    }
}
