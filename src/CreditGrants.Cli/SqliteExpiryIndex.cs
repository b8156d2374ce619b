using System.Globalization;
using CreditGrants.Expiry;
using Microsoft.Data.Sqlite;

namespace CreditGrants.Cli;

/// <summary>
/// The CLI's expiry index: a SQLite file in the data folder, one per Polar organization as the customer directory has
/// (<see cref="PathFor"/>), so <c>credits grants expire --due</c> finds the grants that <c>credits grant</c>, <c>bulk run</c> and
/// <c>campaigns run</c> made on this machine. Times are UTC ticks.
/// </summary>
public sealed class SqliteExpiryIndex : IExpiryIndex
{
    /// <summary>The folder of the data folder that holds index files.</summary>
    public const string Folder = "expiries";

    private static readonly string[] Columns = ["$grant", "$effect", "$external", "$customer", "$meter", "$units", "$expires", "$recorded"];

    private readonly SqliteDataFile _file;

    /// <summary>Opens (and creates when missing) the index file at <paramref name="path"/>.</summary>
    public SqliteExpiryIndex(string path) => _file = new SqliteDataFile(path, """
        CREATE TABLE IF NOT EXISTS expiries (grant_id TEXT NOT NULL, takes_effect_at INTEGER NOT NULL, external_customer_id TEXT NULL,
            customer_id TEXT NULL, meter TEXT NOT NULL, units TEXT NOT NULL, expires_at INTEGER NOT NULL, recorded_at INTEGER NOT NULL,
            PRIMARY KEY (takes_effect_at, grant_id)) WITHOUT ROWID;
        """);

    /// <summary>The index file of an organization, named as its customer directory file is (<c>embedded.db</c>, <c>org-…db</c>).</summary>
    public static string PathFor(string dataFolder, string server, string? token, bool embedded) =>
        Path.Combine(dataFolder, Folder, Path.GetFileName(SqliteCustomerDirectoryStore.PathFor(dataFolder, server, token, embedded)));

    public Task AddAsync(IReadOnlyCollection<DueExpiry> expiries, CancellationToken cancellationToken = default) =>
        WriteAsync(expiries, "INSERT OR REPLACE INTO expiries (grant_id, takes_effect_at, external_customer_id, customer_id, meter, units, expires_at, recorded_at) "
            + "VALUES ($grant, $effect, $external, $customer, $meter, $units, $expires, $recorded)", (p, expiry) =>
            {
                p["$external"].Value = (object?)expiry.ExternalCustomerId ?? DBNull.Value;
                p["$customer"].Value = expiry.CustomerId is { } id ? id.ToString("D") : DBNull.Value;
                p["$meter"].Value = expiry.Meter;
                p["$units"].Value = expiry.Units.ToString(CultureInfo.InvariantCulture);
                p["$expires"].Value = expiry.ExpiresAt.UtcTicks;
                p["$recorded"].Value = expiry.RecordedAt.UtcTicks;
            }, cancellationToken);

    public async Task<IReadOnlyList<DueExpiry>> DueAsync(DateTimeOffset at, int max, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT grant_id, external_customer_id, customer_id, meter, units, expires_at, recorded_at FROM expiries "
            + "WHERE takes_effect_at <= $at ORDER BY takes_effect_at, grant_id LIMIT $max";
        command.Parameters.AddWithValue("$at", at.UtcTicks);
        command.Parameters.AddWithValue("$max", max);
        var due = new List<DueExpiry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            due.Add(new DueExpiry(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : Guid.Parse(reader.GetString(2), CultureInfo.InvariantCulture), reader.GetString(3),
                decimal.Parse(reader.GetString(4), CultureInfo.InvariantCulture), FromTicks(reader.GetInt64(5)), FromTicks(reader.GetInt64(6))));
        }

        return due;
    }

    public Task RemoveAsync(IReadOnlyCollection<DueExpiry> expiries, CancellationToken cancellationToken = default) =>
        WriteAsync(expiries, "DELETE FROM expiries WHERE grant_id = $grant AND takes_effect_at = $effect", (_, _) => { }, cancellationToken);

    /// <summary>Runs one statement per expiry in one transaction; <c>$grant</c> and <c>$effect</c> are bound, <paramref name="bind"/> binds the rest.</summary>
    private async Task WriteAsync(IReadOnlyCollection<DueExpiry> expiries, string sql, Action<IReadOnlyDictionary<string, SqliteParameter>, DueExpiry> bind,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expiries);
        if (expiries.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var parameters = Columns.Where(n => sql.Contains(n, StringComparison.Ordinal))
            .ToDictionary(n => n, n => command.Parameters.AddWithValue(n, DBNull.Value), StringComparer.Ordinal);
        foreach (var expiry in expiries)
        {
            parameters["$grant"].Value = expiry.GrantId;
            parameters["$effect"].Value = expiry.TakesEffectAt.UtcTicks;
            bind(parameters, expiry);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) => _file.OpenAsync(cancellationToken);

    private static DateTimeOffset FromTicks(long ticks) => new(ticks, TimeSpan.Zero);
}
