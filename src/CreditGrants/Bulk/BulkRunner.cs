using CreditGrants.Customers;
using CreditGrants.Grants;
using CreditGrants.Polar;
using Microsoft.Extensions.Options;

namespace CreditGrants.Bulk;

/// <summary>
/// Totals of a bulk run; every row ends in exactly one of granted, duplicate, granted-or-duplicate, rejected or failed (or, in
/// a dry run, would-grant instead of the first three).
/// </summary>
public sealed record BulkSummary(long Rows, long Granted, long Duplicates, long GrantedOrDuplicate, long Rejected, long Failed,
    decimal UnitsGranted, long IngestRequests)
{
    public static BulkSummary Empty { get; } = new(0, 0, 0, 0, 0, 0, 0, 0);

    /// <summary>Rows a dry run found ready to grant.</summary>
    public long WouldGrant { get; init; }

    /// <summary>The units of the rows a dry run found ready to grant.</summary>
    public decimal UnitsWouldGrant { get; init; }

    /// <summary>Rows granted (or ready to grant, in a dry run) to an external id that no Polar customer holds yet: see their notes.</summary>
    public long AwaitingCustomer { get; init; }

    /// <summary>Rows sent (or ready to send, in a dry run) by external id to customers nobody checked yet: see their notes.</summary>
    public long Unchecked { get; init; }

    public BulkSummary Add(ChunkResult chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        return this with
        {
            Rows = Rows + chunk.Rows.Count,
            Granted = Granted + chunk.Rows.Count(r => r.Status == RowStatus.Granted),
            Duplicates = Duplicates + chunk.Rows.Count(r => r.Status == RowStatus.Duplicate),
            GrantedOrDuplicate = GrantedOrDuplicate + chunk.Ambiguous,
            Rejected = Rejected + chunk.Rejected,
            Failed = Failed + chunk.Rows.Count(r => r.Status == RowStatus.Failed),
            WouldGrant = WouldGrant + chunk.Rows.Count(r => r.Status == RowStatus.WouldGrant),
            AwaitingCustomer = AwaitingCustomer + chunk.AwaitingCustomer,
            Unchecked = Unchecked + chunk.Unchecked,
            UnitsGranted = UnitsGranted + chunk.UnitsGranted,
            UnitsWouldGrant = UnitsWouldGrant + chunk.UnitsWouldGrant,
            IngestRequests = IngestRequests + chunk.IngestRequests,
        };
    }
}

/// <summary>A local run of a file: the defaults of its rows, the batch its grant ids belong to, and whether it only checks.</summary>
/// <param name="Defaults">Meter and reason of rows that leave them empty.</param>
/// <param name="Batch">The batch name (see <see cref="BulkGrantIds.BatchAndRow"/>); the CLI uses the file's base name unless told.</param>
/// <param name="DryRun">Check every row as a real run would, write the results, and grant nothing.</param>
/// <param name="RequireExistingCustomers">Reject rows to external ids that no Polar customer holds (and that bring no email)
/// instead of granting them with a note.</param>
public sealed record BulkRun(BulkDefaults Defaults, string Batch, bool DryRun = false, bool RequireExistingCustomers = false);

/// <summary>Where a bulk run is: rows done out of all, and the totals so far.</summary>
public sealed record BulkProgress(long RowsDone, long RowsTotal, BulkSummary Summary);

