using System.Globalization;
using CreditGrants.Customers;
using Microsoft.Data.Sqlite;

namespace CreditGrants.Cli;

/// <summary>
/// The CLI's customer directory: a SQLite file in the data folder (one per Polar organization the CLI talks to, see
/// <see cref="PathFor"/>). SQLite's own locking lets runs of <c>credits</c> share it, each writing in short transactions;
/// a writer that finds the file busy waits up to five seconds. Times are stored as UTC ticks.
/// </summary>
public sealed class SqliteCustomerDirectoryStore : ICustomerDirectoryStore
{
    /// <summary>The folder of the data folder that holds directory files.</summary>
    public const string Folder = "customers";

    private readonly SqliteDataFile _file;

    /// <summary>Opens (and creates when missing) the directory file at <paramref name="path"/>.</summary>
    public SqliteCustomerDirectoryStore(string path)
    {
        _file = new SqliteDataFile(path, """
            CREATE TABLE IF NOT EXISTS customers (external_id TEXT NOT NULL PRIMARY KEY, customer_id TEXT NULL, confirmed_at INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS sweep (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), completed_at INTEGER NULL, customer_count INTEGER NULL,
                counted_at INTEGER NULL, sweeping_until INTEGER NULL, version INTEGER NOT NULL);
            """, AddCheckpointColumnsAsync);
    }

    /// <summary>
    /// The directory file of an organization: <c>embedded.db</c> for the embedded emulator, else a name made from the
    /// SHA-256 of the server and token (so two organizations never share a file, and the token is not in the name).
    /// </summary>
    public static string PathFor(string dataFolder, string server, string? token, bool embedded)
    {
        var name = embedded ? "embedded" : "org-" + Polar.PolarClientOptions.Scope(Polar.PolarClientOptions.ResolveServer(server), token ?? "");
        return Path.Combine(dataFolder, Folder, name + ".db");
    }

    public async Task<IReadOnlyDictionary<string, CustomerDirectoryEntry>> FindAsync(IReadOnlyCollection<string> externalIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(externalIds);
        var found = new Dictionary<string, CustomerDirectoryEntry>(StringComparer.Ordinal);
        if (externalIds.Count == 0)
        {
            return found;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        // All ids in one parameter, as a JSON array that SQLite's json_each unrolls: one statement, whatever the count.
        command.CommandText = "SELECT c.external_id, c.customer_id, c.confirmed_at FROM json_each($ids) AS j JOIN customers AS c ON c.external_id = j.value";
        command.Parameters.AddWithValue("$ids", System.Text.Json.JsonSerializer.Serialize(externalIds.Distinct(StringComparer.Ordinal).ToArray(),
            DirectoryJsonContext.Default.StringArray));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var externalId = reader.GetString(0);
            found[externalId] = new CustomerDirectoryEntry(externalId, reader.IsDBNull(1) ? null : Guid.Parse(reader.GetString(1), CultureInfo.InvariantCulture),
                FromTicks(reader.GetInt64(2)));
        }

        return found;
    }

    public async Task SaveAsync(IReadOnlyCollection<CustomerDirectoryEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT OR REPLACE INTO customers (external_id, customer_id, confirmed_at) VALUES ($external, $customer, $confirmed)";
        var external = command.Parameters.Add("$external", SqliteType.Text);
        var customer = command.Parameters.Add("$customer", SqliteType.Text);
        var confirmed = command.Parameters.Add("$confirmed", SqliteType.Integer);
        foreach (var entry in entries)
        {
            external.Value = entry.ExternalId;
            customer.Value = entry.CustomerId is { } id ? id.ToString("D") : DBNull.Value;
            confirmed.Value = entry.ConfirmedAt.UtcTicks;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task ForgetAsync(string externalId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM customers WHERE external_id = $external";
        command.Parameters.AddWithValue("$external", externalId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<CustomerSweepState> ReadSweepAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT completed_at, customer_count, counted_at, sweeping_until, version, resume_from_page, resume_started_at, finished_at FROM sweep WHERE id = 1";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return CustomerSweepState.None;
        }

        return new CustomerSweepState(Time(reader, 0), reader.IsDBNull(1) ? null : reader.GetInt64(1), Time(reader, 2), Time(reader, 3),
            reader.GetInt64(4).ToString(CultureInfo.InvariantCulture))
        {
            ResumeFromPage = reader.IsDBNull(5) ? null : reader.GetInt32(5),
            ResumeStartedAt = Time(reader, 6),
            FinishedAt = Time(reader, 7),
        };
    }

    public async Task<bool> TryWriteSweepAsync(CustomerSweepState state, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = expectedVersion is null
            ? "INSERT OR IGNORE INTO sweep (id, completed_at, customer_count, counted_at, sweeping_until, resume_from_page, resume_started_at, finished_at, version) "
              + "VALUES (1, $completed, $count, $counted, $until, $resume, $resumeStarted, $finished, 1)"
            : "UPDATE sweep SET completed_at = $completed, customer_count = $count, counted_at = $counted, sweeping_until = $until, resume_from_page = $resume, "
              + "resume_started_at = $resumeStarted, finished_at = $finished, version = version + 1 WHERE id = 1 AND version = $version";
        command.Parameters.AddWithValue("$completed", Ticks(state.CompletedAt));
        command.Parameters.AddWithValue("$count", state.CustomerCount is { } count ? count : DBNull.Value);
        command.Parameters.AddWithValue("$counted", Ticks(state.CountedAt));
        command.Parameters.AddWithValue("$until", Ticks(state.SweepingUntil));
        command.Parameters.AddWithValue("$resume", state.ResumeFromPage is { } page ? page : DBNull.Value);
        command.Parameters.AddWithValue("$resumeStarted", Ticks(state.ResumeStartedAt));
        command.Parameters.AddWithValue("$finished", Ticks(state.FinishedAt));
        command.Parameters.AddWithValue("$version", expectedVersion is null ? DBNull.Value : long.Parse(expectedVersion, CultureInfo.InvariantCulture));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => _file.OpenAsync(cancellationToken);

    /// <summary>Files written before sweeps resumed from a checkpoint (issue #19) get the checkpoint's columns.</summary>
    private static async Task AddCheckpointColumnsAsync(SqliteConnection connection)
    {
        foreach (var column in new[] { "resume_from_page", "resume_started_at", "finished_at" })
        {
            await using var probe = connection.CreateCommand();
            probe.CommandText = "SELECT COUNT(*) FROM pragma_table_info('sweep') WHERE name = $name";
            probe.Parameters.AddWithValue("$name", column);
            if (Convert.ToInt64(await probe.ExecuteScalarAsync().ConfigureAwait(false), CultureInfo.InvariantCulture) == 0)
            {
                await using var alter = connection.CreateCommand();
                alter.CommandText = $"ALTER TABLE sweep ADD COLUMN {column} INTEGER NULL";
                await alter.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
        }
    }

    private static object Ticks(DateTimeOffset? at) => at is { } value ? value.UtcTicks : DBNull.Value;

    private static DateTimeOffset? Time(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : FromTicks(reader.GetInt64(ordinal));

    private static DateTimeOffset FromTicks(long ticks) => new(ticks, TimeSpan.Zero);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class DirectoryJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
