using System.Globalization;
using CreditGrants.Identity;
using CsvHelper;

namespace CreditGrants.Bulk;

/// <summary>
/// Writes the results CSV: one line per row of the input with its outcome. Text cells that a spreadsheet would
/// run as a formula (starting with =, +, -, @, a tab or CR) are neutralized with a leading apostrophe, and control and
/// invisible characters are written as <c>\u001B</c>-style escapes (<see cref="Display.Escape"/>), so that a value shown in a
/// terminal or a spreadsheet can neither run nor pass for another.
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

    /// <summary>The status column of a row: <c>unchecked</c> for a row sent to a customer nobody checked, else <see cref="StatusText(RowStatus)"/>.</summary>
    public static string StatusText(RowOutcome row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row.Unchecked ? "unchecked" : StatusText(row.Status);
    }

    /// <summary>A cell as it was before the formula guard (a leading apostrophe before =, +, -, @, a tab or CR) was added.</summary>
    public static string Unneutralized(string cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        return cell.Length > 1 && cell[0] == '\'' && cell[1] is '=' or '+' or '-' or '@' or '\t' or '\r' ? cell[1..] : cell;
    }

    public async Task WriteAsync(IEnumerable<RowOutcome> rows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        foreach (var row in rows)
        {
            _writer.WriteRecord(
            [
                row.Line.ToString(CultureInfo.InvariantCulture), Display.Escape(row.GrantId), Display.Escape(row.ExternalCustomerId),
                Display.Escape(row.CustomerId), Display.Escape(row.Units), Display.Escape(row.Meter), StatusText(row), Display.Escape(row.Reason),
            ]);
        }

        await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
