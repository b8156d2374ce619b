using System.ComponentModel.DataAnnotations;
using Azure;
using Azure.Data.Tables;
using CreditGrants.Polar.Budget;

namespace CreditGrants.Storage.Budget;

/// <summary>Settings of the request budget shared through storage; bound from the <c>PolarBudget</c> section.</summary>
public sealed class PolarBudgetOptions
{
    public const string SectionName = "PolarBudget";

    /// <summary>Whether the processes of the app count Polar requests together in <see cref="Table"/> (on in Azure).</summary>
    public bool Enabled { get; set; }

    /// <summary>The table of the shared count: one row per minute of the hour, reused every hour.</summary>
    [Required]
    public string Table { get; set; } = "polarbudget";
}

/// <summary>
/// The shared request budget in an Azure table: 60 rows (partition <c>polar-requests</c>, row key the minute of the hour),
/// each holding the window it counts and the permits taken in it. Permits are taken with optimistic concurrency (ETags):
/// a read, then a replace that fails when another process wrote in between, and is then tried again.
/// </summary>
public sealed class TableRequestBudgetStore(Func<TableClient> table) : IRequestBudgetStore
{
    private const string Partition = "polar-requests";
    private const int MaxAttempts = 50;
    private readonly Lazy<TableClient> _table = new(table);
    private int _created;

    public async Task<int> TakeAsync(DateTimeOffset window, int wanted, int ceiling, CancellationToken cancellationToken)
    {
        var client = _table.Value;
        if (Interlocked.Exchange(ref _created, 1) == 0)
        {
            await client.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
        }

        var key = window.UtcDateTime.Minute.ToString("D2", System.Globalization.CultureInfo.InvariantCulture);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var found = await client.GetEntityIfExistsAsync<BudgetWindowEntity>(Partition, key, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!found.HasValue)
            {
                var grant = Math.Min(wanted, ceiling);
                try
                {
                    await client.AddEntityAsync(new BudgetWindowEntity { PartitionKey = Partition, RowKey = key, Window = window, Taken = grant },
                        cancellationToken).ConfigureAwait(false);
                    return grant;
                }
                catch (RequestFailedException ex) when (ex.Status == 409)
                {
                    continue;
                }
            }

            var entity = found.Value!;
            if (entity.Window > window)
            {
                // Another process's clock is ahead and has moved this row to a later hour's window: ours is over.
                return 0;
            }

            if (entity.Window < window)
            {
                (entity.Window, entity.Taken) = (window, 0);
            }

            var granted = Math.Min(wanted, ceiling - entity.Taken);
            if (granted <= 0)
            {
                return 0;
            }

            entity.Taken += granted;
            try
            {
                await client.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                return granted;
            }
            catch (RequestFailedException ex) when (ex.Status == 412)
            {
                // Another process took permits in between: read the count again.
            }
        }

        throw new InvalidOperationException($"The shared request budget stayed contended for {MaxAttempts} attempts.");
    }

    /// <summary>One minute's count.</summary>
    internal sealed class BudgetWindowEntity : ITableEntity
    {
        public string PartitionKey { get; set; } = "";
        public string RowKey { get; set; } = "";
        public DateTimeOffset? Timestamp { get; set; }
        public ETag ETag { get; set; }

        /// <summary>The first instant of the window this row counts now.</summary>
        public DateTimeOffset Window { get; set; }

        /// <summary>Permits taken in that window by every process.</summary>
        public int Taken { get; set; }
    }
}
