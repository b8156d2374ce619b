using System.Text.Json;
using Azure;
using CreditGrants.Bulk;
using CreditGrants.Customers;
using CreditGrants.Grants;
using CreditGrants.Polar;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Storage.Bulk;

/// <summary>How the queue host retries a message: <see cref="MaxDequeueCount"/> deliveries, then the poison queue.</summary>
public sealed record BulkQueuePolicy(int MaxDequeueCount)
{
    /// <summary>The Functions host's default <c>maxDequeueCount</c>.</summary>
    public static BulkQueuePolicy Default { get; } = new(5);
}

/// <summary>
/// Processes the bulk queue's messages. A <c>plan</c> message streams the uploaded file once to cut it into chunks and
/// enqueues one message per chunk; a <c>chunk</c> message reads its byte range, grants its rows and records its outcomes;
/// <c>settle</c> goes to <see cref="BulkSettlement"/> and <c>revoke</c> to <see cref="BulkRevocationRuns"/>.
/// Failures propagate so the host retries the message; on its last delivery the failure is recorded on the job first.
/// A message processed twice grants nothing twice (Polar deduplicates the grant ids) and counts nothing twice (a chunk's
/// counts are written once, guarded by its ETag).
/// </summary>
public sealed partial class BulkWorker(BulkStore store, BulkJobs jobs, BulkRunner runner, BulkQueuePolicy policy, BulkSettlement settlement,
    CustomerDirectory directory, TimeProvider time, ILogger<BulkWorker> logger, BulkRevocationRuns revocations)
{

    private const int MaxReasonLength = 1000;
    private const int EnqueueParallelism = 16;

    /// <param name="body">The message body, as the queue trigger hands it over (decoded).</param>
    /// <param name="dequeueCount">Which delivery this is, from 1; at the policy's maximum it is the last.</param>
    /// <param name="messageId">The queue message's id; with the delivery it names this attempt's results blob.</param>
    /// <param name="cancellationToken">The host's shutdown signal.</param>
    public async Task HandleAsync(BinaryData body, long dequeueCount, string messageId, CancellationToken cancellationToken)
    {
        var message = BulkMessage.Parse(body);
        var attempt = new Attempt(dequeueCount, policy.MaxDequeueCount, $"{Sanitize(messageId)}-{dequeueCount}");
        await store.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        if (message.Kind == BulkMessage.PlanKind)
        {
            await PlanAsync(message.JobId, attempt, cancellationToken).ConfigureAwait(false);
        }
        else if (message.Kind == BulkMessage.SettleKind)
        {
            await settlement.SweepAndSettleAsync(message.JobId, cancellationToken).ConfigureAwait(false);
        }
        else if (message.Kind == BulkMessage.RevokeKind)
        {
            await revocations.HandleAsync(message.JobId, message.Revoke!, attempt.Name, attempt.IsLast, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await ProcessChunkAsync(message.JobId, message.Chunk!, attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task PlanAsync(string jobId, Attempt attempt, CancellationToken cancellationToken)
    {
        var job = await store.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (job is null || job.PlanError is not null)
        {
            LogStale(jobId, "plan");
            return;
        }

        try
        {
            if (job.StartedAt is null)
            {
                await PlanFileAsync(job, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // Planned before, and this delivery repeats it (the last one stopped after planning): enqueue what is left.
                var pending = await store.ListChunksAsync(jobId, ChunkState.Pending, statusOnly: false, cancellationToken).ConfigureAwait(false);
                LogReplanned(jobId, pending.Count);
                await EnqueueAsync(jobId, pending.Select(c => c.ToChunk()), cancellationToken).ConfigureAwait(false);
            }

            await jobs.FinishIfDoneAsync(jobId, cancellationToken).ConfigureAwait(false);
        }
        catch (BulkFileException ex)
        {
            // No retry can fix the file itself.
            await FailPlanAsync(jobId, ex.Message, attempt, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAttemptFailed(jobId, "plan", attempt.DequeueCount, attempt.MaxDequeueCount, Describe(ex));
            if (attempt.IsLast)
            {
                await RecordAsync(() => FailPlanAsync(jobId, Describe(ex), attempt, cancellationToken), jobId).ConfigureAwait(false);
            }

            throw;
        }
    }

    private async Task PlanFileAsync(JobEntity job, CancellationToken cancellationToken)
    {
        var jobId = job.PartitionKey;
        BulkFilePlan plan;
        var file = await store.OpenUploadAsync(job.UploadBlob, cancellationToken).ConfigureAwait(false);
        await using (file.ConfigureAwait(false))
        {
            plan = await BulkGrantFile.PlanAsync(file, store.Options.ChunkRows, job.Defaults, cancellationToken).ConfigureAwait(false);
        }

        if (!string.Equals(plan.ContentHash, job.ContentHash, StringComparison.Ordinal))
        {
            throw new BulkFileException("The uploaded file changed after it was submitted (its content hash differs); submit the file again.");
        }

        if (plan.Chunks.FirstOrDefault(c => JsonSerializer.Serialize(c, BulkJsonContext.Default.BulkChunk).Length > BulkMessage.MaxChunkJsonLength) is { } big)
        {
            throw new BulkFileException(
                $"Chunk {big.Index} (from line {big.FirstLine}) repeats {big.DuplicateLines.Count} grant ids and {big.RepeatLines.Count} identical rows of " +
                $"earlier rows: too many to describe in a queue message. Remove the repeated rows or lower Bulk:ChunkRows ({store.Options.ChunkRows}).");
        }

        // Chunks first, then the job: a job marked planned always has all its chunk rows.
        await store.WriteChunksAsync(jobId, plan.Chunks, cancellationToken).ConfigureAwait(false);
        var header = JsonSerializer.Serialize(plan.Header.ToArray(), BulkJsonContext.Default.StringArray);
        await store.UpdateJobAsync(jobId, j =>
        {
            j.Header = header;
            j.Separator = plan.Format.Separator.ToString();
            j.HeaderStart = plan.Format.HeaderStart;
            j.HeaderLine = plan.Format.HeaderLine;
            j.Rows = plan.Rows;
            j.Chunks = plan.Chunks.Count;
            j.StartedAt = time.GetUtcNow();
            return true;
        }, cancellationToken).ConfigureAwait(false);
        LogPlanned(jobId, plan.Rows, plan.Chunks.Count);
        await EnqueueAsync(jobId, plan.Chunks, cancellationToken).ConfigureAwait(false);
    }

    private Task EnqueueAsync(string jobId, IEnumerable<BulkChunk> chunks, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = EnqueueParallelism, CancellationToken = cancellationToken },
            async (chunk, ct) => await store.SendAsync(BulkMessage.ForChunk(jobId, chunk), ct).ConfigureAwait(false));

    private async Task FailPlanAsync(string jobId, string reason, Attempt attempt, CancellationToken cancellationToken)
    {
        await store.UpdateJobAsync(jobId, j =>
        {
            j.PlanError = Shorten(reason);
            j.PlanAttempts = (int)attempt.DequeueCount;
            j.FinishedAt = time.GetUtcNow();
            return true;
        }, cancellationToken).ConfigureAwait(false);
        LogPlanFailed(jobId, reason);
    }

    private async Task ProcessChunkAsync(string jobId, BulkChunk chunk, Attempt attempt, CancellationToken cancellationToken)
    {
        var job = await store.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        var entity = job?.StartedAt is null ? null : await store.GetChunkAsync(jobId, chunk.Index, cancellationToken).ConfigureAwait(false);
        if (job is null || entity is null)
        {
            LogStale(jobId, $"chunk {chunk.Index}");
            return;
        }

        if (entity.State == ChunkState.Done)
        {
            // A redelivery, or a second copy of the message: its rows are granted and counted already.
            LogAlreadyDone(jobId, chunk.Index);
            await jobs.FinishIfDoneAsync(jobId, cancellationToken).ConfigureAwait(false);
            return;
        }

        try
        {
            ChunkResult result;
            var range = await store.DownloadRangeAsync(job.UploadBlob, chunk.StartByte, chunk.EndByte - chunk.StartByte, cancellationToken)
                .ConfigureAwait(false);
            await using (range.ConfigureAwait(false))
            {
                // Chunks are cut at ChunkRows rows, so the rows from this chunk on are about the rows less the chunks before it.
                var rowsAhead = Math.Max(chunk.Rows, (job.Rows ?? 0) - (long)chunk.Index * store.Options.ChunkRows);
                // The source names this job: a repeated grant of its own source was sent by an earlier delivery (stopped before
                // recording it) or an attempt whose answer was lost, and counts as granted.
                // A sweep of the customer list runs a slice per invocation; a chunk that needs one that is not over is taken up again later.
                var options = new ChunkOptions(job.DryRun, job.RequireExistingCustomers, rowsAhead, SourceIsOneJob: true, SweepPages: directory.SlicePages);
                result = await runner.ProcessChunkAsync(range, job.Reading, chunk, $"bulk:{jobId}", options, cancellationToken)
                    .ConfigureAwait(false);
            }

            var resultsBlob = BulkStore.ChunkResultsBlobName(jobId, chunk.Index, attempt.Name);
            await store.WriteChunkResultsAsync(resultsBlob, result.Rows, cancellationToken).ConfigureAwait(false);
            entity.State = ChunkState.Done;
            entity.Granted = result.Granted;
            entity.Duplicates = result.Duplicates;
            entity.GrantedOrDuplicate = result.Ambiguous;
            entity.Rejected = result.Rejected;
            entity.WouldGrant = result.Rows.Count(r => r.Status == RowStatus.WouldGrant);
            entity.AwaitingCustomer = result.AwaitingCustomer;
            entity.Unchecked = result.Unchecked;
            entity.UnitsGranted = result.UnitsGranted.ToString(System.Globalization.CultureInfo.InvariantCulture);
            entity.IngestRequests = result.IngestRequests;
            entity.ResultsBlob = resultsBlob;
            entity.CompletedAt = time.GetUtcNow();
            entity.Error = null;
            entity.FailedAt = null;
            if (await store.TryReplaceChunkAsync(entity, cancellationToken).ConfigureAwait(false))
            {
                LogChunkDone(jobId, chunk.Index, result.Granted, result.Duplicates, result.Rejected);
            }
            else
            {
                // Another delivery of this chunk recorded it first; its counts stand, and this attempt's outcomes go.
                LogAlreadyDone(jobId, chunk.Index);
                await store.DeleteResultsBlobAsync(resultsBlob, cancellationToken).ConfigureAwait(false);
            }

            await jobs.FinishIfDoneAsync(jobId, cancellationToken).ConfigureAwait(false);
        }
        catch (CustomerSweepPendingException ex)
        {
            // Not a failure: nothing of the chunk was sent. Taken up again once more of the sweep is done (a slice per invocation).
            LogChunkDeferred(jobId, chunk.Index, ex.Message);
            await store.SendLaterAsync(BulkMessage.ForChunk(jobId, chunk), directory.SweepRecheck, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAttemptFailed(jobId, $"chunk {chunk.Index}", attempt.DequeueCount, attempt.MaxDequeueCount, Describe(ex));
            if (attempt.IsLast)
            {
                await RecordAsync(async () =>
                {
                    await FailChunkAsync(job, chunk, Describe(ex), attempt, cancellationToken).ConfigureAwait(false);
                    await jobs.FinishIfDoneAsync(jobId, cancellationToken).ConfigureAwait(false);
                }, jobId).ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>
    /// Marks the chunk failed (its rows count as failed, and the results file lists each as <c>failed</c> with the reason)
    /// unless another delivery finished it meanwhile.
    /// </summary>
    private async Task FailChunkAsync(JobEntity job, BulkChunk chunk, string reason, Attempt attempt, CancellationToken cancellationToken)
    {
        var jobId = job.PartitionKey;
        var resultsBlob = await WriteFailedRowsAsync(job, chunk, reason, attempt, cancellationToken).ConfigureAwait(false);
        while (await store.GetChunkAsync(jobId, chunk.Index, cancellationToken).ConfigureAwait(false) is { State: not ChunkState.Done } entity)
        {
            entity.State = ChunkState.Failed;
            entity.Error = Shorten(reason);
            entity.FailedAt = time.GetUtcNow();
            entity.Attempts = (int)attempt.DequeueCount;
            entity.ResultsBlob = resultsBlob;
            if (await store.TryReplaceChunkAsync(entity, cancellationToken).ConfigureAwait(false))
            {
                LogChunkFailed(jobId, chunk.Index, attempt.DequeueCount, reason);
                return;
            }
        }
    }

    /// <summary>One <c>failed</c> outcome per row of the chunk, read from its bytes (no Polar needed); null if even that cannot be done.</summary>
    private async Task<string?> WriteFailedRowsAsync(JobEntity job, BulkChunk chunk, string reason, Attempt attempt, CancellationToken cancellationToken)
    {
        var jobId = job.PartitionKey;
        var why = Shorten($"not processed: {reason}. Once the cause is fixed: credits bulk retry {jobId} (it grants nothing twice)");
        try
        {
            IReadOnlyList<RowOutcome> rows;
            var range = await store.DownloadRangeAsync(job.UploadBlob, chunk.StartByte, chunk.EndByte - chunk.StartByte, cancellationToken)
                .ConfigureAwait(false);
            await using (range.ConfigureAwait(false))
            {
                rows = await runner.FailedRowsAsync(range, job.Reading, chunk, $"bulk:{jobId}", why, cancellationToken)
                    .ConfigureAwait(false);
            }

            var blob = BulkStore.ChunkResultsBlobName(jobId, chunk.Index, attempt.Name);
            await store.WriteChunkResultsAsync(blob, rows, cancellationToken).ConfigureAwait(false);
            return blob;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Storage itself may be what fails; the chunk is still recorded as failed, with its rows counted.
            LogRecordFailed(jobId, Describe(ex));
            return null;
        }
    }

    /// <summary>Records a failure on the last attempt; if even that fails, the message still goes to the poison queue.</summary>
    private async Task RecordAsync(Func<Task> record, string jobId)
    {
        try
        {
            await record().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRecordFailed(jobId, Describe(ex));
        }
    }

    /// <summary>A failure as one line for the job's status: Polar's messages carry no token; storage errors only their code.</summary>
    internal static string Describe(Exception exception) => Shorten(exception switch
    {
        PolarException polar => $"Polar: {polar.Message}",
        RequestFailedException storage => $"Azure Storage answered {storage.Status} {storage.ErrorCode}",
        _ => $"{exception.GetType().Name}: {exception.Message}",
    });

    /// <summary>A reason cut to 1,000 characters, as a job's and a revocation's status keep it.</summary>
    internal static string Shorten(string text) => text.Length <= MaxReasonLength ? text : string.Concat(text.AsSpan(0, MaxReasonLength - 1), "…");

    private static string Sanitize(string messageId) =>
        new string(messageId.Where(c => char.IsAsciiLetterOrDigit(c) || c == '-').Take(64).ToArray()) is { Length: > 0 } id ? id : "message";

    private sealed record Attempt(long DequeueCount, int MaxDequeueCount, string Name)
    {
        public bool IsLast => DequeueCount >= MaxDequeueCount;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId} planned: {Rows} rows in {Chunks} chunks")]
    private partial void LogPlanned(string jobId, long rows, int chunks);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId} was planned before; enqueued its {Pending} pending chunks again")]
    private partial void LogReplanned(string jobId, int pending);

    [LoggerMessage(Level = LogLevel.Error, Message = "Bulk job {JobId} failed: its file could not be planned: {Reason}")]
    private partial void LogPlanFailed(string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId} chunk {Chunk}: {Granted} granted, {Duplicates} duplicates, {Rejected} rejected")]
    private partial void LogChunkDone(string jobId, int chunk, int granted, int duplicates, int rejected);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId} chunk {Chunk} waits for the customer list's sweep ({Reason}); taken up again later (CustomerDirectory:SweepRecheck)")]
    private partial void LogChunkDeferred(string jobId, int chunk, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId} chunk {Chunk} was done already; nothing granted or counted again")]
    private partial void LogAlreadyDone(string jobId, int chunk);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk job {JobId} {Work}: attempt {Attempt} of {MaxAttempts} failed: {Reason}")]
    private partial void LogAttemptFailed(string jobId, string work, long attempt, int maxAttempts, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Bulk job {JobId} chunk {Chunk} failed for good after {Attempts} attempts (its message goes to the poison queue): {Reason}")]
    private partial void LogChunkFailed(string jobId, int chunk, long attempts, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Bulk job {JobId}: could not record a failure on the job: {Reason}")]
    private partial void LogRecordFailed(string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk job {JobId}: {Work} message for a job or chunk that is not there or failed before; ignored")]
    private partial void LogStale(string jobId, string work);
}
