using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs.Models;
using CreditGrants.Bulk;
using CreditGrants.Lifecycle;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Storage.Bulk;

/// <summary>What asking for a queued revocation did: the run now under way, and whether this call started it (false: one was running already).</summary>
public sealed record BulkRevocationStart(BulkRevocationProgress Progress, bool Started);

/// <summary>
/// A job's revocation run on the bulk queue, for a job of more customers than one HTTP request revokes (docs/bulk.md,
/// "Undo a wrong upload"). Asking writes the run's row in the jobs table and enqueues its plan; the plan reads the job's
/// results file once, groups its rows by customer and meter, cuts the customers into slices of <see cref="SliceCustomers"/>
/// (each slice's rows stored as a blob: the message carries only a reference) and enqueues one message per slice; a slice
/// message runs <see cref="BulkRevocation"/> over its rows (one ledger read per customer, batched revocations), writes its
/// outcomes to a blob of its own and records its counts once, guarded by its ETag; the last slice to end writes the results file.
/// </summary>
/// <remarks>
/// Redelivery is safe: revocation ids are derived from the grant ids (Polar keeps one event per id), a slice recorded done
/// is skipped, and a slice processed twice at once counts once (the second writer loses the ETag race and drops its blob).
/// Asking again while a run is under way starts nothing; asking after it ended starts a new run, which finds the revoked
/// grants already revoked and sends nothing for them.
/// </remarks>
public sealed partial class BulkRevocationRuns(BulkStore store, BulkRevocation revocation, TimeProvider time, ILogger<BulkRevocationRuns> logger)
{
    /// <summary>Customers (distinct customer and meter pairs) a slice message reads: about 3 Polar requests each, well under a minute at Polar's 500 a minute.</summary>
    public const int SliceCustomers = 100;

