using CreditGrants.Identity;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CreditGrants.Grants;
using CsvHelper;

namespace CreditGrants.Bulk;

/// <summary>A slice of a bulk file: its rows' bytes, the line its first row starts on, and rows refused as repeats.</summary>
/// <param name="Index">Its place among the file's chunks, from 0.</param>
/// <param name="StartByte">The offset of its first row in the file's UTF-8 bytes.</param>
/// <param name="EndByte">The offset just after its last row.</param>
/// <param name="FirstLine">The line its first row starts on (the header is line 1, or 2 after a <c>sep=</c> line).</param>
/// <param name="Rows">How many rows it holds (blank lines not counted).</param>
/// <param name="DuplicateLines">Lines of this chunk whose <c>grant_id</c> an earlier row of the file already gave.</param>
public sealed record BulkChunk(int Index, long StartByte, long EndByte, long FirstLine, int Rows, IReadOnlyList<long> DuplicateLines)
{
    /// <summary>Lines of this chunk that repeat an earlier row with the same customer, units and meter (see <see cref="RepeatCounts"/>).</summary>
    public IReadOnlyList<long> RepeatLines { get; init; } = [];

    /// <summary>For each of <see cref="RepeatLines"/>, how many identical rows come before it in the file (1 for the second).</summary>
    public IReadOnlyList<int> RepeatCounts { get; init; } = [];

    /// <summary>How many rows identical to the row on <paramref name="line"/> come before it in the file.</summary>
    public int Occurrence(long line)
    {
        for (var i = 0; i < RepeatLines.Count; i++)
        {
            if (RepeatLines[i] == line)
            {
                return RepeatCounts[i];
            }
        }

        return 0;
    }
}

/// <summary>What one pass over a bulk file learns: its content hash, format, columns, rows and how they split into chunks.</summary>
public sealed record BulkFilePlan(string ContentHash, BulkFileFormat Format, IReadOnlyList<string> Header, BulkColumns Columns, long Rows,
    IReadOnlyList<BulkChunk> Chunks);

/// <summary>Defaults a whole file's rows take when their own column is empty.</summary>
public sealed record BulkDefaults(string? Meter = null, string? Reason = null);

/// <summary>What reading a job's rows takes, fixed when the job is planned so that every chunk reads them alike.</summary>
public sealed record BulkReading(BulkFileFormat Format, BulkColumns Columns, BulkGrantIds GrantIds, BulkDefaults Defaults);

/// <summary>One row of a bulk file: its grant, or why it cannot be one.</summary>
public sealed record BulkRow(long Line, CreditGrant? Grant, IReadOnlyList<FieldError> Errors, string? Units, string? ExternalCustomerId, string? CustomerId)
{
    /// <summary>The field of errors about the row as a whole (its fields or its quoting), not one cell.</summary>
    public const string RowField = "row";

    public bool IsValid => Grant is not null;

    /// <summary>The problems as a sentence naming line, column and value.</summary>
    public string Rejection => Errors.Count == 0 ? "" : string.Join("; ", Errors.Select(e => e.Field == RowField
        ? $"line {Line} {e.Message}"
        : $"line {Line}, column {BulkColumns.ColumnOf(e.Field)}{(e.Value is null ? "" : $", value '{e.Value}'")}: {e.Message}"));
}

/// <summary>
/// Reads bulk grant files: UTF-8 (with or without a byte order mark; UTF-16 files are transcoded before, see
/// <see cref="BulkFileEncoding"/>), separated by commas, semicolons or tabs as the header row shows (or Excel's <c>sep=</c>
/// line), RFC 4180 quoting within a line, LF, CRLF or CR line breaks, a header row. Every cell is trimmed; rows of only
/// separators and blanks are skipped like empty lines; a row with another number of fields than the header, or broken
/// quoting, is rejected at its line and never runs into the next. Files are streamed, never held whole in memory; a plan
/// cuts them into chunks by byte range so that any instance can read one chunk alone.
/// </summary>
public static class BulkGrantFile
{
    /// <summary>The largest header row accepted; a longer one (an unclosed quote, a file that is not CSV) is refused, never buffered.</summary>
    public const int MaxHeaderBytes = 64 * 1024;

    private const string EmptyFile = "The file is empty: it needs a header row such as 'external_customer_id,units' and one row per grant.";

