using CreditGrants.Identity;
using System.Globalization;
using CreditGrants.Grants;

namespace CreditGrants.Bulk;

/// <summary>
/// How rows without a <c>grant_id</c> get one. A job records the rule it was planned with, so a redelivered chunk, a retry or
/// a deployment in the middle of a job never derives its ids anew.
/// </summary>
/// <param name="Scheme"><see cref="BatchAndRow"/>, or <see cref="ContentAndLine"/> for jobs planned before it existed.</param>
/// <param name="Key">The batch name, or (for <see cref="ContentAndLine"/>) the file's content hash.</param>
public sealed record BulkGrantIds(string Scheme, string Key)
{
    /// <summary>
    /// The id of a row is made of its batch, its own content (customer, units, meter: <see cref="BulkGrantFile.RowKey"/>) and
    /// how many identical rows come before it in the file. A file fixed in place and run again grants only its changed rows;
    /// the same rows in another batch grant again; two identical rows in one file are two grants.
    /// </summary>
    public const string BatchAndRow = "batch-row";

    /// <summary>The ids of versions before 2026-11-30: the whole file's content hash and the row's line, so any edit changed every id.</summary>
    public const string ContentAndLine = "content-line";

    /// <summary>The longest batch name accepted.</summary>
    public const int MaxBatchLength = 100;

    /// <summary>The rule for a batch, after checking its name.</summary>
    /// <exception cref="ArgumentException">The batch name is empty, too long or holds control characters.</exception>
    public static BulkGrantIds ForBatch(string batch) =>
        CheckBatch(batch) is { } problem ? throw new ArgumentException(problem, nameof(batch)) : new BulkGrantIds(BatchAndRow, batch.Trim());

    /// <summary>Why <paramref name="batch"/> cannot name a batch, or null when it can (1–100 characters, no control characters, trimmed).</summary>
    public static string? CheckBatch(string? batch)
    {
        var trimmed = batch is null ? null : Identifier.Trim(batch);
        if (string.IsNullOrEmpty(trimmed))
        {
            return "a batch name is required: 1 to 100 characters that name this run of grants, such as 'welcome-2026-12'";
        }

        if (trimmed.Length > MaxBatchLength)
        {
            return $"the batch name is {trimmed.Length} characters; at most {MaxBatchLength} are accepted";
        }

        // A batch name is part of every derived grant id: the id rule applies to it whole.
        return Identifier.Check(trimmed) is [var first, ..] ? $"the batch name '{Display.Shorten(trimmed)}' {first.Message}" : null;
    }

    /// <summary>The grant id of a row without a <c>grant_id</c>.</summary>
    /// <param name="row">The row's own content.</param>
    /// <param name="line">Its line in the file (only <see cref="ContentAndLine"/> uses it).</param>
    /// <param name="occurrence">How many identical rows come before it in the file.</param>
    public GrantId Derive(BulkGrantFile.RowKey row, long line, int occurrence) => Scheme switch
    {
        BatchAndRow => GrantId.Derive("bulk-row", Key, row.Customer, row.Units, row.Meter, occurrence.ToString(CultureInfo.InvariantCulture)),
        ContentAndLine => GrantId.Derive("bulk", Key, line.ToString(CultureInfo.InvariantCulture)),
        _ => throw new InvalidOperationException($"Unknown grant id scheme '{Scheme}'."),
    };
}