    /// <summary>A run that has not moved (planned, or a slice ended) for this long is taken up again by the next request for it (a message was lost).</summary>
    public static readonly TimeSpan StalledPlan = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Starts a run of the job's revocation unless one is under way (then answers that one, <see cref="BulkRevocationStart.Started"/>
    /// false). <paramref name="options"/>' reason and dry run are the run's. Throws <see cref="RequestFailedException"/> when storage fails.
    /// </summary>
    public async Task<BulkRevocationStart> StartAsync(string jobId, BulkRevokeOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        await store.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var found = await ReadRunAsync(store, jobId, cancellationToken).ConfigureAwait(false);
            var current = found;
            if (current is { FinishedAt: null })
            {
                // A run that moved on for a while (its plan or a slice's last delivery lost): its plan is sent again, which
                // enqueues what is not done; nothing is revoked or counted twice.
                var slices = current.PlannedAt is null ? [] : await ListSlicesAsync(store, jobId, current.Run, cancellationToken).ConfigureAwait(false);
                var lastMoved = slices.Select(s => s.CompletedAt ?? DateTimeOffset.MinValue).Append(current.PlannedAt ?? current.RequestedAt).Max();
                if (time.GetUtcNow() - lastMoved > StalledPlan)
                {
                    await store.SendAsync(BulkMessage.ForRevocation(jobId, current.Run), cancellationToken).ConfigureAwait(false);
                    LogReplanAsked(jobId, current.Run);
                }

                return new BulkRevocationStart(await ProgressAsync(store, current, cancellationToken).ConfigureAwait(false), Started: false);
            }

            var next = new RevocationEntity
            {
                PartitionKey = jobId,
                Run = (current?.Run ?? 0) + 1,
                DryRun = options.DryRun,
                Reason = options.Reason,
                RequestedAt = time.GetUtcNow(),
            };
            try
            {
                if (current is null)
                {
                    await store.Jobs.AddEntityAsync(next, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await store.Jobs.UpdateEntityAsync(next, current.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another request started a run first: answer that one.
                continue;
            }

            await store.SendAsync(BulkMessage.ForRevocation(jobId, next.Run), cancellationToken).ConfigureAwait(false);
            LogStarted(jobId, next.Run, options.DryRun);
            return new BulkRevocationStart(await ProgressAsync(store, next, cancellationToken).ConfigureAwait(false), Started: true);
        }
    }

    /// <summary>The job's latest revocation run, or null when none was asked.</summary>
    public Task<BulkRevocationProgress?> GetProgressAsync(string jobId, CancellationToken cancellationToken) => ReadProgressAsync(store, jobId, cancellationToken);

    /// <summary>The job's latest revocation run from the jobs table alone (no Polar needed: <see cref="BulkJobs"/> shows it in the job's status), or null.</summary>
    internal static async Task<BulkRevocationProgress?> ReadProgressAsync(BulkStore store, string jobId, CancellationToken cancellationToken)
    {
        var found = await ReadRunAsync(store, jobId, cancellationToken).ConfigureAwait(false);
        return found is null ? null : await ProgressAsync(store, found, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Processes a <c>revoke</c> message: plans the run (no slice) or revokes one slice. Failures propagate so the host retries;
    /// on the last delivery (<paramref name="isLast"/>) the failure is recorded first (the plan's on the run, a slice's rows as failed).
    /// </summary>
    /// <param name="jobId">The job revoked.</param>
    /// <param name="part">The run and slice the message names.</param>
    /// <param name="attempt">A name unique to this delivery, for the slice's outcomes blob.</param>
    /// <param name="isLast">Whether this is the message's last delivery.</param>
    /// <param name="cancellationToken">The host's shutdown signal.</param>
    public async Task HandleAsync(string jobId, BulkRevokeSlice part, string attempt, bool isLast, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(part);
        var found = await ReadRunAsync(store, jobId, cancellationToken).ConfigureAwait(false);
        if (found is null || found.Run != part.Run || found.FinishedAt is not null)
        {
            LogStale(jobId, part.Run, part.Slice);
            return;
        }

        var run = found;
        try
        {
            if (part.Slice is { } slice)
            {
                await RevokeSliceAsync(run, slice, attempt, isLast, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await PlanAsync(run, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException && part.Slice is null)
        {
            LogAttemptFailed(jobId, part.Run, "plan", BulkWorker.Describe(ex));
            if (isLast)
            {
                await FailPlanAsync(jobId, part.Run, BulkWorker.Describe(ex), cancellationToken).ConfigureAwait(false);
            }

            throw;
        }
    }

    private async Task PlanAsync(RevocationEntity run, CancellationToken cancellationToken)
    {
        var jobId = run.PartitionKey;
        if (run.PlannedAt is not null)
        {
            // Planned before, and this delivery repeats it: enqueue the slices not done yet.
            var pending = (await ListSlicesAsync(store, jobId, run.Run, cancellationToken).ConfigureAwait(false)).Where(s => s.State == ChunkState.Pending).ToList();
            foreach (var slice in pending)
            {
                await store.SendAsync(BulkMessage.ForRevocation(jobId, run.Run, slice.Index), cancellationToken).ConfigureAwait(false);
            }

            await FinishIfDoneAsync(jobId, run.Run, cancellationToken).ConfigureAwait(false);
            return;
        }

        var job = await store.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (job?.ResultsBlob is null)
        {
            await FailPlanAsync(jobId, run.Run, "the job has no results file (it has not ended, or it was removed)", cancellationToken).ConfigureAwait(false);
            return;
        }

        IReadOnlyList<BulkGrantedRow> rows;
        var download = await store.Results.GetBlobClient(job.ResultsBlob).DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var content = download.Value.Content;
        await using (content.ConfigureAwait(false))
        {
            rows = await BulkRevocationFile.ReadAsync(content, hasHeader: true, cancellationToken).ConfigureAwait(false);
        }

        var slices = Slice(rows, SliceCustomers);
        var entities = new List<RevocationSliceEntity>();
        for (var i = 0; i < slices.Count; i++)
        {
            var blob = SliceBlobName(jobId, run.Run, i);
            await store.Results.GetBlobClient(blob).UploadAsync(
                BinaryData.FromBytes(JsonSerializer.SerializeToUtf8Bytes(slices[i].ToArray(), RevocationJsonContext.Default.BulkGrantedRowArray)),
                overwrite: true, cancellationToken).ConfigureAwait(false);
            entities.Add(new RevocationSliceEntity
            {
                PartitionKey = jobId,
                RowKey = RevocationSliceEntity.KeyOf(run.Run, i),
                Run = run.Run,
                Index = i,
                Rows = slices[i].Count,
                Customers = BulkRevocation.CustomersOf(slices[i]),
                RowsBlob = blob,
            });
        }

        // Slices first, then the run: a run marked planned always has all its slice rows.
        foreach (var batch in entities.Chunk(100))
        {
            await store.Jobs.SubmitTransactionAsync(batch.Select(e => new TableTransactionAction(TableTransactionActionType.UpsertReplace, e)), cancellationToken)
                .ConfigureAwait(false);
        }

        var customers = BulkRevocation.CustomersOf(rows);
        var planned = await UpdateRunAsync(jobId, run.Run, r =>
        {
            r.PlannedAt = time.GetUtcNow();
            r.Slices = entities.Count;
            r.Rows = rows.Count;
            r.Customers = customers;
        }, cancellationToken).ConfigureAwait(false);
        if (!planned)
        {
            return;
        }

        LogPlanned(jobId, run.Run, rows.Count, customers, entities.Count);
        foreach (var entity in entities)
        {
            await store.SendAsync(BulkMessage.ForRevocation(jobId, run.Run, entity.Index), cancellationToken).ConfigureAwait(false);
        }

        await FinishIfDoneAsync(jobId, run.Run, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The rows cut into slices of at most <paramref name="customers"/> customers (distinct customer and meter pairs with a
    /// granted row), in the order the customers first appear; every row of a customer is in its customer's slice, and rows
    /// naming no customer go with the first slice.
    /// </summary>
    public static IReadOnlyList<List<BulkGrantedRow>> Slice(IReadOnlyList<BulkGrantedRow> rows, int customers)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(customers, 1);
        var granted = rows.Where(r => r.WasGranted).Select(r => r.CustomerKey).ToHashSet();
        var sliceOf = new Dictionary<(string, string), int>();
        var slices = new List<List<BulkGrantedRow>>();
        var inLast = 0;
        foreach (var row in rows)
        {
            var key = row.CustomerKey;
            if (!sliceOf.TryGetValue(key, out var index))
            {
                if (!granted.Contains(key) && slices.Count > 0)
                {
                    index = 0;
                }
                else
                {
                    if (slices.Count == 0 || inLast >= customers)
                    {
                        slices.Add([]);
                        inLast = 0;
                    }

                    index = slices.Count - 1;
                    if (granted.Contains(key))
                    {
                        inLast++;
                    }
                }

                sliceOf[key] = index;
            }

            slices[index].Add(row);
        }

        return slices;
    }

    private async Task RevokeSliceAsync(RevocationEntity run, int index, string attempt, bool isLast, CancellationToken cancellationToken)
    {
        var jobId = run.PartitionKey;
        var found = await store.Jobs.GetEntityIfExistsAsync<RevocationSliceEntity>(jobId, RevocationSliceEntity.KeyOf(run.Run, index), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        if (!found.HasValue)
        {
            LogStale(jobId, run.Run, index);
            return;
        }

        var entity = found.Value!;
        if (entity.State != ChunkState.Pending)
        {
            // A redelivery, or a second copy of the message: its rows are revoked and counted already.
            LogSliceAlreadyDone(jobId, run.Run, index);
            await FinishIfDoneAsync(jobId, run.Run, cancellationToken).ConfigureAwait(false);
            return;
        }

        var rows = (await store.Results.GetBlobClient(entity.RowsBlob).DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value.Content
            .ToObjectFromJson(RevocationJsonContext.Default.BulkGrantedRowArray) ?? [];
        IReadOnlyList<BulkRevokeRowOutcome> outcomes;
        BulkRevokeSummary summary;
        try
        {
            (outcomes, summary) = await revocation.RevokeAsync(rows, new BulkRevokeOptions(run.Reason, run.DryRun, "bulk-revoke:" + jobId), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAttemptFailed(jobId, run.Run, $"slice {index}", BulkWorker.Describe(ex));
            if (!isLast)
            {
                throw;
            }

            // The last delivery: its rows are recorded failed (running the revocation again takes them up, and nothing twice).
            var why = BulkWorker.Shorten($"not processed: {BulkWorker.Describe(ex)}. Ask for the revocation again once the cause is fixed (nothing is revoked twice)");
            outcomes = [.. rows.Select(r => new BulkRevokeRowOutcome(r.Line, r.GrantId, r.ExternalCustomerId, r.Meter, null, 0, BulkRevokeStatus.Failed, why))];
            summary = new BulkRevokeSummary(run.DryRun, rows.Length, 0, 0, 0, 0, 0, rows.Length, 0, 0, entity.Customers, 0);
            entity.Error = why;
        }

        var resultsBlob = SliceResultsBlobName(jobId, run.Run, index, attempt);
        var destination = await store.Results.GetBlobClient(resultsBlob).OpenWriteAsync(overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using (destination.ConfigureAwait(false))
        {
            await BulkRevocationFile.WriteAsync(destination, outcomes, writeHeader: false, cancellationToken).ConfigureAwait(false);
        }

        entity.State = summary.Failed == summary.Rows && entity.Error is not null ? ChunkState.Failed : ChunkState.Done;
        entity.Revoked = summary.Revoked;
        entity.WouldRevoke = summary.WouldRevoke;
        entity.NothingUnspent = summary.NothingUnspent;
        entity.AlreadyRevoked = summary.AlreadyRevoked;
        entity.NotGranted = summary.NotGranted;
        entity.Failed = summary.Failed;
        entity.UnitsRevoked = summary.UnitsRevoked.ToString(CultureInfo.InvariantCulture);
        entity.UnitsWouldRevoke = summary.UnitsWouldRevoke.ToString(CultureInfo.InvariantCulture);
        entity.LedgerRequests = summary.LedgerRequests;
        entity.ResultsBlob = resultsBlob;
        entity.CompletedAt = time.GetUtcNow();
        try
        {
            await store.Jobs.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            LogSliceDone(jobId, run.Run, index, summary.Revoked, summary.AlreadyRevoked, summary.Failed);
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            // Another delivery of this slice recorded it first; its counts stand, and this attempt's outcomes go.
            LogSliceAlreadyDone(jobId, run.Run, index);
            await store.DeleteResultsBlobAsync(resultsBlob, cancellationToken).ConfigureAwait(false);
        }

        await FinishIfDoneAsync(jobId, run.Run, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>When every slice of the run has ended: writes the results file from the slices' outcomes, in slice order, and marks the run finished.</summary>
    private async Task FinishIfDoneAsync(string jobId, int run, CancellationToken cancellationToken)
    {
        var slices = await ListSlicesAsync(store, jobId, run, cancellationToken).ConfigureAwait(false);
        if (slices.Any(s => s.State == ChunkState.Pending))
        {
            return;
        }

        var found = await ReadRunAsync(store, jobId, cancellationToken).ConfigureAwait(false);
        if (found is not { PlannedAt: not null, FinishedAt: null } current || current.Run != run || current.Slices != slices.Count)
        {
            return;
        }

        var name = ResultsBlobName(jobId, current.DryRun);
        try
        {
            var destination = await store.Results.GetBlobClient(name).OpenWriteAsync(overwrite: true,
                new BlobOpenWriteOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" } }, cancellationToken).ConfigureAwait(false);
            await using (destination.ConfigureAwait(false))
            {
                await BulkRevocationFile.WriteAsync(destination, [], writeHeader: true, cancellationToken).ConfigureAwait(false);
                foreach (var slice in slices.OrderBy(s => s.Index))
                {
                    var download = await store.Results.GetBlobClient(slice.ResultsBlob).DownloadStreamingAsync(cancellationToken: cancellationToken)
                        .ConfigureAwait(false);
                    var content = download.Value.Content;
                    await using (content.ConfigureAwait(false))
                    {
                        await content.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            // Another delivery is writing the same file right now and finishes the run.
            return;
        }

        if (await UpdateRunAsync(jobId, run, r =>
            {
                r.FinishedAt = time.GetUtcNow();
                r.ResultsBlob = name;
            }, cancellationToken).ConfigureAwait(false))
        {
            LogFinished(jobId, run, slices.Count);
        }
    }

    private async Task FailPlanAsync(string jobId, int run, string reason, CancellationToken cancellationToken)
    {
        await UpdateRunAsync(jobId, run, r =>
        {
            r.Error = BulkWorker.Shorten(reason);
            r.FinishedAt = time.GetUtcNow();
        }, cancellationToken).ConfigureAwait(false);
        LogPlanFailed(jobId, run, reason);
    }

    /// <summary>Changes run <paramref name="run"/>'s row unless it is another run's now or has finished; true when written.</summary>
    private async Task<bool> UpdateRunAsync(string jobId, int run, Action<RevocationEntity> change, CancellationToken cancellationToken)
    {
        while (true)
        {
            var found = await ReadRunAsync(store, jobId, cancellationToken).ConfigureAwait(false);
            if (found is null || found.Run != run || found.FinishedAt is not null)
            {
                return false;
            }

            var current = found;
            change(current);
            try
            {
                await store.Jobs.UpdateEntityAsync(current, current.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status == 412)
            {
            }
        }
    }

    private static async Task<RevocationEntity?> ReadRunAsync(BulkStore store, string jobId, CancellationToken cancellationToken)
    {
        var found = await store.Jobs.GetEntityIfExistsAsync<RevocationEntity>(jobId, RevocationEntity.Key, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    private static async Task<List<RevocationSliceEntity>> ListSlicesAsync(BulkStore store, string jobId, int run, CancellationToken cancellationToken)
    {
        var prefix = RevocationSliceEntity.PrefixOf(run);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {jobId} and RowKey ge {prefix} and RowKey lt {prefix + "~"}");
        var slices = new List<RevocationSliceEntity>();
        await foreach (var slice in store.Jobs.QueryAsync<RevocationSliceEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            slices.Add(slice);
        }

        return slices;
    }

    private static async Task<BulkRevocationProgress> ProgressAsync(BulkStore store, RevocationEntity run, CancellationToken cancellationToken)
    {
        var slices = run.PlannedAt is null ? [] : await ListSlicesAsync(store, run.PartitionKey, run.Run, cancellationToken).ConfigureAwait(false);
        var ended = slices.Where(s => s.State != ChunkState.Pending).ToList();
        var failed = ended.Sum(s => s.Failed);
        var state = run switch
        {
            { Error: not null } => BulkJobState.Failed,
            { PlannedAt: null } => BulkJobState.Queued,
            { FinishedAt: null } => BulkJobState.Running,
            _ when failed > 0 => BulkJobState.CompletedWithErrors,
            _ => BulkJobState.Completed,
        };
        var results = run is { FinishedAt: not null, ResultsBlob: { } blob }
            ? new BulkResultsLocation(store.Options.ResultsContainer, blob, store.Results.GetBlobClient(blob).Uri)
            : null;
        return new BulkRevocationProgress(run.Run, state, run.DryRun, run.Reason, run.RequestedAt, run.FinishedAt, run.Customers, ended.Sum(s => s.Customers),
            run.Rows, ended.Sum(s => (long)s.Rows), ended.Sum(s => s.Revoked), ended.Sum(s => s.WouldRevoke), ended.Sum(s => s.NothingUnspent),
            ended.Sum(s => s.AlreadyRevoked), ended.Sum(s => s.NotGranted), failed, ended.Sum(s => RevocationSliceEntity.Units(s.UnitsRevoked)),
            ended.Sum(s => RevocationSliceEntity.Units(s.UnitsWouldRevoke)), ended.Sum(s => s.LedgerRequests), run.Slices, ended.Count, run.Error, results);
    }

    /// <summary>The run's results file in the results container: <c>&lt;jobId&gt;.revocation.csv</c>, or <c>.revocation-dry-run.csv</c> for a dry run.</summary>
    public static string ResultsBlobName(string jobId, bool dryRun) => jobId + (dryRun ? ".revocation-dry-run.csv" : ".revocation.csv");

    private static string SliceBlobName(string jobId, int run, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{jobId}/{RevocationSliceEntity.KeyOf(run, index)}.rows.json");

    private static string SliceResultsBlobName(string jobId, int run, int index, string attempt) =>
        string.Create(CultureInfo.InvariantCulture, $"{jobId}/{RevocationSliceEntity.KeyOf(run, index)}-{attempt}.csv");

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: revocation run {Run} asked for (dry run {DryRun})")]
    private partial void LogStarted(string jobId, int run, bool dryRun);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk job {JobId}: revocation run {Run} has not moved for a while; its plan is enqueued again")]
    private partial void LogReplanAsked(string jobId, int run);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: revocation run {Run} planned: {Rows} rows of {Customers} customers in {Slices} slices")]
    private partial void LogPlanned(string jobId, int run, long rows, int customers, int slices);

    [LoggerMessage(Level = LogLevel.Error, Message = "Bulk job {JobId}: revocation run {Run} could not be planned: {Reason}")]
    private partial void LogPlanFailed(string jobId, int run, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: revocation run {Run} slice {Slice}: {Revoked} revoked, {AlreadyRevoked} already revoked, {Failed} failed")]
    private partial void LogSliceDone(string jobId, int run, int slice, long revoked, long alreadyRevoked, long failed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: revocation run {Run} slice {Slice} was done already; nothing revoked or counted again")]
    private partial void LogSliceAlreadyDone(string jobId, int run, int slice);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk job {JobId}: revocation run {Run} {Work}: attempt failed: {Reason}")]
    private partial void LogAttemptFailed(string jobId, int run, string work, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk job {JobId}: revocation run {Run} finished: its {Slices} slices ended and its results file is written")]
    private partial void LogFinished(string jobId, int run, int slices);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk job {JobId}: revoke message of run {Run} slice {Slice} for a run that is not the current one or has ended; ignored")]
    private partial void LogStale(string jobId, int run, int? slice);
}

/// <summary>A job's latest revocation run in the jobs table: partition = job id, row key <c>revocation</c>.</summary>
internal sealed class RevocationEntity : ITableEntity
{
    public const string Key = "revocation";

    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = Key;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public int Run { get; set; }
    public bool DryRun { get; set; }
    public string? Reason { get; set; }
    public DateTimeOffset RequestedAt { get; set; }
    public DateTimeOffset? PlannedAt { get; set; }
    public int? Slices { get; set; }
    public long? Rows { get; set; }
    public int? Customers { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? ResultsBlob { get; set; }
    public string? Error { get; set; }
}

/// <summary>
/// One slice of a revocation run: partition = job id, row key <c>revoke-0001-000042</c> (run, slice). Its counts are written
/// once, when it ends, so a slice processed twice is counted once.
/// </summary>
internal sealed class RevocationSliceEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public int Run { get; set; }
    public int Index { get; set; }
    public int Rows { get; set; }
    public int Customers { get; set; }
    /// <summary>The slice's rows as JSON, in the results container.</summary>
    public string RowsBlob { get; set; } = "";
    public string State { get; set; } = ChunkState.Pending;
    public long Revoked { get; set; }
    public long WouldRevoke { get; set; }
    public long NothingUnspent { get; set; }
    public long AlreadyRevoked { get; set; }
    public long NotGranted { get; set; }
    public long Failed { get; set; }
    /// <summary>Decimals, as invariant text (tables have no decimal type).</summary>
    public string? UnitsRevoked { get; set; }
    public string? UnitsWouldRevoke { get; set; }
    public int LedgerRequests { get; set; }
    /// <summary>This slice's outcomes (no header) in the results container; written before its state.</summary>
    public string? ResultsBlob { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public string? Error { get; set; }

    public static string PrefixOf(int run) => string.Create(CultureInfo.InvariantCulture, $"revoke-{run:D4}-");

    public static string KeyOf(int run, int index) => PrefixOf(run) + index.ToString("D6", CultureInfo.InvariantCulture);

    public static decimal Units(string? text) => text is null ? 0m : decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture);
}

/// <summary>JSON of a revocation slice's rows.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(BulkGrantedRow[]))]
internal sealed partial class RevocationJsonContext : JsonSerializerContext;
