using System.Buffers;
using System.Security.Cryptography;
using Azure;
using CreditGrants.Bulk;
using CreditGrants.Customers;
using CreditGrants.Grants;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Storage.Bulk;

/// <summary>
/// Bulk jobs as an operator sees them: submit a file (store it, create the job, enqueue its plan), read where a job stands,
/// and retry what failed. Shared by <c>POST/GET /api/bulk-grants</c> and <c>credits bulk submit|status|retry</c>; it
/// never talks to Polar.
/// </summary>
/// <param name="store">The jobs' tables, blobs and queue.</param>
/// <param name="validator">Checks a submission's defaults as a row's meter and reason are checked.</param>
/// <param name="time">The clock of submissions and finishes.</param>
/// <param name="logger">Where jobs' progress is logged.</param>
/// <param name="directory">The app's customer directory, whose sweep a job's status shows while unchecked rows wait for it; null
/// where it is not at hand (the CLI reading a job's status from the storage account).</param>
public sealed partial class BulkJobs(BulkStore store, GrantValidator validator, TimeProvider time, ILogger<BulkJobs> logger, CustomerDirectory? directory = null)
{
    /// <summary>A job found not yet enqueued this long after its submission is taken over by the next upload of the same file.</summary>
    public static readonly TimeSpan StalledSubmission = TimeSpan.FromMinutes(2);

    private const int CopyBufferBytes = 81920;

    public long MaxFileBytes => store.Options.MaxFileBytes;

