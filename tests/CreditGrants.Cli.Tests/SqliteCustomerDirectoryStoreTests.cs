using CreditGrants.Cli;
using CreditGrants.Customers;
using CreditGrants.Tests.Contracts;
using Microsoft.Data.Sqlite;

namespace CreditGrants.Cli.Tests;

/// <summary>The CLI's customer directory in a SQLite file of the data folder, shared by runs: the store contract.</summary>
public sealed class SqliteCustomerDirectoryStoreTests : CustomerDirectoryStoreContract, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("directory-sqlite-").FullName;

    protected override ICustomerDirectoryStore NewStore() => new SqliteCustomerDirectoryStore(Path.Combine(_folder, "customers", "org.db"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
