using System.Globalization;
using CsvHelper;

namespace CreditGrants.Bulk;

/// <summary>
/// Writes the results CSV: one line per row of the input with its outcome. Text cells that a spreadsheet would
/// run as a formula (starting with =, +, -, @, a tab or CR) are neutralized with a leading apostrophe.
/// </summary>
public sealed class BulkResultsWriter : IAsyncDisposable
{
    public static readonly string[] Columns = ["line", "grant_id", "external_customer_id", "customer_id", "units", "meter", "status", "reason"];

    private readonly CsvWriter _writer;

    public BulkResultsWriter(Stream destination, bool writeHeader = true, bool leaveOpen = false)
    {
        _writer = CsvWriter.Create(destination, CsvWriterOptions.Default with
        {
            NewLine = "\n",
            Injection = CsvInjection.Escape,
        }, leaveOpen);
        if (writeHeader)
        {
            _writer.WriteRecord(Columns);
        }
    }

    public static string StatusText(RowStatus status) => status switch
    {
        RowStatus.Granted => "granted",
        RowStatus.Duplicate => "duplicate",
        RowStatus.GrantedOrDuplicate => "granted_or_duplicate",
        RowStatus.Failed => "failed",
        RowStatus.WouldGrant => "would_grant",
        _ => "rejected",
    };

    public async Task WriteAsync(IEnumerable<RowOutcome> rows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        foreach (var row in rows)
        {
            _writer.WriteRecord(
            [
                row.Line.ToString(CultureInfo.InvariantCulture), row.GrantId ?? "", row.ExternalCustomerId ?? "", row.CustomerId ?? "",
                row.Units ?? "", row.Meter ?? "", StatusText(row.Status), row.Reason ?? "",
            ]);
        }

        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
