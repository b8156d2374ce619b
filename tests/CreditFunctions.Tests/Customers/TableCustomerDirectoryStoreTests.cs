using Azure.Data.Tables;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Customers;
using CreditGrants.Storage.Customers;
using CreditGrants.Tests.Contracts;

namespace CreditFunctions.Tests.Customers;

/// <summary>The app's customer directory in an Azure table (Azurite), shared by instances: the store contract, and organization scopes.</summary>
public sealed class TableCustomerDirectoryStoreTests : CustomerDirectoryStoreContract, IAsyncLifetime
{
    private readonly string _table = "customers" + Guid.NewGuid().ToString("N")[..12];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await new TableClient(BulkApp.StorageConnection, _table).DeleteAsync();

    protected override ICustomerDirectoryStore NewStore() => Store("org1");

    private TableCustomerDirectoryStore Store(string scope) => new(() => new TableClient(BulkApp.StorageConnection, _table), scope);

    [Fact]
    public async Task Another_organizations_scope_sees_none_of_the_entries_or_the_sweep()
    {
        await Store("org1").SaveAsync([new CustomerDirectoryEntry("x", Guid.NewGuid(), DateTimeOffset.UtcNow)]);
        Assert.True(await Store("org1").TryWriteSweepAsync(new CustomerSweepState(DateTimeOffset.UtcNow, 1, null, null, null), null));

        Assert.Empty(await Store("org2").FindAsync(["x"]));
        Assert.Equal(CustomerSweepState.None, await Store("org2").ReadSweepAsync());
    }
}
