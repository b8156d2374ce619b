using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using CreditGrants.Grants;
using Microsoft.Extensions.Options;

namespace CreditGrants.Storage.Budget;

/// <summary>
/// The grant API's daily caps in an Azure table: partition = the UTC day, one row for the organization and one per customer
/// (keyed by a hash of how the grant names it), each holding the units reserved. Updates use optimistic concurrency, so
/// instances at once never pass a cap together.
/// </summary>
public sealed class TableGrantCaps(Func<TableClient> table, IOptions<GrantCapOptions> options) : IGrantCaps
{
    private const string OrganizationKey = "organization";
    private const int MaxAttempts = 50;
    private readonly Lazy<TableClient> _table = new(table);
    private int _created;

    public async Task<GrantCapRefusal?> ReserveAsync(DateOnly day, string customer, decimal units, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(customer);
        var caps = options.Value;
        if (await AddAsync(day, OrganizationKey, units, caps.MaxUnitsPerDay, cancellationToken).ConfigureAwait(false) is { } used)
        {
            return new GrantCapRefusal("organization's daily", caps.MaxUnitsPerDay, used, units);
        }

        if (await AddAsync(day, CustomerKey(customer), units, caps.MaxUnitsPerCustomerPerDay, cancellationToken).ConfigureAwait(false) is { } customerUsed)
        {
            await AddAsync(day, OrganizationKey, -units, decimal.MaxValue, CancellationToken.None).ConfigureAwait(false);
            return new GrantCapRefusal("customer's daily", caps.MaxUnitsPerCustomerPerDay, customerUsed, units);
        }

        return null;
    }

    public async Task ReleaseAsync(DateOnly day, string customer, decimal units, CancellationToken cancellationToken)
    {
        await AddAsync(day, CustomerKey(customer), -units, decimal.MaxValue, cancellationToken).ConfigureAwait(false);
        await AddAsync(day, OrganizationKey, -units, decimal.MaxValue, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds <paramref name="units"/> to a row unless the total would pass <paramref name="limit"/>; returns the units used when refused.</summary>
    private async Task<decimal?> AddAsync(DateOnly day, string key, decimal units, decimal limit, CancellationToken cancellationToken)
    {
        var client = _table.Value;
        if (Interlocked.Exchange(ref _created, 1) == 0)
        {
            await client.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
        }

        var partition = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var found = await client.GetEntityIfExistsAsync<CapEntity>(partition, key, cancellationToken: cancellationToken).ConfigureAwait(false);
            var entity = found.HasValue ? found.Value! : new CapEntity { PartitionKey = partition, RowKey = key, Units = "0" };
            var used = decimal.Parse(entity.Units, NumberStyles.Number, CultureInfo.InvariantCulture);
            if (units > 0 && used + units > limit)
            {
                return used;
            }

            entity.Units = Math.Max(0, used + units).ToString(CultureInfo.InvariantCulture);
            try
            {
                if (found.HasValue)
                {
                    await client.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await client.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
                }

                return null;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another instance wrote the row in between: read it again.
            }
        }

        throw new InvalidOperationException($"The grant caps of {partition} stayed contended for {MaxAttempts} attempts.");
    }

    private static string CustomerKey(string customer) =>
        "customer-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(customer)).AsSpan(0, 16));

    /// <summary>The units reserved in a day by the organization or one customer (a decimal as invariant text).</summary>
    internal sealed class CapEntity : ITableEntity
    {
        public string PartitionKey { get; set; } = "";
        public string RowKey { get; set; } = "";
        public DateTimeOffset? Timestamp { get; set; }
        public ETag ETag { get; set; }
        public string Units { get; set; } = "0";
    }
}
