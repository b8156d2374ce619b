using System.Globalization;
using CreditGrants.Bulk;
using CreditGrants.Customers;
using CsvHelper;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Storage.Bulk;

/// <summary>
/// Settles a finished job's unchecked rows (grants sent by external id to customers nobody checked): background work, one
/// <c>settle</c> queue message at a time. Each message sweeps a slice of the customer list (<see cref="CustomerDirectory.SlicePages"/>
/// pages, continuing from the sweep's checkpoint, one sweeper across instances) and enqueues the next; once a sweep that finished
/// after the job's last ingest is in the directory, each unchecked row becomes a plain grant (a customer holds its id) or a grant
/// awaiting its customer (none does), in the chunk's counts and in the results file. Nothing is granted again: only the
/// bookkeeping changes. Sweeps are background traffic, inside the request budget's background share.
/// </summary>
public sealed partial class BulkSettlement(BulkStore store, CustomerDirectory directory, TimeProvider time, ILogger<BulkSettlement> logger)
{
    /// <summary>The prefix of a row's reason that <see cref="BulkChunkProcessor.UncheckedNote"/> adds after the ingest outcome.</summary>
    private const string UncheckedMarker = "; unchecked: ";

    /// <param name="jobId">A finished job with unchecked rows.</param>
    /// <param name="cancellationToken">The host's shutdown signal; the sweep's checkpoint stands.</param>
    public async Task SweepAndSettleAsync(string jobId, CancellationToken cancellationToken)
    {
        var job = await store.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (job is not { FinishedAt: { } finishedAt, UncheckedSettledAt: null })
        {
            LogNothingToSettle(jobId);
            return;
        }

        if (!directory.Enabled)
        {
            return;
        }

        var state = await directory.SweepStateAsync(cancellationToken).ConfigureAwait(false);
        if (await directory.SweptAtAsync(cancellationToken).ConfigureAwait(false) is { } sweptAt)
        {
            if (state.FinishedAt >= finishedAt)
            {
                await SettleAsync(jobId, cancellationToken).ConfigureAwait(false);
                return;
            }

            // A trusted sweep that ended before the job's last ingest: no new sweep starts before it lapses, so look again then.
            var lapses = sweptAt + directory.TrustFor - time.GetUtcNow();
            await store.SendLaterAsync(BulkMessage.Settle(jobId), lapses > directory.SweepRecheck ? lapses : directory.SweepRecheck, cancellationToken)
                .ConfigureAwait(false);
            return;
        }

        var swept = await directory.ContinueSweepAsync(directory.SlicePages, cancellationToken).ConfigureAwait(false);
        if (swept is { Complete: true })
        {
            await SettleAsync(jobId, cancellationToken).ConfigureAwait(false);
            return;
        }

        // A slice done (go on at once), or another instance sweeping / a trusted sweep older than the job (look again later).
        await (swept is null
            ? store.SendLaterAsync(BulkMessage.Settle(jobId), directory.SweepRecheck, cancellationToken)
            : store.SendAsync(BulkMessage.Settle(jobId), cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Rewrites each chunk's unchecked rows from the directory (now trusted whole), then the job's results file and counts.</summary>
    private async Task SettleAsync(string jobId, CancellationToken cancellationToken)
    {
        var chunks = await store.ListChunksAsync(jobId, ChunkState.Done, statusOnly: true, cancellationToken).ConfigureAwait(false);
        long settled = 0, awaiting = 0;
        foreach (var summary in chunks.Where(c => c.Unchecked > 0 && c.ResultsBlob is not null))
        {
            var chunk = await store.GetChunkAsync(jobId, summary.Index, cancellationToken).ConfigureAwait(false);
            if (chunk is not { State: ChunkState.Done, ResultsBlob: { } blob } || chunk.Unchecked == 0)
            {
                continue;
            }

            var rows = await ReadRowsAsync(blob, cancellationToken).ConfigureAwait(false);
            var status = Array.IndexOf(BulkResultsWriter.Columns, "status");
            var reason = Array.IndexOf(BulkResultsWriter.Columns, "reason");
            var customer = Array.IndexOf(BulkResultsWriter.Columns, "external_customer_id");
            var ids = rows.Where(r => r[status] == "unchecked").Select(r => BulkResultsWriter.Unneutralized(r[customer])).Distinct(StringComparer.Ordinal).ToList();
            var known = await directory.KnownAsync(ids, cancellationToken).ConfigureAwait(false);
            var linkBy = (chunk.CompletedAt ?? time.GetUtcNow()) + BulkChunkProcessor.LinkingWindow;
            int chunkSettled = 0, chunkAwaiting = 0;
            foreach (var row in rows.Where(r => r[status] == "unchecked"))
            {
                var (outcome, before) = Underlying(row[reason]);
                var id = BulkResultsWriter.Unneutralized(row[customer]);
                row[status] = BulkResultsWriter.StatusText(outcome);
                if (known.ContainsKey(id))
                {
                    row[reason] = before ?? "";
                }
                else
                {
                    row[reason] = (before is null ? "" : before + "; ") + BulkChunkProcessor.AwaitingNote(id, linkBy);
                    chunkAwaiting++;
                }

                chunkSettled++;
            }

            var settledBlob = blob.EndsWith("-settled.csv", StringComparison.Ordinal) ? blob : blob[..^".csv".Length] + "-settled.csv";
            await WriteRowsAsync(settledBlob, rows, cancellationToken).ConfigureAwait(false);
            chunk.ResultsBlob = settledBlob;
            chunk.Unchecked = Math.Max(0, chunk.Unchecked - chunkSettled);
            chunk.AwaitingCustomer += chunkAwaiting;
            if (!await store.TryReplaceChunkAsync(chunk, cancellationToken).ConfigureAwait(false))
            {
                // Another delivery settled this chunk first; its counts stand.
                continue;
            }

            settled += chunkSettled;
            awaiting += chunkAwaiting;
        }

        var all = await store.ListChunksAsync(jobId, state: null, statusOnly: true, cancellationToken).ConfigureAwait(false);
        var results = await store.AssembleResultsAsync(jobId, all, cancellationToken).ConfigureAwait(false);
        await store.UpdateJobAsync(jobId, j =>
        {
            j.ResultsBlob = results;
            j.UncheckedSettledAt = time.GetUtcNow();
            return true;
        }, cancellationToken).ConfigureAwait(false);
        LogSettled(jobId, settled, awaiting);
    }

    /// <summary>What Polar said of an unchecked row before the note: its status, and its reason (null for a plain grant).</summary>
    private static (RowStatus Status, string? Reason) Underlying(string reason)
    {
        var at = reason.IndexOf(UncheckedMarker, StringComparison.Ordinal);
        var before = at < 0 ? "granted" : reason[..at];
        return before switch
        {
            "granted" => (RowStatus.Granted, null),
            _ when before.StartsWith("already granted", StringComparison.Ordinal) => (RowStatus.Duplicate, before),
            _ => (RowStatus.GrantedOrDuplicate, before),
        };
    }

    private async Task<List<string[]>> ReadRowsAsync(string blob, CancellationToken cancellationToken)
    {
        var rows = new List<string[]>();
        var content = await store.Results.GetBlobClient(blob).OpenReadAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var reader = CsvReader.Create(content, CsvReaderOptions.Default with { HasHeader = false }, leaveOpen: false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add([.. Enumerable.Range(0, BulkResultsWriter.Columns.Length).Select(reader.GetString)]);
            }
        }

        return rows;
    }

    private async Task WriteRowsAsync(string blob, IReadOnlyList<string[]> rows, CancellationToken cancellationToken)
    {
        var destination = await store.Results.GetBlobClient(blob).OpenWriteAsync(overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        var writer = CsvWriter.Create(destination, CsvWriterOptions.Default with { NewLine = "\n", Injection = CsvInjection.Escape }, leaveOpen: false);
        await using (writer.ConfigureAwait(false))
        {
            foreach (var row in rows)
            {
                writer.WriteRecord(row);
            }

            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: nothing to settle (not finished, settled before, or gone)")]
    private partial void LogNothingToSettle(string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: {Settled} unchecked rows settled after the customer sweep, {Awaiting} of them to external ids no customer holds")]
    private partial void LogSettled(string jobId, long settled, long awaiting);
}
