using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using CreditGrants.Expiry;

namespace CreditGrants.Storage.Expiry;

/// <summary>
/// The app's expiry index in an Azure Table: the partition is the UTC hour an expiry takes effect at (<c>yyyyMMddHH</c>), so the
/// grants of one file or campaign occurrence share partitions and are written 100 to a transaction, and the sweep reads the due
/// ones with one range query (<c>PartitionKey le</c> the hour) however many expiries are to come. The row key is the SHA-256 of
/// the grant id (ids may hold characters table keys refuse); the grant id itself is a column.
/// </summary>
public sealed class TableExpiryIndex(Func<TableClient> table) : IExpiryIndex
{
    /// <summary>The most operations a table transaction takes.</summary>
    private const int TransactionSize = 100;

    private readonly Lazy<TableClient> _table = new(table);
    private volatile bool _created;

    public TableClient Table => _table.Value;

    /// <summary>The partition of an hour: its UTC time as <c>yyyyMMddHH</c>, which sorts as the hours do.</summary>
    public static string Partition(DateTimeOffset hour) => hour.UtcDateTime.ToString("yyyyMMddHH", CultureInfo.InvariantCulture);

    /// <summary>The row key of a grant id: 64 hex digits of its SHA-256.</summary>
    public static string RowKey(string grantId) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(grantId)));

    public async Task AddAsync(IReadOnlyCollection<DueExpiry> expiries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expiries);
        await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        await SubmitAsync(expiries, e => new TableTransactionAction(TableTransactionActionType.UpsertReplace, Entity(e)), cancellationToken)
            .ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<DueExpiry>> DueAsync(DateTimeOffset at, int max, CancellationToken cancellationToken = default)
    {
        var due = new List<DueExpiry>();
        var last = Partition(at);
        try
        {
            // Partitions sort as hours do, so one query walks the due hours in order; an hour's expiry takes effect at its start.
            await foreach (var entity in Table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey le {last}"), maxPerPage: 1000,
                               cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                var expiry = FromEntity(entity);
                if (expiry.TakesEffectAt <= at)
                {
                    due.Add(expiry);
                }

                if (due.Count >= max)
                {
                    break;
                }
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: no grant that expires has been made on this account.
        }

        return due;
    }

    public Task RemoveAsync(IReadOnlyCollection<DueExpiry> expiries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expiries);
        return SubmitAsync(expiries, e => new TableTransactionAction(TableTransactionActionType.Delete,
            new TableEntity(Partition(e.TakesEffectAt), RowKey(e.GrantId)), ETag.All), cancellationToken);
    }

    private async Task SubmitAsync(IReadOnlyCollection<DueExpiry> expiries, Func<DueExpiry, TableTransactionAction> action, CancellationToken cancellationToken)
    {
        // A transaction holds one partition and each row once.
        foreach (var partition in expiries.DistinctBy(e => (e.TakesEffectAt, e.GrantId)).GroupBy(e => Partition(e.TakesEffectAt)))
        {
            foreach (var batch in partition.Chunk(TransactionSize))
            {
                try
                {
                    await Table.SubmitTransactionAsync(batch.Select(action), cancellationToken).ConfigureAwait(false);
                }
                catch (TableTransactionFailedException ex) when (ex.Status == 404)
                {
                    // A delete of a row already gone fails the whole transaction: delete the rest one by one.
                    foreach (var one in batch)
                    {
                        await DeleteIfExistsAsync(one, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
    }

    private async Task DeleteIfExistsAsync(DueExpiry expiry, CancellationToken cancellationToken)
    {
        try
        {
            await Table.DeleteEntityAsync(Partition(expiry.TakesEffectAt), RowKey(expiry.GrantId), ETag.All, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Gone already.
        }
    }

    private async Task EnsureCreatedAsync(CancellationToken cancellationToken)
    {
        if (!_created)
        {
            await Table.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
            _created = true;
        }
    }

    private static TableEntity Entity(DueExpiry expiry) => new(Partition(expiry.TakesEffectAt), RowKey(expiry.GrantId))
    {
        ["GrantId"] = expiry.GrantId,
        ["ExternalCustomerId"] = expiry.ExternalCustomerId,
        ["CustomerId"] = expiry.CustomerId,
        ["Meter"] = expiry.Meter,
        ["Units"] = expiry.Units.ToString(CultureInfo.InvariantCulture),
        ["ExpiresAt"] = expiry.ExpiresAt,
        ["RecordedAt"] = expiry.RecordedAt,
    };

    private static DueExpiry FromEntity(TableEntity entity) => new(
        entity.GetString("GrantId"),
        entity.GetString("ExternalCustomerId"),
        entity.GetGuid("CustomerId"),
        entity.GetString("Meter"),
        decimal.Parse(entity.GetString("Units"), CultureInfo.InvariantCulture),
        entity.GetDateTimeOffset("ExpiresAt")!.Value,
        entity.GetDateTimeOffset("RecordedAt")!.Value);
}