    private static CsvReaderOptions Options(BulkFileFormat format, bool hasHeader, Action<CsvMalformedRecord>? onMalformed = null)
    {
        var separator = (byte)format.Separator;
        return CsvReaderOptions.Default with
        {
            Separator = format.Separator,
            HasHeader = hasHeader,
            Encoding = Encoding.UTF8,
            TrackLineNumbers = true,
            SkipEmptyLines = true,
            TrimWhitespace = true,
            TrimInsideQuotes = true,
            // A cell may not span lines: an unclosed quote then ends with its line instead of swallowing the rows after it.
            AllowLineBreaksInQuotes = false,
            FieldCountMismatch = CsvFieldCountHandling.Allow,
            MissingField = CsvMissingFieldHandling.ReturnEmpty,
            MalformedData = CsvMalformedDataHandling.Recover,
            OnMalformedRecord = onMalformed,
            ShouldSkipRecord = row => IsBlank(row.RawRecord, separator),
        };
    }

    /// <summary>Rows of only separators, blanks and empty quotes are what spreadsheets leave below the data: blank lines.</summary>
    private static bool IsBlank(ReadOnlySpan<byte> raw, byte separator)
    {
        foreach (var b in raw)
        {
            if (b != separator && b != (byte)' ' && b != (byte)'\t' && b != (byte)'"')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Checks the header row with the same rules as <see cref="PlanAsync"/>, reading little more than the header itself.</summary>
    public static async Task<BulkColumns> CheckHeaderAsync(Stream file, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var (_, reader) = await OpenAsync(file, MaxHeaderBytes, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            var (_, columns) = await ReadHeaderAsync(reader, cancellationToken).ConfigureAwait(false);
            return columns;
        }
    }

    /// <summary>
    /// Reads the whole file once: checks its encoding and header, hashes the content, counts rows, finds repeated grant ids and
    /// identical rows, cuts chunks.
    /// </summary>
    /// <param name="file">The file's bytes, UTF-8 (a UTF-16 file is transcoded first).</param>
    /// <param name="chunkRows">Rows per chunk.</param>
    /// <param name="defaults">The file's defaults; a row's meter (its own or the default) tells identical rows apart.</param>
    /// <param name="cancellationToken">Stops the pass.</param>
    /// <exception cref="BulkFileException">The file cannot be used as a whole: not UTF-8, empty, no rows, an unusable header.</exception>
    public static async Task<BulkFilePlan> PlanAsync(Stream file, int chunkRows, BulkDefaults? defaults = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        defaults ??= new BulkDefaults();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var hashing = new HashingReadStream(file, hash, new Utf8Check());
        var (format, reader) = await OpenAsync(hashing, maxHeaderBytes: null, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            var (header, columns) = await ReadHeaderAsync(reader, cancellationToken).ConfigureAwait(false);
            var seenGrantIds = new HashSet<UInt128>();
            var seenRows = new HashSet<UInt128>();
            Dictionary<UInt128, int>? repeats = null;
            var chunks = new List<BulkChunk>();
            var duplicates = new List<long>();
            var repeatLines = new List<long>();
            var repeatCounts = new List<int>();
            long rows = 0, chunkStart = 0, chunkFirstLine = 0;
            var chunkCount = 0;
            var lineOffset = format.HeaderLine - 1;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (chunkCount == chunkRows)
                {
                    chunks.Add(Chunk(chunks.Count, chunkStart, format.HeaderStart + reader.ByteOffset, chunkFirstLine, chunkCount, duplicates, repeatLines, repeatCounts));
                    (duplicates, repeatLines, repeatCounts) = ([], [], []);
                    chunkCount = 0;
                }

                var line = reader.LineNumber + lineOffset;
                if (chunkCount == 0)
                {
                    chunkStart = format.HeaderStart + reader.ByteOffset;
                    chunkFirstLine = line;
                }

                if (Cell(reader, columns.GrantId) is { } grantId && !seenGrantIds.Add(Fingerprint(grantId)))
                {
                    duplicates.Add(line);
                }

                var key = Fingerprint(RowKey.Of(reader, columns, format, defaults).Text);
                if (!seenRows.Add(key))
                {
                    repeats ??= [];
                    var before = repeats.TryGetValue(key, out var count) ? count + 1 : 1;
                    repeats[key] = before;
                    repeatLines.Add(line);
                    repeatCounts.Add(before);
                }

                chunkCount++;
                rows++;
            }

            if (chunkCount > 0)
            {
                chunks.Add(Chunk(chunks.Count, chunkStart, hashing.BytesRead, chunkFirstLine, chunkCount, duplicates, repeatLines, repeatCounts));
            }

            // Read to the end so the hash and the encoding check cover every byte, trailing blank lines included.
            await hashing.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            hashing.Complete();
            if (rows == 0)
            {
                throw new BulkFileException($"The file has a header row and no rows to grant: add one row per grant below line {format.HeaderLine}.");
            }

            return new BulkFilePlan(Convert.ToHexStringLower(hash.GetHashAndReset()), format, header, columns, rows, chunks);
        }
    }

    private static BulkChunk Chunk(int index, long start, long end, long firstLine, int rows, List<long> duplicates, List<long> repeatLines,
        List<int> repeatCounts) =>
        new(index, start, end, firstLine, rows, duplicates) { RepeatLines = repeatLines, RepeatCounts = repeatCounts };

    /// <summary>Reads the rows of one chunk from a stream of exactly its bytes, validating each with the grant rules.</summary>
    public static async IAsyncEnumerable<BulkRow> ReadChunkAsync(Stream chunkBytes, BulkReading reading, BulkChunk chunk, GrantValidator validator,
        string source, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reading);
        ArgumentNullException.ThrowIfNull(chunk);
        ArgumentNullException.ThrowIfNull(validator);
        var (format, columns) = (reading.Format, reading.Columns);
        var duplicateLines = chunk.DuplicateLines.Count == 0 ? null : chunk.DuplicateLines.ToHashSet();
        var malformed = new Dictionary<long, CsvMalformedReason>();
        var reader = CsvReader.Create(chunkBytes, Options(format, hasHeader: false, m => malformed[m.LineNumber] = m.Reason), leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var line = chunk.FirstLine + reader.LineNumber - 1;
                var errors = new List<FieldError>();
                if (malformed.Remove(reader.LineNumber, out var quoting))
                {
                    errors.Add(new FieldError(BulkRow.RowField, null, QuotingProblem(quoting)));
                }
                else if (reader.FieldCount != columns.Count)
                {
                    errors.Add(new FieldError(BulkRow.RowField, null,
                        $"has {reader.FieldCount} field{(reader.FieldCount == 1 ? "" : "s")} and the header {columns.Count}: a cell that holds a " +
                        $"{format.SeparatorName} must be quoted (\"Spring{format.Separator} promo\"), and a row may not add or leave out fields"));
                }

                var explicitId = Cell(reader, columns.GrantId);
                var externalId = Cell(reader, columns.ExternalCustomerId);
                var customerId = Cell(reader, columns.CustomerId);
                var unitsCell = Cell(reader, columns.Units);
                if (errors.Count > 0)
                {
                    yield return new BulkRow(line, null, errors, unitsCell, externalId, customerId);
                    continue;
                }

                AddIfAny(errors, BulkCells.RewrittenId("customer.externalId", externalId));
                AddIfAny(errors, BulkCells.RewrittenId("grantId", explicitId));
                var units = unitsCell;
                if (unitsCell is not null)
                {
                    (units, var unitsError) = BulkCells.Units(unitsCell, format.Separator);
                    AddIfAny(errors, unitsError);
                }

                var (carryOver, carryOverError) = BulkCells.CarryOver(Cell(reader, columns.CarryOver));
                AddIfAny(errors, carryOverError);
                // The row's key is only read (a second pass over its cells) when the id is derived from it.
                var grantId = explicitId ?? reading.GrantIds.Derive(RowKey.Of(reader, columns, format, reading.Defaults), line, chunk.Occurrence(line)).Value;
                var request = new GrantRequest(grantId, externalId, customerId, Cell(reader, columns.Email), Cell(reader, columns.Name),
                    units, Cell(reader, columns.Meter) ?? reading.Defaults.Meter, Cell(reader, columns.Reason) ?? reading.Defaults.Reason, source,
                    GrantIdDerived: explicitId is null, ExpiresAt: Cell(reader, columns.ExpiresAt), CarryOver: carryOver);
                var validation = validator.Validate(request);
                errors.AddRange(validation.Errors.Where(e => e.Field != "units" || errors.All(u => u.Field != "units")));
                if (duplicateLines?.Contains(line) == true)
                {
                    errors.Add(FieldError.Of("grantId", explicitId, "repeats a grant_id of an earlier row of this file; a grant id grants once"));
                }

                yield return new BulkRow(line, errors.Count == 0 ? validation.Grant : null, errors, unitsCell, externalId, customerId);
            }
        }
    }

    private static void AddIfAny(List<FieldError> errors, FieldError? error)
    {
        if (error is not null)
        {
            errors.Add(error);
        }
    }

    private static string QuotingProblem(CsvMalformedReason reason) => reason switch
    {
        CsvMalformedReason.LineBreakInQuotes or CsvMalformedReason.UnterminatedQuote =>
            "opens a quoted cell that is not closed on this line: close the quote (a cell may not span lines); the lines after it are read as rows of their own",
        CsvMalformedReason.StrayQuote =>
            "has a quote inside a cell that is not quoted: quote the whole cell and double the quotes inside it (\"say \"\"hi\"\"\")",
        CsvMalformedReason.TextAfterClosingQuote =>
            "has text after the closing quote of a cell: quote the whole cell and double the quotes inside it (\"say \"\"hi\"\"\")",
        _ => $"is not well-formed CSV ({reason}): quote cells that hold the separator or quotes, and double the quotes inside them",
    };

    /// <summary>A cell of the current row, trimmed as every id is (<see cref="Identifier.Trim"/>: Unicode blanks such as no-break spaces too); null when empty or absent.</summary>
    private static string? Cell(CsvReader reader, int index) =>
        index < 0 || index >= reader.FieldCount ? null : Identifier.Trim(reader.GetString(index)) is { Length: > 0 } value ? value : null;

    /// <summary>Opens a reader positioned before the header row, with the format the file's first lines show.</summary>
    private static async Task<(BulkFileFormat, CsvReader)> OpenAsync(Stream file, int? maxHeaderBytes, CancellationToken cancellationToken)
    {
        var head = new byte[2 * MaxHeaderBytes];
        var length = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        var format = BulkFileFormat.Detect(head.AsSpan(0, length));
        var rest = new PrefixedStream(head.AsMemory((int)format.HeaderStart, length - (int)format.HeaderStart), file);
        var options = Options(format, hasHeader: true);
        if (maxHeaderBytes is { } max)
        {
            options = options with { MaxRecordSize = max };
        }

        return (format, CsvReader.Create(rest, options, leaveOpen: true));
    }

    private static async Task<(IReadOnlyList<string>, BulkColumns)> ReadHeaderAsync(CsvReader reader, CancellationToken cancellationToken)
    {
        try
        {
            await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CsvFormatException)
        {
            throw new BulkFileException($"The header row is longer than {MaxHeaderBytes / 1024} KiB: is this a CSV file with one header row?");
        }

        var header = reader.Headers.Select(h => h.Trim()).ToList();
        return header.Count == 0 || header.All(h => h.Length == 0)
            ? throw new BulkFileException(EmptyFile)
            : (header, BulkColumns.FromHeader(header));
    }

    private static UInt128 Fingerprint(string grantId)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(grantId), digest);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }

    /// <summary>Passes reads through while hashing every byte and counting them.</summary>
    /// <summary>Passes reads through while hashing every byte, checking that the bytes are UTF-8, and counting them.</summary>
    private sealed class HashingReadStream(Stream inner, IncrementalHash hash, Utf8Check utf8) : ForwardOnlyReadStream
    {
        public long BytesRead { get; private set; }

        public void Complete() => utf8.Complete();

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            Take(buffer[..read]);
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Take(buffer.Span[..read]);
            return read;
        }

        private void Take(ReadOnlySpan<byte> bytes)
        {
            if (BytesRead == 0 && BulkFileEncoding.Of(bytes) is { } other)
            {
                throw new BulkFileException($"The file is {other.EncodingName}: convert it to UTF-8 before it is planned.");
            }

            // The byte order mark is not text of the file; the check starts after it.
            utf8.Append(BytesRead == 0 && bytes.StartsWith(BulkFileEncoding.Utf8Bom) ? bytes[3..] : bytes);
            hash.AppendData(bytes);
            BytesRead += bytes.Length;
        }
    }

    /// <summary>Reads bytes already taken from a stream, then the rest of the stream.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : ForwardOnlyReadStream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.IsEmpty)
            {
                return rest.Read(buffer);
            }

            var count = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..count].CopyTo(buffer);
            _prefix = _prefix[count..];
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _prefix.IsEmpty ? rest.ReadAsync(buffer, cancellationToken) : ValueTask.FromResult(Read(buffer.Span));
    }

    /// <summary>
    /// What makes two rows the same grant when they have no <c>grant_id</c>: the customer, the units (as a number) and the
    /// meter (the row's own or the file's default). Email, name and reason are not part of it, so fixing them grants nothing anew.
    /// </summary>
    public readonly record struct RowKey(string Customer, string Units, string Meter)
    {
        /// <summary>The key as one string, its parts kept apart by line breaks (which no cell holds).</summary>
        public string Text => $"{Customer}\n{Units}\n{Meter}";

        internal static RowKey Of(CsvReader reader, BulkColumns columns, BulkFileFormat format, BulkDefaults defaults)
        {
            var customer = Cell(reader, columns.ExternalCustomerId) is { } externalId ? "x:" + externalId
                : Cell(reader, columns.CustomerId) is { } customerId ? "c:" + customerId.ToLowerInvariant() : "";
            var units = Cell(reader, columns.Units) ?? "";
            if (BulkCells.Units(units, format.Separator).Units is { } invariant
                && decimal.TryParse(invariant, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
            {
                units = number.ToString("G29", CultureInfo.InvariantCulture);
            }

            return new RowKey(customer, units, Cell(reader, columns.Meter) ?? defaults.Meter ?? "");
        }
    }
}
