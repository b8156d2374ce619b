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

    [Fact]
    public async Task A_file_written_before_sweeps_had_checkpoints_gets_their_columns_and_keeps_its_entries()
    {
        var path = Path.Combine(_folder, "customers", "old.db");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using (var old = new SqliteConnection($"Data Source={path}"))
        {
            await old.OpenAsync();
            await using var create = old.CreateCommand();
            create.CommandText = """
                CREATE TABLE customers (external_id TEXT NOT NULL PRIMARY KEY, customer_id TEXT NULL, confirmed_at INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE sweep (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), completed_at INTEGER NULL, customer_count INTEGER NULL,
                    counted_at INTEGER NULL, sweeping_until INTEGER NULL, version INTEGER NOT NULL);
                INSERT INTO customers VALUES ('ada', NULL, 638000000000000000);
                INSERT INTO sweep (id, customer_count, version) VALUES (1, 250, 1);
                """;
            await create.ExecuteNonQueryAsync();
        }

        var store = new SqliteCustomerDirectoryStore(path);
        var state = await store.ReadSweepAsync();
        Assert.True(await store.TryWriteSweepAsync(state with { ResumeFromPage = 3, ResumeStartedAt = DateTimeOffset.UnixEpoch }, state.Version));

        Assert.Equal(3, (await store.ReadSweepAsync()).ResumeFromPage);
        Assert.Equal(250, (await store.ReadSweepAsync()).CustomerCount);
        Assert.Single(await store.FindAsync(["ada"]));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
