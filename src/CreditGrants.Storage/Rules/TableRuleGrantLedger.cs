using System.Globalization;
using Azure;
using Azure.Data.Tables;
using CreditGrants.Rules;
using Microsoft.Extensions.Options;

namespace CreditGrants.Storage.Rules;

/// <summary>
/// The <see cref="IRuleGrantLedger"/> in the <c>Rules:Table</c> table, one partition per rule: a <c>total</c> row (units and
/// grants reserved), a <c>customer|&lt;Polar id&gt;</c> row per customer (grants) and a <c>grant|&lt;grant id&gt;</c> row per
/// grant id (its outcome, units, customer, cause, time), and a <c>refund|&lt;grant id&gt;</c> row per grant an
/// <c>order.refunded</c> took back (<see cref="RuleRefundRecord"/>). A reservation writes the three rows in one entity-group
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

    public static string RefundRow(string grantId) => "refund|" + grantId;

    private const string GrantPrefix = "grant|";

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

            var (total, perCustomer, unitsBefore, grantsBefore, outcome) = await DecideAsync(rule, customer, units, cancellationToken).ConfigureAwait(false);
            var grantRow = GrantEntity(rule.Id, grantId, outcome, units, customer, cause);
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

    public async Task<RuleGrantOutcome> RecordRefusedAsync(GrantRule rule, string grantId, string customer, decimal units, RuleGrantOutcome outcome, string cause,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await Table.AddEntityAsync(GrantEntity(rule.Id, grantId, outcome, units, customer, cause), cancellationToken).ConfigureAwait(false);
                return outcome;
            }
            catch (RequestFailedException ex) when (ex.Status is 404 && attempt < MaxAttempts)
            {
                await Table.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (ex.Status is 409)
            {
                // Recorded before (a redelivery): its first outcome stands.
                var recorded = await ReadAsync(rule.Id, GrantRow(grantId), cancellationToken).ConfigureAwait(false);
                return recorded is null ? outcome : Enum.Parse<RuleGrantOutcome>(recorded.GetString("Outcome"));
            }
        }
    }

    public async Task<(RuleGrantOutcome Outcome, bool Recorded)> PreviewAsync(GrantRule rule, string grantId, string customer, decimal units,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (await ReadAsync(rule.Id, GrantRow(grantId), cancellationToken).ConfigureAwait(false) is { } recorded)
        {
            return (Enum.Parse<RuleGrantOutcome>(recorded.GetString("Outcome")), true);
        }

        return ((await DecideAsync(rule, customer, units, cancellationToken).ConfigureAwait(false)).Outcome, false);
    }

    public async Task<RecordedRuleGrant?> FindAsync(string ruleId, string grantId, CancellationToken cancellationToken) =>
        await ReadAsync(ruleId, GrantRow(grantId), cancellationToken).ConfigureAwait(false) is { } row ? Recorded(row) : null;

    public async Task<RuleRefundRecord?> FindRefundAsync(string ruleId, string grantId, CancellationToken cancellationToken) =>
        await ReadAsync(ruleId, RefundRow(grantId), cancellationToken).ConfigureAwait(false) is { } row
            ? new RuleRefundRecord(Enum.Parse<RuleRefundOutcome>(row.GetString("Outcome")), decimal.Parse(row.GetString("TakenBack"), CultureInfo.InvariantCulture),
                row.GetInt64("RefundedAmount"), row.GetInt64("NetAmount"), row.GetString("Detail"), row.GetString("Cause"))
            : null;

    public async Task RecordRefundAsync(string ruleId, string grantId, RuleRefundRecord refund, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(refund);
        var entity = new TableEntity(ruleId, RefundRow(grantId))
        {
            ["Outcome"] = refund.Outcome.ToString(),
            ["TakenBack"] = refund.TakenBack.ToString(CultureInfo.InvariantCulture),
            ["RefundedAmount"] = refund.RefundedAmount,
            ["NetAmount"] = refund.NetAmount,
            ["Detail"] = refund.Detail,
            ["Cause"] = refund.Cause,
            ["At"] = time.GetUtcNow(),
        };
        try
        {
            await Table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            await Table.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
            await Table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Every recorded grant of one customer, across rules: the <c>grant|</c> rows whose customer is the Polar id
    /// <paramref name="customer"/> (a scan of the table, for <c>credits rules list --customer</c>).
    /// </summary>
    public async Task<IReadOnlyList<RecordedRuleGrant>> CustomerGrantsAsync(string customer, CancellationToken cancellationToken)
    {
        var rows = new List<RecordedRuleGrant>();
        try
        {
            await foreach (var entity in Table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"Customer eq {customer}"),
                cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (entity.RowKey.StartsWith(GrantPrefix, StringComparison.Ordinal))
                {
                    rows.Add(Recorded(entity));
                }
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: nothing recorded.
        }

        return rows;
    }

    private static RecordedRuleGrant Recorded(TableEntity row) =>
        new(row.PartitionKey, row.RowKey[GrantPrefix.Length..], Enum.Parse<RuleGrantOutcome>(row.GetString("Outcome")),
            decimal.Parse(row.GetString("Units"), CultureInfo.InvariantCulture), row.GetString("Customer"),
            row.GetString("Cause"), row.GetDateTimeOffset("At"));

    private TableEntity GrantEntity(string ruleId, string grantId, RuleGrantOutcome outcome, decimal units, string customer, string cause) => new(ruleId, GrantRow(grantId))
    {
        ["Outcome"] = outcome.ToString(),
        ["Units"] = units.ToString(CultureInfo.InvariantCulture),
        ["Customer"] = customer,
        ["Cause"] = cause,
        ["At"] = time.GetUtcNow(),
    };

    /// <summary>The counters as read and what they decide for a grant of <paramref name="units"/> to <paramref name="customer"/>.</summary>
    private async Task<(TableEntity? Total, TableEntity? PerCustomer, decimal UnitsBefore, long GrantsBefore, RuleGrantOutcome Outcome)> DecideAsync(
        GrantRule rule, string customer, decimal units, CancellationToken cancellationToken)
    {
        var total = await ReadAsync(rule.Id, TotalRow, cancellationToken).ConfigureAwait(false);
        var perCustomer = await ReadAsync(rule.Id, CustomerRow(customer), cancellationToken).ConfigureAwait(false);
        var unitsBefore = total is null ? 0m : decimal.Parse(total.GetString("Units"), CultureInfo.InvariantCulture);
        var grantsBefore = perCustomer?.GetInt64("Grants") ?? 0;
        var outcome = rule.PerCustomerCap is { } cap && grantsBefore >= cap ? RuleGrantOutcome.OverCap
            : rule.Budget is { } budget && unitsBefore + units > budget ? RuleGrantOutcome.OverBudget
            : RuleGrantOutcome.Reserved;
        return (total, perCustomer, unitsBefore, grantsBefore, outcome);
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
                if (entity.RowKey.StartsWith(GrantPrefix, StringComparison.Ordinal))
                {
                    rows.Add((entity.RowKey[GrantPrefix.Length..], Enum.Parse<RuleGrantOutcome>(entity.GetString("Outcome")), entity.GetString("Customer")));
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
