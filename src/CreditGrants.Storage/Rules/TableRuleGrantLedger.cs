using System.Globalization;
using Azure;
using Azure.Data.Tables;
using CreditGrants.Rules;
using Microsoft.Extensions.Options;

namespace CreditGrants.Storage.Rules;

/// <summary>
/// The <see cref="IRuleGrantLedger"/> in the <c>Rules:Table</c> table, one partition per rule: a <c>total</c> row (units and
/// grants reserved), a <c>customer|&lt;Polar id&gt;</c> row per customer (grants) and a <c>grant|&lt;grant id&gt;</c> row per
/// grant id (its outcome, units, customer, cause, time). A reservation writes the three rows in one entity-group
/// transaction conditioned on the ETags read, so instances racing for the last of a budget never both spend it.
/// </summary>
public sealed class TableRuleGrantLedger(Func<StorageAccount> account, IOptions<RuleOptions> options, TimeProvider time) : IRuleGrantLedger
{
    private const string TotalRow = "total";
    private const int MaxAttempts = 20;

    private readonly Lazy<TableClient> _table = new(() => account().Tables.GetTableClient(options.Value.Table));

    public TableClient Table => _table.Value;

    public static string GrantRow(string grantId) => "grant|" + grantId;

    public static string CustomerRow(string customer) => "customer|" + customer;

    public async Task<RuleGrantOutcome> RecordAsync(GrantRule rule, string grantId, string customer, decimal units, string cause, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        for (var attempt = 0; ; attempt++)
        {
            var recorded = await ReadAsync(rule.Id, GrantRow(grantId), cancellationToken).ConfigureAwait(false);
            if (recorded is not null)
            {
                return Enum.Parse<RuleGrantOutcome>(recorded.GetString("Outcome"));
            }

            var total = await ReadAsync(rule.Id, TotalRow, cancellationToken).ConfigureAwait(false);
            var perCustomer = await ReadAsync(rule.Id, CustomerRow(customer), cancellationToken).ConfigureAwait(false);
            var unitsBefore = total is null ? 0m : decimal.Parse(total.GetString("Units"), CultureInfo.InvariantCulture);
            var grantsBefore = perCustomer?.GetInt64("Grants") ?? 0;
            var outcome = rule.PerCustomerCap is { } cap && grantsBefore >= cap ? RuleGrantOutcome.OverCap
                : rule.Budget is { } budget && unitsBefore + units > budget ? RuleGrantOutcome.OverBudget
                : RuleGrantOutcome.Reserved;
            var grantRow = new TableEntity(rule.Id, GrantRow(grantId))
            {
                ["Outcome"] = outcome.ToString(),
                ["Units"] = units.ToString(CultureInfo.InvariantCulture),
                ["Customer"] = customer,
                ["Cause"] = cause,
                ["At"] = time.GetUtcNow(),
            };
            var actions = new List<TableTransactionAction> { new(TableTransactionActionType.Add, grantRow) };
            if (outcome == RuleGrantOutcome.Reserved)
            {
                actions.Add(Counter(total, rule.Id, TotalRow, new()
                {
                    ["Units"] = (unitsBefore + units).ToString(CultureInfo.InvariantCulture),
                    ["Grants"] = (total?.GetInt64("Grants") ?? 0) + 1,
                }));
                actions.Add(Counter(perCustomer, rule.Id, CustomerRow(customer), new() { ["Grants"] = grantsBefore + 1 }));
            }

            try
            {
                await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
                return outcome;
            }
            catch (RequestFailedException ex) when (ex.Status is 404 && attempt < MaxAttempts)
            {
                await Table.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412 && attempt < MaxAttempts)
            {
                // Another instance wrote first (this grant id, or the same counters): read again and decide again.
            }
        }
    }

    /// <summary>A counter row written only if it is still as read (ETag), or added if it was not there.</summary>
    private static TableTransactionAction Counter(TableEntity? read, string partition, string row, Dictionary<string, object> values)
    {
        var entity = new TableEntity(partition, row);
        foreach (var (key, value) in values)
        {
            entity[key] = value;
        }

        return read is null
            ? new TableTransactionAction(TableTransactionActionType.Add, entity)
            : new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, read.ETag);
    }

    private async Task<TableEntity?> ReadAsync(string partition, string row, CancellationToken cancellationToken)
    {
        try
        {
            var found = await Table.GetEntityIfExistsAsync<TableEntity>(partition, row, cancellationToken: cancellationToken).ConfigureAwait(false);
            return found.HasValue ? found.Value : null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: nothing recorded.
            return null;
        }
    }

    /// <summary>The recorded grants of a rule (its <c>grant|</c> rows), for reports and tests.</summary>
    public async Task<IReadOnlyList<(string GrantId, RuleGrantOutcome Outcome, string Customer)>> GrantsAsync(string ruleId, CancellationToken cancellationToken)
    {
        var rows = new List<(string, RuleGrantOutcome, string)>();
        try
        {
            await foreach (var entity in Table.QueryAsync<TableEntity>(e => e.PartitionKey == ruleId, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (entity.RowKey.StartsWith("grant|", StringComparison.Ordinal))
                {
                    rows.Add((entity.RowKey["grant|".Length..], Enum.Parse<RuleGrantOutcome>(entity.GetString("Outcome")), entity.GetString("Customer")));
                }
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: nothing recorded.
        }

        return rows;
    }
}