/// <summary>
/// Processes a bulk file chunk by chunk with the same code the queue function runs: one pass to plan, then
/// each chunk read from its byte range, granted, and its outcomes appended to the results file.
/// </summary>
public sealed class BulkRunner(BulkChunkProcessor processor, GrantValidator validator, IOptions<BulkOptions> options)
{
    /// <summary>Grants the rows of one chunk read from a stream of exactly its bytes.</summary>
    /// <param name="chunkBytes">Exactly the chunk's bytes.</param>
    /// <param name="reading">The job's format, columns, grant id rule and defaults.</param>
    /// <param name="chunk">The chunk, as the plan cut it.</param>
    /// <param name="source">What the grant events name as their source (<c>bulk:&lt;job&gt;</c>).</param>
    /// <param name="chunkOptions">Dry run, whether customers must exist, and the rows from this chunk to the end of the file.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    public async Task<ChunkResult> ProcessChunkAsync(Stream chunkBytes, BulkReading reading, BulkChunk chunk, string source, ChunkOptions chunkOptions,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var rows = await ReadRowsAsync(chunkBytes, reading, chunk, source, cancellationToken).ConfigureAwait(false);
        return await processor.ProcessAsync(rows, chunkOptions, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A chunk's rows, read and validated from a stream of exactly its bytes, in file order.</summary>
    private async Task<List<BulkRow>> ReadRowsAsync(Stream chunkBytes, BulkReading reading, BulkChunk chunk, string source,
        CancellationToken cancellationToken)
    {
        var rows = new List<BulkRow>(chunk.Rows);
        await foreach (var row in BulkGrantFile.ReadChunkAsync(chunkBytes, reading, chunk, validator, source, cancellationToken).ConfigureAwait(false))
        {
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>One <c>failed</c> outcome per row of a chunk that could not be processed, read from its bytes without Polar.</summary>
    public async Task<IReadOnlyList<RowOutcome>> FailedRowsAsync(Stream chunkBytes, BulkReading reading, BulkChunk chunk, string source, string reason,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var rows = new List<RowOutcome>(chunk.Rows);
        await foreach (var row in BulkGrantFile.ReadChunkAsync(chunkBytes, reading, chunk, validator, source, cancellationToken)
                           .ConfigureAwait(false))
        {
            rows.Add(FailedOutcome(row, reason));
        }

        return rows;
    }

    /// <summary>
    /// Runs a local file end to end and writes the results CSV to <paramref name="resultsPath"/>. A UTF-16 file (byte order
    /// mark) is transcoded to a temporary UTF-8 copy first, so that every pass reads the same bytes.
    /// </summary>
    /// <exception cref="BulkFileException">The file cannot be used as a whole (encoding, header, no rows); nothing was granted.</exception>
    public async Task<BulkSummary> RunFileAsync(string path, string resultsPath, BulkRun run, IProgress<BulkProgress>? progress,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var ids = BulkGrantIds.ForBatch(run.Batch);
        var utf8Copy = await Utf8CopyAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunUtf8FileAsync(utf8Copy ?? path, resultsPath, run, ids, progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (utf8Copy is not null)
            {
                File.Delete(utf8Copy);
            }
        }
    }

    /// <summary>A temporary UTF-8 copy of a file that starts with a UTF-16 byte order mark; null for a file that is UTF-8 already.</summary>
    private static async Task<string?> Utf8CopyAsync(string path, CancellationToken cancellationToken)
    {
        var input = File.OpenRead(path);
        await using (input.ConfigureAwait(false))
        {
            var head = new byte[4];
            var length = await input.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (BulkFileEncoding.Of(head.AsSpan(0, length)) is not { } encoding)
            {
                return null;
            }

            input.Position = 0;
            var copy = Path.Combine(Path.GetTempPath(), $"credits-bulk-{Guid.NewGuid():N}.csv");
            var output = new FileStream(copy, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            await using (output.ConfigureAwait(false))
            {
                try
                {
                    await BulkFileEncoding.TranscodeToUtf8Async(input, encoding, output, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    await output.DisposeAsync().ConfigureAwait(false);
                    File.Delete(copy);
                    throw;
                }
            }

            return copy;
        }
    }

    private async Task<BulkSummary> RunUtf8FileAsync(string path, string resultsPath, BulkRun run, BulkGrantIds ids, IProgress<BulkProgress>? progress,
        CancellationToken cancellationToken)
    {
        BulkFilePlan plan;
        var file = File.OpenRead(path);
        await using (file.ConfigureAwait(false))
        {
            plan = await BulkGrantFile.PlanAsync(file, options.Value.ChunkRows, run.Defaults, cancellationToken).ConfigureAwait(false);
        }

        var reading = new BulkReading(plan.Format, plan.Columns, ids, run.Defaults);
        var source = $"bulk:{plan.ContentHash[..12]}";
        var summary = BulkSummary.Empty;
        progress?.Report(new BulkProgress(0, plan.Rows, summary));
        var results = File.Create(resultsPath);
        await using (results.ConfigureAwait(false))
        {
            var writer = new BulkResultsWriter(results, leaveOpen: true);
            await using (writer.ConfigureAwait(false))
            {
                Exception? stopped = null;
                // Chunk k + 1 is read and validated on another thread while chunk k is granted: one chunk ahead at most, so
                // memory stays flat. Reading needs no Polar and is not cancelled, so every row of the file gets its outcome.
                var next = plan.Chunks.Count == 0 ? null : ReadAheadAsync(path, reading, plan.Chunks[0], source);
                try
                {
                    for (var k = 0; k < plan.Chunks.Count; k++)
                    {
                        var (rows, known) = await next!.ConfigureAwait(false);
                        next = k + 1 < plan.Chunks.Count ? ReadAheadAsync(path, reading, plan.Chunks[k + 1], source) : null;
                        ChunkResult result;
                        if (stopped is null)
                        {
                            try
                            {
                                cancellationToken.ThrowIfCancellationRequested();
                                var chunkOptions = new ChunkOptions(run.DryRun, run.RequireExistingCustomers, plan.Rows - summary.Rows, Known: known);
                                result = await processor.ProcessAsync(rows, chunkOptions, cancellationToken).ConfigureAwait(false);
                            }
                            catch (Exception ex) when (ex is PolarException { Kind: PolarErrorKind.Unavailable or PolarErrorKind.RateLimited }
                                                           or OperationCanceledException)
                            {
                                stopped = ex;
                                result = Failed(rows, ex);
                            }
                        }
                        else
                        {
                            result = Failed(rows, stopped);
                        }

                        // Outcomes are written in file order, even for rows not processed: the results file has one line per row.
                        await writer.WriteAsync(result.Rows, CancellationToken.None).ConfigureAwait(false);
                        summary = summary.Add(result);
                        progress?.Report(new BulkProgress(summary.Rows, plan.Rows, summary));
                    }
                }
                finally
                {
                    // A chunk that failed otherwise ends the run: its read-ahead is let finish, so that no read outlives the run.
                    if (next is not null)
                    {
                        await ((Task)next).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    }
                }

                if (stopped is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(stopped).Throw();
                }
            }
        }

        return summary;
    }

    /// <summary>Reads and validates one chunk's rows from its byte range, on a thread pool thread.</summary>
    private Task<(List<BulkRow> Rows, IReadOnlyDictionary<string, CustomerDirectoryEntry> Known)> ReadAheadAsync(string path, BulkReading reading,
        BulkChunk chunk, string source) =>
        Task.Run(async () =>
        {
            List<BulkRow> rows;
            var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
            await using (input.ConfigureAwait(false))
            {
                input.Seek(chunk.StartByte, SeekOrigin.Begin);
                rows = await ReadRowsAsync(new SliceStream(input, chunk.EndByte - chunk.StartByte), reading, chunk, source, CancellationToken.None)
                    .ConfigureAwait(false);
            }

            // The directory's lookup too, so that it overlaps the previous chunk's Polar requests instead of following them.
            return (rows, await processor.KnownCustomersAsync(rows, CancellationToken.None).ConfigureAwait(false));
        });

    /// <summary>One <c>failed</c> outcome per row of a chunk that was not processed, saying why.</summary>
    private static ChunkResult Failed(List<BulkRow> rows, Exception reason)
    {
        var why = reason is OperationCanceledException
            ? "not processed: the run was stopped; run the file again (it grants nothing twice)"
            : $"not processed: {reason.Message} Run the file again; it grants nothing twice.";
        return new ChunkResult(rows.ConvertAll(row => FailedOutcome(row, why)), 0, 0, 0, 0, 0);
    }

    private static RowOutcome FailedOutcome(BulkRow row, string reason) =>
        new(row.Line, row.Grant?.GrantId.Value, row.ExternalCustomerId, row.CustomerId, row.Units, row.Grant?.Meter, RowStatus.Failed, reason);
}
