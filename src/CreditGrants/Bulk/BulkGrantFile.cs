using System.Security.Cryptography;
using System.Text;
using CreditGrants.Grants;
using CsvHelper;

namespace CreditGrants.Bulk;

/// <summary>A slice of a bulk file: its rows' bytes, the line its first row starts on, and rows refused as repeats.</summary>
public sealed record BulkChunk(int Index, long StartByte, long EndByte, long FirstLine, int Rows, IReadOnlyList<long> DuplicateLines);

/// <summary>What one pass over a bulk file learns: its content hash, its columns, its rows and how they split into chunks.</summary>
public sealed record BulkFilePlan(string ContentHash, IReadOnlyList<string> Header, BulkColumns Columns, long Rows, IReadOnlyList<BulkChunk> Chunks);

/// <summary>Defaults a whole file's rows take when their own column is empty.</summary>
public sealed record BulkDefaults(string? Meter = null, string? Reason = null);

/// <summary>One row of a bulk file: its grant, or why it cannot be one.</summary>
public sealed record BulkRow(long Line, CreditGrant? Grant, IReadOnlyList<FieldError> Errors, string? Units, string? ExternalCustomerId, string? CustomerId)
{
    public bool IsValid => Grant is not null;

    /// <summary>The first problem as a sentence naming line, column and value.</summary>
    public string Rejection => Errors.Count == 0 ? "" : string.Join("; ", Errors.Select(e =>
        $"line {Line}, column {BulkColumns.ColumnOf(e.Field)}{(e.Value is null ? "" : $", value '{e.Value}'")}: {e.Message}"));
}

/// <summary>
/// Reads bulk grant files: UTF-8 (BOM or not), comma-separated, RFC 4180 quoting, LF or CRLF, a header row.
/// Files are streamed, never held whole in memory; a plan cuts them into chunks by byte range so that any
/// instance can read one chunk alone.
/// </summary>
public static class BulkGrantFile
{
    private static CsvReaderOptions Options(bool hasHeader) => CsvReaderOptions.Default with
    {
        Separator = ',',
        HasHeader = hasHeader,
        TrackLineNumbers = true,
        SkipEmptyLines = true,
        TrimWhitespace = false,
        FieldCountMismatch = CsvFieldCountHandling.Allow,
        MissingField = CsvMissingFieldHandling.ReturnEmpty,
        MalformedData = CsvMalformedDataHandling.Recover,
    };

    /// <summary>The largest header row accepted; a longer one (an unclosed quote, a file that is not CSV) is refused, never buffered.</summary>
    public const int MaxHeaderBytes = 64 * 1024;

    /// <summary>Checks the header row with the same rules as <see cref="PlanAsync"/>, reading little more than the header itself.</summary>
    public static async Task<BulkColumns> CheckHeaderAsync(Stream file, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var reader = CsvReader.Create(file, Options(hasHeader: true) with { MaxRecordSize = MaxHeaderBytes }, leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            try
            {
                await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (CsvFormatException)
            {
                throw new BulkFileException($"The header row is longer than {MaxHeaderBytes / 1024} KiB: is this a CSV file with one header row?");
            }

            var header = reader.Headers.ToList();
            return header.Count == 0
                ? throw new BulkFileException("The file is empty: it needs a header row such as 'external_customer_id,units'.")
                : BulkColumns.FromHeader(header);
        }
    }

    /// <summary>Reads the whole file once: checks the header, hashes the content, counts rows, finds repeated grant ids, cuts chunks.</summary>
    public static async Task<BulkFilePlan> PlanAsync(Stream file, int chunkRows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var hashing = new HashingReadStream(file, hash);
        var reader = CsvReader.Create(hashing, Options(hasHeader: true), leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
            var header = reader.Headers.ToList();
            if (header.Count == 0)
            {
                throw new BulkFileException("The file is empty: it needs a header row such as 'external_customer_id,units'.");
            }

            var columns = BulkColumns.FromHeader(header);
            var seenGrantIds = new HashSet<UInt128>();
            var chunks = new List<BulkChunk>();
            var duplicates = new List<long>();
            long rows = 0, chunkStart = 0, chunkFirstLine = 0;
            var chunkCount = 0;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (chunkCount == chunkRows)
                {
                    chunks.Add(new BulkChunk(chunks.Count, chunkStart, reader.ByteOffset, chunkFirstLine, chunkCount, duplicates));
                    duplicates = [];
                    chunkCount = 0;
                }

                if (chunkCount == 0)
                {
                    chunkStart = reader.ByteOffset;
                    chunkFirstLine = reader.LineNumber;
                }

                if (columns.GrantId >= 0 && reader.GetString(columns.GrantId) is { Length: > 0 } grantId && !seenGrantIds.Add(Fingerprint(grantId)))
                {
                    duplicates.Add(reader.LineNumber);
                }

                chunkCount++;
                rows++;
            }

            if (chunkCount > 0)
            {
                chunks.Add(new BulkChunk(chunks.Count, chunkStart, hashing.BytesRead, chunkFirstLine, chunkCount, duplicates));
            }

            // Read to the end so the hash covers every byte, trailing blank lines included.
            await hashing.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            return new BulkFilePlan(Convert.ToHexStringLower(hash.GetHashAndReset()), header, columns, rows, chunks);
        }
    }

    /// <summary>Reads the rows of one chunk from a stream of exactly its bytes, validating each with the grant rules.</summary>
    public static async IAsyncEnumerable<BulkRow> ReadChunkAsync(Stream chunkBytes, BulkColumns columns, string contentHash, BulkChunk chunk,
        BulkDefaults defaults, GrantValidator validator, string source,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(chunk);
        ArgumentNullException.ThrowIfNull(defaults);
        ArgumentNullException.ThrowIfNull(validator);
        var duplicateLines = chunk.DuplicateLines.Count == 0 ? null : chunk.DuplicateLines.ToHashSet();
        var reader = CsvReader.Create(chunkBytes, Options(hasHeader: false), leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var line = chunk.FirstLine + reader.LineNumber - 1;
                string? Field(int index) => index < 0 ? null : reader.GetString(index) is { Length: > 0 } value ? value : null;
                var externalId = Field(columns.ExternalCustomerId);
                var customerId = Field(columns.CustomerId);
                var units = Field(columns.Units);
                var explicitId = Field(columns.GrantId);
                var grantId = explicitId ?? GrantId.Derive("bulk", contentHash, line.ToString(System.Globalization.CultureInfo.InvariantCulture)).Value;
                var request = new GrantRequest(grantId, externalId, customerId, Field(columns.Email), Field(columns.Name), units,
                    Field(columns.Meter) ?? defaults.Meter, Field(columns.Reason) ?? defaults.Reason, source);
                var validation = validator.Validate(request);
                IReadOnlyList<FieldError> errors = validation.Errors;
                if (duplicateLines?.Contains(line) == true)
                {
                    errors = [.. errors, new FieldError("grantId", explicitId, "repeats a grant_id of an earlier row of this file; a grant id grants once")];
                }

                yield return new BulkRow(line, errors.Count == 0 ? validation.Grant : null, errors, units, externalId, customerId);
            }
        }
    }

    private static UInt128 Fingerprint(string grantId)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(grantId), digest);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }

    /// <summary>Passes reads through while hashing every byte and counting them.</summary>
    private sealed class HashingReadStream(Stream inner, IncrementalHash hash) : ForwardOnlyReadStream
    {
        public long BytesRead { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            hash.AppendData(buffer[..read]);
            BytesRead += read;
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            hash.AppendData(buffer.Span[..read]);
            BytesRead += read;
            return read;
        }
    }
}
