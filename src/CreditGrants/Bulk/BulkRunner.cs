using CreditGrants.Grants;
using CreditGrants.Polar;
using Microsoft.Extensions.Options;

namespace CreditGrants.Bulk;

/// <summary>Totals of a bulk run; every row ends in exactly one of granted, duplicate, granted-or-duplicate, rejected or failed.</summary>
public sealed record BulkSummary(long Rows, long Granted, long Duplicates, long GrantedOrDuplicate, long Rejected, long Failed,
    decimal UnitsGranted, long IngestRequests)
{
    public static BulkSummary Empty { get; } = new(0, 0, 0, 0, 0, 0, 0, 0);

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
            UnitsGranted = UnitsGranted + chunk.UnitsGranted,
            IngestRequests = IngestRequests + chunk.IngestRequests,
        };
    }
}

/// <summary>Where a bulk run is: rows done out of all, and the totals so far.</summary>
public sealed record BulkProgress(long RowsDone, long RowsTotal, BulkSummary Summary);

/// <summary>
/// Processes a bulk file chunk by chunk with the same code the queue function runs: one pass to plan, then
/// each chunk read from its byte range, granted, and its outcomes appended to the results file.
/// </summary>
public sealed class BulkRunner(BulkChunkProcessor processor, GrantValidator validator, IOptions<BulkOptions> options)
{
    /// <summary>Grants the rows of one chunk read from a stream of exactly its bytes.</summary>
    public async Task<ChunkResult> ProcessChunkAsync(Stream chunkBytes, BulkColumns columns, string contentHash, BulkChunk chunk,
        BulkDefaults defaults, string source, CancellationToken cancellationToken = default)
    {
        var rows = new List<BulkRow>(chunk.Rows);
        await foreach (var row in BulkGrantFile.ReadChunkAsync(chunkBytes, columns, contentHash, chunk, defaults, validator, source, cancellationToken)
                           .ConfigureAwait(false))
        {
            rows.Add(row);
        }

        return await processor.ProcessAsync(rows, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One <c>failed</c> outcome per row of a chunk that could not be processed, read from its bytes without Polar.</summary>
    public async Task<IReadOnlyList<RowOutcome>> FailedRowsAsync(Stream chunkBytes, BulkColumns columns, string contentHash, BulkChunk chunk,
        BulkDefaults defaults, string source, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var rows = new List<RowOutcome>(chunk.Rows);
        await foreach (var row in BulkGrantFile.ReadChunkAsync(chunkBytes, columns, contentHash, chunk, defaults, validator, source, cancellationToken)
                           .ConfigureAwait(false))
        {
            rows.Add(new RowOutcome(row.Line, row.Grant?.GrantId.Value, row.ExternalCustomerId, row.CustomerId, row.Units, row.Grant?.Meter,
                RowStatus.Failed, reason));
        }

        return rows;
    }

    private async Task<ChunkResult> FailedAsync(Stream chunkBytes, BulkFilePlan plan, BulkChunk chunk, BulkDefaults defaults, string source,
        Exception reason)
    {
        var why = reason is OperationCanceledException
            ? "not processed: the run was stopped; run the file again (it grants nothing twice)"
            : $"not processed: {reason.Message} Run the file again; it grants nothing twice.";
        var rows = await FailedRowsAsync(chunkBytes, plan.Columns, plan.ContentHash, chunk, defaults, source, why, CancellationToken.None)
            .ConfigureAwait(false);
        return new ChunkResult(rows, 0, 0, 0, 0, 0);
    }

    /// <summary>Runs a local file end to end and writes the results CSV to <paramref name="resultsPath"/>.</summary>
    public async Task<BulkSummary> RunFileAsync(string path, string resultsPath, BulkDefaults defaults, IProgress<BulkProgress>? progress,
        CancellationToken cancellationToken = default)
    {
        BulkFilePlan plan;
        var file = File.OpenRead(path);
        await using (file.ConfigureAwait(false))
        {
            plan = await BulkGrantFile.PlanAsync(file, options.Value.ChunkRows, cancellationToken).ConfigureAwait(false);
        }

        var summary = BulkSummary.Empty;
        progress?.Report(new BulkProgress(0, plan.Rows, summary));
        var results = File.Create(resultsPath);
        await using (results.ConfigureAwait(false))
        {
            var writer = new BulkResultsWriter(results, leaveOpen: true);
            await using (writer.ConfigureAwait(false))
            {
                var source = $"bulk:{plan.ContentHash[..12]}";
                Exception? stopped = null;
                foreach (var chunk in plan.Chunks)
                {
                    var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
                    await using (input.ConfigureAwait(false))
                    {
                        input.Seek(chunk.StartByte, SeekOrigin.Begin);
                        var slice = new SliceStream(input, chunk.EndByte - chunk.StartByte);
                        ChunkResult result;
                        if (stopped is null)
                        {
                            try
                            {
                                result = await ProcessChunkAsync(slice, plan.Columns, plan.ContentHash, chunk, defaults, source, cancellationToken)
                                    .ConfigureAwait(false);
                            }
                            catch (Exception ex) when (ex is PolarException { Kind: PolarErrorKind.Unavailable or PolarErrorKind.RateLimited }
                                                           or OperationCanceledException)
                            {
                                stopped = ex;
                                input.Seek(chunk.StartByte, SeekOrigin.Begin);
                                slice = new SliceStream(input, chunk.EndByte - chunk.StartByte);
                                result = await FailedAsync(slice, plan, chunk, defaults, source, ex).ConfigureAwait(false);
                            }
                        }
                        else
                        {
                            result = await FailedAsync(slice, plan, chunk, defaults, source, stopped).ConfigureAwait(false);
                        }

                        // Outcomes are written even for rows not processed, so the results file always has one line per row.
                        await writer.WriteAsync(result.Rows, CancellationToken.None).ConfigureAwait(false);
                        summary = summary.Add(result);
                        progress?.Report(new BulkProgress(summary.Rows, plan.Rows, summary));
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
}
