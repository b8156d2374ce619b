using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using CreditGrants.Customers;

namespace CreditGrants.Storage.Customers;

/// <summary>
/// The customer directory in an Azure table, shared by every instance of the app. Every key starts with the organization's
/// scope (<see cref="Polar.PolarClientOptions.OrganizationScope"/>), so an app pointed at another organization (or given a
/// new token) starts from an empty directory instead of trusting another organization's customers. An entry's row key is
/// the SHA-256 of the external id in hex (external ids may hold characters a key cannot), its partition the scope and the
/// hash's first hex digit (16 partitions, so a page of entries is saved in a few batch transactions); the external id itself
/// is kept and compared on read. The sweep bookkeeping is one row (partition <c>&lt;scope&gt;-sweep</c>) replaced with its ETag.
/// </summary>
/// <param name="table">The table (created when first used).</param>
/// <param name="scope">The organization's scope: letters and digits.</param>
public sealed class TableCustomerDirectoryStore(Func<TableClient> table, string scope) : ICustomerDirectoryStore
{
    private readonly string _sweepPartition = scope + "-sweep";
    private const string SweepRow = "state";
    private const int ReadConcurrency = 32;
    private const int MaxBatch = 100;
    private readonly Lazy<TableClient> _table = new(table);
    private int _created;

    public async Task<IReadOnlyDictionary<string, CustomerDirectoryEntry>> FindAsync(IReadOnlyCollection<string> externalIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(externalIds);
        var client = await TableAsync(cancellationToken).ConfigureAwait(false);
        var found = new System.Collections.Concurrent.ConcurrentDictionary<string, CustomerDirectoryEntry>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(externalIds.Distinct(StringComparer.Ordinal),
            new ParallelOptions { MaxDegreeOfParallelism = ReadConcurrency, CancellationToken = cancellationToken }, async (externalId, ct) =>
            {
                var (partition, row) = Keys(scope, externalId);
                var entity = await client.GetEntityIfExistsAsync<DirectoryEntity>(partition, row, cancellationToken: ct).ConfigureAwait(false);
                if (entity.HasValue && string.Equals(entity.Value!.ExternalId, externalId, StringComparison.Ordinal))
                {
                    found[externalId] = new CustomerDirectoryEntry(externalId, entity.Value.CustomerId, entity.Value.ConfirmedAt);
                }
            }).ConfigureAwait(false);
        return found;
    }

    public async Task SaveAsync(IReadOnlyCollection<CustomerDirectoryEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var client = await TableAsync(cancellationToken).ConfigureAwait(false);
        // One action per entity in a transaction: the last entry of an external id wins.
        var entities = entries.GroupBy(e => e.ExternalId, StringComparer.Ordinal).Select(g => ToEntity(scope, g.Last()));
        foreach (var partition in entities.GroupBy(e => e.PartitionKey, StringComparer.Ordinal))
        {
            foreach (var batch in partition.Chunk(MaxBatch))
            {
                await client.SubmitTransactionAsync(batch.Select(e => new TableTransactionAction(TableTransactionActionType.UpsertReplace, e)), cancellationToken)
                    .ConfigureAwait(false);
            }
        }
    }

    public async Task ForgetAsync(string externalId, CancellationToken cancellationToken = default)
    {
        var client = await TableAsync(cancellationToken).ConfigureAwait(false);
        var (partition, row) = Keys(scope, externalId);
        await client.DeleteEntityAsync(partition, row, ETag.All, cancellationToken).ConfigureAwait(false);
    }

    public async Task<CustomerSweepState> ReadSweepAsync(CancellationToken cancellationToken = default)
    {
        var client = await TableAsync(cancellationToken).ConfigureAwait(false);
        var found = await client.GetEntityIfExistsAsync<SweepEntity>(_sweepPartition, SweepRow, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!found.HasValue)
        {
            return CustomerSweepState.None;
        }

        var entity = found.Value!;
        return new CustomerSweepState(entity.CompletedAt, entity.CustomerCount, entity.CountedAt, entity.SweepingUntil, entity.ETag.ToString())
        {
            ResumeFromPage = entity.ResumeFromPage,
            ResumeStartedAt = entity.ResumeStartedAt,
            FinishedAt = entity.FinishedAt,
        };
    }

    public async Task<bool> TryWriteSweepAsync(CustomerSweepState state, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        var client = await TableAsync(cancellationToken).ConfigureAwait(false);
        var entity = new SweepEntity
        {
            PartitionKey = _sweepPartition,
            RowKey = SweepRow,
            CompletedAt = state.CompletedAt,
            CustomerCount = state.CustomerCount,
            CountedAt = state.CountedAt,
            SweepingUntil = state.SweepingUntil,
            ResumeFromPage = state.ResumeFromPage,
            ResumeStartedAt = state.ResumeStartedAt,
            FinishedAt = state.FinishedAt,
        };
        try
        {
            if (expectedVersion is null)
            {
                await client.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await client.UpdateEntityAsync(entity, new ETag(expectedVersion), TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            }

            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return false;
        }
    }

    /// <summary>The partition and row key of an external id's entry in an organization's scope.</summary>
    public static (string Partition, string Row) Keys(string scope, string externalId)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(externalId)));
        return ($"{scope}-c{hash[0]}", hash);
    }

    private static DirectoryEntity ToEntity(string scope, CustomerDirectoryEntry entry)
    {
        var (partition, row) = Keys(scope, entry.ExternalId);
        return new DirectoryEntity { PartitionKey = partition, RowKey = row, ExternalId = entry.ExternalId, CustomerId = entry.CustomerId, ConfirmedAt = entry.ConfirmedAt };
    }

    private async Task<TableClient> TableAsync(CancellationToken cancellationToken)
    {
        var client = _table.Value;
        if (Volatile.Read(ref _created) == 0)
        {
            await client.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _created, 1);
        }

        return client;
    }

    /// <summary>One external id's entry.</summary>
    public sealed class DirectoryEntity : ITableEntity
    {
        public string PartitionKey { get; set; } = "";
        public string RowKey { get; set; } = "";
        public DateTimeOffset? Timestamp { get; set; }
        public ETag ETag { get; set; }
        public string ExternalId { get; set; } = "";
        public Guid? CustomerId { get; set; }
        public DateTimeOffset ConfirmedAt { get; set; }
    }

    /// <summary>The sweep bookkeeping row.</summary>
    public sealed class SweepEntity : ITableEntity
    {
        public string PartitionKey { get; set; } = "";
        public string RowKey { get; set; } = "";
        public DateTimeOffset? Timestamp { get; set; }
        public ETag ETag { get; set; }
        public DateTimeOffset? CompletedAt { get; set; }
        public long? CustomerCount { get; set; }
        public DateTimeOffset? CountedAt { get; set; }
        public DateTimeOffset? SweepingUntil { get; set; }
        public int? ResumeFromPage { get; set; }
        public DateTimeOffset? ResumeStartedAt { get; set; }
        public DateTimeOffset? FinishedAt { get; set; }
    }
}
