using CreditGrants.Cli;
using CreditGrants.Expiry;
using CreditGrants.Tests.Contracts;
using Microsoft.Data.Sqlite;

namespace CreditGrants.Cli.Tests;

/// <summary>The CLI's expiry index in a SQLite file of the data folder: the index contract.</summary>
public sealed class SqliteExpiryIndexTests : ExpiryIndexContract, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("expiry-sqlite-").FullName;

    protected override IExpiryIndex NewIndex() => new SqliteExpiryIndex(Path.Combine(_folder, "expiries", Guid.NewGuid().ToString("N") + ".db"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
