using System.Globalization;
using CreditGrants.Identity;
using CreditGrants.Lifecycle;
using CsvHelper;

namespace CreditGrants.Bulk;

/// <summary>
/// The files of a bulk revocation: reads a grant run's results CSV (<see cref="BulkResultsWriter.Columns"/>, with or without
/// its header) into <see cref="BulkGrantedRow"/>s, and writes the revocation's own results CSV, one line per row:
/// <c>line, grant_id, external_customer_id, meter, units_granted, units_revoked, status, reason</c>, cells guarded as the
/// grant results are (<see cref="BulkResultsWriter"/>).
/// </summary>
public static class BulkRevocationFile
{
    /// <summary>The revocation results file's columns.</summary>
    public static readonly string[] Columns = ["line", "grant_id", "external_customer_id", "meter", "units_granted", "units_revoked", "status", "reason"];

    /// <summary>The most rows read from one results file: a revocation holds them all, to group them by customer.</summary>
    public const int MaxRows = 1_000_000;

    /// <summary>
    /// The rows of a grant run's results file. Throws <see cref="BulkFileException"/> for a file that is not one (a header
    /// other than the results file's, a row with fewer cells, more than <see cref="MaxRows"/> rows).
    /// </summary>
    public static async Task<IReadOnlyList<BulkGrantedRow>> ReadAsync(Stream results, bool hasHeader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(results);
        var rows = new List<BulkGrantedRow>();
        var reader = CsvReader.Create(results, CsvReaderOptions.Default with { HasHeader = false }, leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            var first = true;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var cells = Enumerable.Range(0, Math.Min(reader.FieldCount, BulkResultsWriter.Columns.Length)).Select(reader.GetString).ToArray();
                if (first && hasHeader)
                {
                    first = false;
                    if (!cells.SequenceEqual(BulkResultsWriter.Columns))
                    {
                        throw new BulkFileException($"the header is '{Display.Shorten(string.Join(",", cells))}'; a bulk results file starts with '{string.Join(",", BulkResultsWriter.Columns)}' (the file 'credits bulk run' writes)");
                    }

                    continue;
                }

                first = false;
                if (cells.Length < BulkResultsWriter.Columns.Length)
                {
                    throw new BulkFileException($"row {rows.Count + 1} has {cells.Length} cells; a bulk results file has {BulkResultsWriter.Columns.Length} ({string.Join(",", BulkResultsWriter.Columns)})");
                }

                if (rows.Count >= MaxRows)
                {
                    throw new BulkFileException($"the results file has more than {MaxRows:N0} rows; revoke it in parts");
                }

                string? Cell(int index) => cells[index].Length == 0 ? null : BulkResultsWriter.Unneutralized(cells[index]);
                rows.Add(new BulkGrantedRow(
                    long.TryParse(cells[0], NumberStyles.None, CultureInfo.InvariantCulture, out var line) ? line : rows.Count + 2,
                    Cell(1), Cell(2), Cell(3), Cell(4), Cell(5), cells[6]));
            }
        }

        return rows;
    }

    /// <summary>The status column's text of a row's outcome.</summary>
    public static string StatusText(BulkRevokeStatus status) => status switch
    {
        BulkRevokeStatus.Revoked => "revoked",
        BulkRevokeStatus.WouldRevoke => "would_revoke",
        BulkRevokeStatus.NothingUnspent => "nothing_unspent",
        BulkRevokeStatus.AlreadyRevoked => "already_revoked",
        BulkRevokeStatus.NotGranted => "not_granted",
        _ => "failed",
    };

    /// <summary>Writes the revocation results file, header first.</summary>
    public static Task WriteAsync(Stream destination, IEnumerable<BulkRevokeRowOutcome> rows, CancellationToken cancellationToken = default) =>
        WriteAsync(destination, rows, writeHeader: true, cancellationToken);

    /// <summary>Writes revocation results rows, header first unless <paramref name="writeHeader"/> is false (a part of a file, as a queued revocation's slices write).</summary>
    public static async Task WriteAsync(Stream destination, IEnumerable<BulkRevokeRowOutcome> rows, bool writeHeader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var writer = CsvWriter.Create(destination, CsvWriterOptions.Default with { NewLine = "\n", Injection = CsvInjection.Escape }, leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            if (writeHeader)
            {
                writer.WriteRecord(Columns);
            }

            foreach (var row in rows)
            {
                writer.WriteRecord(
                [
                    row.Line.ToString(CultureInfo.InvariantCulture), Display.Escape(row.GrantId), Display.Escape(row.ExternalCustomerId), Display.Escape(row.Meter),
                    row.UnitsGranted?.ToString(CultureInfo.InvariantCulture) ?? "", row.UnitsRevoked.ToString(CultureInfo.InvariantCulture),
                    StatusText(row.Status), Display.Escape(row.Reason),
                ]);
            }

            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