    /// <summary>
    /// Stores the file and enqueues its job, reading the stream once: a seekable stream (a local file) is hashed in place,
    /// any other is spooled to a temporary file while hashing. The same bytes with the same defaults give the same job,
    /// and submitting an existing job starts nothing.
    /// </summary>
    /// <exception cref="BulkFileTooLargeException">The file is over <see cref="BulkOptions.MaxFileBytes"/>.</exception>
    /// <exception cref="BulkFileException">The file is empty or its header is not usable; the message names the columns.</exception>
    /// <exception cref="BulkFileException">
    /// The file cannot be used as a whole: empty, not UTF-8 (nor UTF-16 with a byte order mark), no rows, an unusable header.
    /// The message names the line or the columns. Nothing is stored.
    /// </exception>
    /// <exception cref="BulkDefaultsException">The default meter or reason, or the batch, is not valid.</exception>
    public async Task<BulkSubmission> SubmitAsync(Stream content, BulkDefaults defaults, BulkSubmitOptions submit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(submit);
        defaults = CheckDefaults(defaults);
        if (BulkGrantIds.CheckBatch(submit.Batch) is { } batchProblem)
        {
            throw new BulkDefaultsException([new FieldError("batch", submit.Batch, batchProblem)]);
        }

        submit = submit with { Batch = submit.Batch.Trim() };
        var spools = new List<FileStream>();
        try
        {
            var file = content;
            var start = content.CanSeek ? content.Position : 0;
            if (content.CanSeek)
            {
                // The plan below reads (and hashes) the file; only its size needs checking first.
                if (content.Length - start > store.Options.MaxFileBytes)
                {
                    throw new BulkFileTooLargeException(store.Options.MaxFileBytes);
                }
            }
            else
            {
                file = Spool(spools);
                await CopyHashingAsync(content, file, cancellationToken).ConfigureAwait(false);
            }

            file.Position = start;
            var head = new byte[4];
            var headLength = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            file.Position = start;
            if (BulkFileEncoding.Of(head.AsSpan(0, headLength)) is { } encoding)
            {
                // Chunks are byte ranges that any instance reads alone: the stored file is UTF-8, whatever was sent.
                var utf8 = Spool(spools);
                await BulkFileEncoding.TranscodeToUtf8Async(file, encoding, utf8, cancellationToken).ConfigureAwait(false);
                (file, start) = (utf8, 0);
                file.Position = 0;
            }

            // The whole file is checked before anything is stored: encoding, header, rows.
            var plan = await BulkGrantFile.PlanAsync(file, store.Options.ChunkRows, defaults, cancellationToken).ConfigureAwait(false);
            return await StoreAsync(file, start, plan.ContentHash, file.Length - start, defaults, submit, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var spool in spools)
            {
                await spool.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static FileStream Spool(List<FileStream> spools)
    {
        var spool = new FileStream(Path.Combine(Path.GetTempPath(), $"credits-bulk-{Guid.NewGuid():N}.csv"), FileMode.CreateNew, FileAccess.ReadWrite,
            FileShare.None, CopyBufferBytes, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        spools.Add(spool);
        return spool;
    }

    private async Task<BulkSubmission> StoreAsync(Stream file, long start, string hash, long bytes, BulkDefaults defaults, BulkSubmitOptions submit,
        CancellationToken cancellationToken)
    {
        var jobId = BulkJobId.Derive(hash, defaults, submit);
        await store.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var job = new JobEntity
        {
            PartitionKey = jobId,
            ContentHash = hash,
            FileBytes = bytes,
            Meter = defaults.Meter,
            Reason = defaults.Reason,
            UploadBlob = BulkStore.UploadBlobName(jobId),
            SubmittedAt = now,
            GrantIdScheme = BulkGrantIds.BatchAndRow,
            Batch = submit.Batch,
            DryRun = submit.DryRun,
            RequireExistingCustomers = submit.RequireExistingCustomers,
        };
        if (!await store.TryAddJobAsync(job, cancellationToken).ConfigureAwait(false))
        {
            var existing = await store.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (existing is not null && (existing.Enqueued || now - existing.SubmittedAt < StalledSubmission))
            {
                LogExisting(jobId);
                var status = await GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
                return new BulkSubmission(jobId, Created: false, status?.Status ?? BulkJobState.Queued);
            }

            // An earlier submission stopped before enqueueing (or the job was removed): finish its steps now.
            LogResuming(jobId);
            if (existing is null)
            {
                await store.TryAddJobAsync(job, cancellationToken).ConfigureAwait(false);
            }
        }

        file.Position = start;
        await store.UploadAsync(job.UploadBlob, file, cancellationToken).ConfigureAwait(false);
        await store.SendAsync(BulkMessage.Plan(jobId), cancellationToken).ConfigureAwait(false);
        await store.UpdateJobAsync(jobId, j =>
        {
            var changed = !j.Enqueued;
            j.Enqueued = true;
            return changed;
        }, cancellationToken).ConfigureAwait(false);
        LogSubmitted(jobId, bytes, hash);
        return new BulkSubmission(jobId, Created: true, BulkJobState.Queued);
    }

    /// <summary>Opens a finished job's results file (a blob of the results container) for reading.</summary>
    public async Task<Stream> OpenResultsAsync(string resultsBlob, CancellationToken cancellationToken) =>
        (await store.Results.GetBlobClient(resultsBlob).DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value.Content;

    /// <summary>Where a job stands; null when no job has this id.</summary>
    public async Task<BulkJobStatus?> GetStatusAsync(string jobId, CancellationToken cancellationToken)
    {
        if (!BulkJobId.IsWellFormed(jobId))
        {
            return null;
        }

        await store.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        var job = await store.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (job is null)
        {
            return null;
        }

        var chunks = job.StartedAt is null ? [] : await store.ListChunksAsync(jobId, state: null, statusOnly: true, cancellationToken).ConfigureAwait(false);
        var status = Summarize(job, chunks, store);
        if (status is { Totals.Unchecked: > 0, UncheckedSettledAt: null, FinishedAt: not null } && !job.DryRun && directory is not null)
        {
            var sweep = await directory.SweepStateAsync(cancellationToken).ConfigureAwait(false);
            var pages = (int)Math.Max(1, ((sweep.CustomerCount ?? 0) + CustomerDirectory.PageSize - 1) / CustomerDirectory.PageSize);
            status = status with
            {
                CustomerSweep = new BulkCustomerSweep(Math.Max(0, (sweep.ResumeFromPage ?? 1) - 1), Math.Max(pages, (sweep.ResumeFromPage ?? 1) - 1), sweep.ResumeStartedAt),
            };
        }

        return status with { Revocation = await BulkRevocationRuns.ReadProgressAsync(store, jobId, cancellationToken).ConfigureAwait(false) };
    }

    /// <summary>
    /// Re-enqueues what failed for good, clearing its failure: the plan of a job whose file could not be read, or each
    /// failed chunk. Chunks already done are left alone, and Polar's deduplication makes a retried row grant once.
    /// Null when no job has this id.
    /// </summary>
    public async Task<BulkRetry?> RetryAsync(string jobId, CancellationToken cancellationToken)
    {
        if (!BulkJobId.IsWellFormed(jobId))
        {
            return null;
        }

        await store.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        var job = await store.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (job is null)
        {
            return null;
        }

        if (job.PlanError is not null)
        {
            await store.UpdateJobAsync(jobId, j =>
            {
                j.PlanError = null;
                j.PlanAttempts = null;
                j.FinishedAt = null;
                return true;
            }, cancellationToken).ConfigureAwait(false);
            await store.SendAsync(BulkMessage.Plan(jobId), cancellationToken).ConfigureAwait(false);
            LogRetriedPlan(jobId);
            return new BulkRetry(jobId, Plan: true, []);
        }

        var failed = await store.ListChunksAsync(jobId, ChunkState.Failed, statusOnly: false, cancellationToken).ConfigureAwait(false);
        if (failed.Count == 0)
        {
            // Nothing failed; a job whose last step (the results file) was cut short is finished here.
            await FinishIfDoneAsync(jobId, cancellationToken).ConfigureAwait(false);
            return new BulkRetry(jobId, Plan: false, []);
        }

        // The job is running again until its retried chunks end; their end writes the results file anew.
        await store.UpdateJobAsync(jobId, j =>
        {
            var changed = j.FinishedAt is not null;
            j.FinishedAt = null;
            return changed;
        }, cancellationToken).ConfigureAwait(false);
        var retried = new List<int>();
        foreach (var chunk in failed)
        {
            var failedRows = chunk.ResultsBlob;
            chunk.State = ChunkState.Pending;
            chunk.Error = null;
            chunk.FailedAt = null;
            chunk.Attempts = 0;
            chunk.ResultsBlob = null;
            if (await store.TryReplaceChunkAsync(chunk, cancellationToken).ConfigureAwait(false))
            {
                if (failedRows is not null)
                {
                    await store.DeleteResultsBlobAsync(failedRows, cancellationToken).ConfigureAwait(false);
                }

                await store.SendAsync(BulkMessage.ForChunk(jobId, chunk.ToChunk()), cancellationToken).ConfigureAwait(false);
                retried.Add(chunk.Index);
            }
        }

        LogRetriedChunks(jobId, retried.Count);
        return new BulkRetry(jobId, Plan: false, retried);
    }

    /// <summary>
    /// When no chunk is pending, writes the results file from the chunks' outcomes and marks the job finished. Two callers
    /// finishing at once write the same file; finishing again after a retry writes it anew.
    /// </summary>
    internal async Task FinishIfDoneAsync(string jobId, CancellationToken cancellationToken)
    {
        if (await store.AnyPendingChunkAsync(jobId, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var job = await store.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (job is not { StartedAt: not null, FinishedAt: null, PlanError: null })
        {
            return;
        }

        var chunks = await store.ListChunksAsync(jobId, state: null, statusOnly: true, cancellationToken).ConfigureAwait(false);
        string results;
        try
        {
            results = await store.AssembleResultsAsync(jobId, chunks, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            // Another delivery is writing the same file right now and finishes the job.
            LogFinishing(jobId);
            return;
        }

        var finished = await store.UpdateJobAsync(jobId, j =>
        {
            if (j.FinishedAt is not null)
            {
                return false;
            }

            j.FinishedAt = time.GetUtcNow();
            j.ResultsBlob = results;
            return true;
        }, cancellationToken).ConfigureAwait(false);
        if (finished is not null)
        {
            var status = Summarize(finished, chunks, store);
            if (status.Totals.Unchecked > 0 && !finished.DryRun)
            {
                // Background work: a sweep of the customer list (a slice per message), then the unchecked rows are settled.
                await store.SendAsync(BulkMessage.Settle(jobId), cancellationToken).ConfigureAwait(false);
            }

            LogFinished(jobId, status.Status, status.Totals.Rows ?? 0, status.Totals.Granted, status.Totals.Duplicates, status.Totals.Rejected,
                status.Totals.Failed);
        }
    }

    internal static BulkJobStatus Summarize(JobEntity job, IReadOnlyList<ChunkEntity> chunks, BulkStore store)
    {
        long granted = 0, duplicates = 0, ambiguous = 0, rejected = 0, failedRows = 0, pendingRows = 0, requests = 0, wouldGrant = 0, awaiting = 0;
        long uncheckedRows = 0;
        var units = 0m;
        var done = 0;
        var failed = new List<BulkFailedChunk>();
        foreach (var chunk in chunks)
        {
            switch (chunk.State)
            {
                case ChunkState.Done:
                    done++;
                    granted += chunk.Granted;
                    duplicates += chunk.Duplicates;
                    ambiguous += chunk.GrantedOrDuplicate;
                    rejected += chunk.Rejected;
                    wouldGrant += chunk.WouldGrant;
                    awaiting += chunk.AwaitingCustomer;
                    uncheckedRows += chunk.Unchecked;
                    units += chunk.Units;
                    requests += chunk.IngestRequests;
                    break;
                case ChunkState.Failed:
                    failedRows += chunk.Rows;
                    failed.Add(new BulkFailedChunk(chunk.Index, chunk.FirstLine, chunk.Rows, chunk.Attempts, chunk.Error ?? "failed", chunk.FailedAt));
                    break;
                default:
                    pendingRows += chunk.Rows;
                    break;
            }
        }

        var state = job switch
        {
            { PlanError: not null } => BulkJobState.Failed,
            { StartedAt: null } => BulkJobState.Queued,
            { FinishedAt: null } => BulkJobState.Running,
            _ when failed.Count > 0 && failed.Count == chunks.Count => BulkJobState.Failed,
            _ when failed.Count > 0 || rejected > 0 => BulkJobState.CompletedWithErrors,
            _ => BulkJobState.Completed,
        };
        var results = job is { FinishedAt: not null, ResultsBlob: { } blob }
            ? new BulkResultsLocation(store.Options.ResultsContainer, blob, store.Results.GetBlobClient(blob).Uri)
            : null;
        return new BulkJobStatus(
            job.PartitionKey,
            state,
            new BulkJobTotals(job.Rows, granted, duplicates, ambiguous > 0 ? ambiguous : null, rejected, failedRows, pendingRows)
            {
                WouldGrant = job.DryRun ? wouldGrant : null,
                AwaitingCustomer = awaiting > 0 ? awaiting : null,
                Unchecked = uncheckedRows > 0 || job.UncheckedSettledAt is not null ? uncheckedRows : null,
            },
            units,
            requests,
            job.Chunks,
            done,
            failed.Count,
            job.Meter,
            job.Reason,
            job.FileBytes,
            job.SubmittedAt,
            job.StartedAt,
            job.FinishedAt,
            failed,
            job.PlanError,
            results)
        {
            Batch = job.Batch,
            DryRun = job.DryRun,
            RequireExistingCustomers = job.RequireExistingCustomers,
            UncheckedSettledAt = job.UncheckedSettledAt,
        };
    }

    /// <summary>Blank defaults are no defaults; others must pass the same rules as a row's meter and reason.</summary>
    private BulkDefaults CheckDefaults(BulkDefaults defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var normalized = new BulkDefaults(string.IsNullOrWhiteSpace(defaults.Meter) ? null : defaults.Meter,
            string.IsNullOrWhiteSpace(defaults.Reason) ? null : defaults.Reason);
        var probe = validator.Validate(new GrantRequest("probe", "probe", null, null, null, "1", normalized.Meter, normalized.Reason, "bulk"));
        var errors = probe.Errors.Where(e => e.Field is "meter" or "reason").ToList();
        return errors.Count == 0 ? normalized : throw new BulkDefaultsException(errors);
    }

    private async Task<(string Hash, long Bytes)> CopyHashingAsync(Stream source, Stream? destination, CancellationToken cancellationToken)
    {
        var limit = store.Options.MaxFileBytes;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
        long total = 0;
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(0, CopyBufferBytes), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > limit)
                {
                    throw new BulkFileTooLargeException(limit);
                }

                hash.AppendData(buffer, 0, read);
                if (destination is not null)
                {
                    await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (Convert.ToHexStringLower(hash.GetHashAndReset()), total);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId} submitted: {Bytes} bytes, content hash {ContentHash}")]
    private partial void LogSubmitted(string jobId, long bytes, string contentHash);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId} exists already (same file, same defaults); nothing started")]
    private partial void LogExisting(string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk job {JobId} was never enqueued; this submission finishes it")]
    private partial void LogResuming(string jobId);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Bulk job {JobId} finished {Status}: {Rows} rows, {Granted} granted, {Duplicates} duplicates, {Rejected} rejected, {Failed} failed")]
    private partial void LogFinished(string jobId, string status, long rows, long granted, long duplicates, long rejected, long failed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: another delivery is writing its results file")]
    private partial void LogFinishing(string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: re-enqueued its plan")]
    private partial void LogRetriedPlan(string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: re-enqueued {Chunks} failed chunks")]
    private partial void LogRetriedChunks(string jobId, int chunks);
}

/// <summary>A bulk file over the size limit.</summary>
public sealed class BulkFileTooLargeException : Exception
{
    public BulkFileTooLargeException(long limit)
        : base($"The file is over the limit of {limit:N0} bytes (Bulk:MaxFileBytes); split it into smaller files.") => Limit = limit;

    public BulkFileTooLargeException() { }

    public BulkFileTooLargeException(string message) : base(message) { }

    public BulkFileTooLargeException(string message, Exception innerException) : base(message, innerException) { }

    public long Limit { get; }
}

/// <summary>The default meter or reason given for a file is not valid.</summary>
public sealed class BulkDefaultsException : Exception
{
    public BulkDefaultsException(IReadOnlyList<FieldError> errors)
        : base(string.Join("; ", (errors ?? []).Select(e => e.ToString()))) => Errors = errors ?? [];

    public BulkDefaultsException() => Errors = [];

    public BulkDefaultsException(string message) : base(message) => Errors = [];

    public BulkDefaultsException(string message, Exception innerException) : base(message, innerException) => Errors = [];

    public IReadOnlyList<FieldError> Errors { get; }
}
