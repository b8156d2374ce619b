using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Bulk;

namespace CreditGrants.Lifecycle;

/// <summary>One row of a bulk revocation as the HTTP API prints it; <see cref="Status"/> as the results file writes it.</summary>
public sealed record BulkRevokeRowJson(long Line, string? GrantId, string? ExternalCustomerId, string? Meter, decimal? UnitsGranted, decimal UnitsRevoked,
    string Status, string? Reason)
{
    public static BulkRevokeRowJson From(BulkRevokeRowOutcome row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new(row.Line, row.GrantId, row.ExternalCustomerId, row.Meter, row.UnitsGranted, row.UnitsRevoked, BulkRevocationFile.StatusText(row.Status), row.Reason);
    }
}

/// <summary>
/// A bulk revocation's answer (<c>POST /api/bulk-grants/{jobId}/revoke</c>, <c>credits bulk revoke --json</c>): what was revoked,
/// the summary's counts, and either every row (<see cref="Items"/>, HTTP) or the results file written (<see cref="Results"/>, CLI).
/// </summary>
public sealed record BulkRevocationJson(
    string Revoking,
    bool DryRun,
    long Rows,
    long Revoked,
    long WouldRevoke,
    long NothingUnspent,
    long AlreadyRevoked,
    long NotGranted,
    long Failed,
    decimal UnitsRevoked,
    decimal UnitsWouldRevoke,
    int Customers,
    int LedgerRequests,
    string? Results,
    IReadOnlyList<BulkRevokeRowJson>? Items)
{
    /// <param name="revoking">The job id or results file revoked.</param>
    /// <param name="summary">The revocation's summary.</param>
    /// <param name="results">The results file written (the CLI), or null.</param>
    /// <param name="rows">Every row's outcome (HTTP), or null.</param>
    public static BulkRevocationJson From(string revoking, BulkRevokeSummary summary, string? results, IEnumerable<BulkRevokeRowOutcome>? rows)
    {
        ArgumentNullException.ThrowIfNull(summary);
        return new(revoking, summary.DryRun, summary.Rows, summary.Revoked, summary.WouldRevoke, summary.NothingUnspent, summary.AlreadyRevoked,
            summary.NotGranted, summary.Failed, summary.UnitsRevoked, summary.UnitsWouldRevoke, summary.Customers, summary.LedgerRequests, results,
            rows is null ? null : [.. rows.Select(BulkRevokeRowJson.From)]);
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(BulkRevocationJson))]
public sealed partial class BulkRevocationJsonContext : JsonSerializerContext;
