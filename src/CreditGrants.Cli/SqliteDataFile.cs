using Microsoft.Data.Sqlite;

namespace CreditGrants.Cli;

/// <summary>
/// A SQLite file of the data folder (the customer directory, the expiry index): created with its folder and schema on first
/// use, in WAL mode so that readers go on while one run of <c>credits</c> writes, and opened with a five-second busy
/// timeout so that a writer that finds the file busy waits instead of failing.
/// </summary>
/// <param name="path">The file; its folder is created when missing.</param>
/// <param name="schema">SQL run once per process before the first connection (<c>CREATE TABLE IF NOT EXISTS …</c>).</param>
/// <param name="upgrade">Run once after <paramref name="schema"/> on the same connection: brings files written by earlier
/// versions up to date (columns added since). Null when there is nothing to upgrade.</param>
internal sealed class SqliteDataFile(string path, string schema, Func<SqliteConnection, Task>? upgrade = null)
{
    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, DefaultTimeout = 5, Pooling = true,
    }.ToString();

    private Lazy<Task>? _created;

    /// <summary>An open connection to the file, its schema created first (once per process).</summary>
    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await LazyInitializer.EnsureInitialized(ref _created, () => new Lazy<Task>(CreateAsync)).Value.ConfigureAwait(false);
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    private async Task CreateAsync()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode = WAL;\n" + schema;
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        if (upgrade is not null)
        {
            await upgrade(connection).ConfigureAwait(false);
        }
    }
}
