using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using CreditGrants.Bulk;
using Microsoft.Extensions.Options;

namespace CreditGrants.Storage.Bulk;

/// <summary>
/// Where bulk jobs live in one storage account: uploaded files (<c>&lt;jobId&gt;.csv</c> in the uploads container), the
/// queue of plan and chunk messages, the jobs table (one row per job and one per chunk) and the results container
/// (<c>&lt;jobId&gt;/chunk-000042-….csv</c> per chunk, <c>&lt;jobId&gt;.csv</c> for the whole file).
/// </summary>
public sealed class BulkStore
{
    private readonly Lazy<StorageAccount> _account;
    private readonly BulkOptions _options;
    private volatile bool _created;

    public BulkStore(Func<StorageAccount> account, IOptions<BulkOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _account = new Lazy<StorageAccount>(account);
        _options = options.Value;
    }

    public BulkOptions Options => _options;

    public BlobContainerClient Uploads => _account.Value.Blobs.GetBlobContainerClient(_options.UploadsContainer);

    public BlobContainerClient Results => _account.Value.Blobs.GetBlobContainerClient(_options.ResultsContainer);

    public QueueClient Queue => _account.Value.Queues.GetQueueClient(_options.QueueName);

    /// <summary>Where the Functions host moves a message after its last failed attempt.</summary>
    public QueueClient PoisonQueue => _account.Value.Queues.GetQueueClient(_options.QueueName + "-poison");

    internal TableClient Jobs => _account.Value.Tables.GetTableClient(_options.JobsTable);

    public static string UploadBlobName(string jobId) => $"{jobId}.csv";

    public static string ResultsBlobName(string jobId) => $"{jobId}.csv";

    /// <summary>Creates the containers, queues and table unless they exist (infra creates them in Azure; Azurite starts empty).</summary>
    public async Task EnsureCreatedAsync(CancellationToken cancellationToken)
    {
        if (_created)
        {
            return;
        }

        // Two callers at once both ask; creating what exists is harmless.
        await Uploads.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await Results.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await Queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await PoisonQueue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await Jobs.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
        _created = true;
    }

    public Task SendAsync(BulkMessage message, CancellationToken cancellationToken) =>
        Queue.SendMessageAsync(message.ToJson(), cancellationToken);

    /// <summary>Enqueues a message that becomes visible only after <paramref name="delay"/> (work taken up again later).</summary>
    public Task SendLaterAsync(BulkMessage message, TimeSpan delay, CancellationToken cancellationToken) =>
        Queue.SendMessageAsync(message.ToJson(), visibilityTimeout: delay, cancellationToken: cancellationToken);

    internal async Task<JobEntity?> GetJobAsync(string jobId, CancellationToken cancellationToken)
    {
        var found = await Jobs.GetEntityIfExistsAsync<JobEntity>(jobId, JobEntity.Key, cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    /// <summary>Adds a new job; false when one with its id exists (the same file with the same defaults).</summary>
    internal async Task<bool> TryAddJobAsync(JobEntity job, CancellationToken cancellationToken)
    {
        try
        {
            await Jobs.AddEntityAsync(job, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>Reads the job, lets <paramref name="change"/> edit it (false: leave it), and writes it unless another writer came first, then tries again.</summary>
    internal async Task<JobEntity?> UpdateJobAsync(string jobId, Func<JobEntity, bool> change, CancellationToken cancellationToken)
    {
        while (true)
        {
            var job = await GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (job is null || !change(job))
            {
                return job;
            }

            try
            {
                // Replace, so that a property set to null (a cleared failure) is removed.
                await Jobs.UpdateEntityAsync(job, job.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                return job;
            }
            catch (RequestFailedException ex) when (ex.Status == 412)
            {
            }
        }
    }

    /// <summary>Writes the planned chunks, 100 to a transaction (one partition per job).</summary>
    internal async Task WriteChunksAsync(string jobId, IReadOnlyList<BulkChunk> chunks, CancellationToken cancellationToken)
    {
        foreach (var batch in chunks.Chunk(100))
        {
            var actions = batch.Select(c => new TableTransactionAction(TableTransactionActionType.UpsertReplace, ChunkEntity.From(jobId, c)));
            await Jobs.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
        }
    }

    internal async Task<ChunkEntity?> GetChunkAsync(string jobId, int index, CancellationToken cancellationToken)
    {
        var found = await Jobs.GetEntityIfExistsAsync<ChunkEntity>(jobId, ChunkEntity.KeyOf(index), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    /// <summary>Writes a chunk read earlier; false when another writer changed it since (its ETag no longer matches).</summary>
    internal async Task<bool> TryReplaceChunkAsync(ChunkEntity chunk, CancellationToken cancellationToken)
    {
        try
        {
            await Jobs.UpdateEntityAsync(chunk, chunk.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            return false;
        }
    }

    /// <summary>A job's chunks in file order, optionally only those in <paramref name="state"/>, optionally without their duplicate lines.</summary>
    internal async Task<List<ChunkEntity>> ListChunksAsync(string jobId, string? state, bool statusOnly, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {jobId} and RowKey ge {ChunkEntity.KeyPrefix} and RowKey lt {"chunk."}");
        if (state is not null)
        {
            filter += TableClient.CreateQueryFilter($" and State eq {state}");
        }

        var chunks = new List<ChunkEntity>();
        await foreach (var chunk in Jobs.QueryAsync<ChunkEntity>(filter, select: statusOnly ? ChunkEntity.StatusColumns : null,
                           cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            chunks.Add(chunk);
        }

        return chunks;
    }

    /// <summary>Whether any chunk of the job is still waiting to be processed (reads at most one).</summary>
    internal async Task<bool> AnyPendingChunkAsync(string jobId, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {jobId} and RowKey ge {ChunkEntity.KeyPrefix} and RowKey lt {"chunk."} and State eq {ChunkState.Pending}");
        await foreach (var page in Jobs.QueryAsync<ChunkEntity>(filter, maxPerPage: 1, select: [nameof(ChunkEntity.RowKey)],
                           cancellationToken: cancellationToken).AsPages().ConfigureAwait(false))
        {
            if (page.Values.Count > 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Uploads a file from a stream positioned at its start.</summary>
    internal Task UploadAsync(string blobName, Stream content, CancellationToken cancellationToken) =>
        Uploads.GetBlobClient(blobName).UploadAsync(content, new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" },
        }, cancellationToken);

    /// <summary>Reads an uploaded file from its start, streaming (never the whole file in memory).</summary>
    internal Task<Stream> OpenUploadAsync(string blobName, CancellationToken cancellationToken) =>
        Uploads.GetBlobClient(blobName).OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { BufferSize = 4 * 1024 * 1024 },
            cancellationToken);

    /// <summary>Reads just the bytes of one chunk of an uploaded file.</summary>
    internal async Task<Stream> DownloadRangeAsync(string blobName, long start, long length, CancellationToken cancellationToken)
    {
        var download = await Uploads.GetBlobClient(blobName)
            .DownloadStreamingAsync(new BlobDownloadOptions { Range = new HttpRange(start, length) }, cancellationToken).ConfigureAwait(false);
        return download.Value.Content;
    }

    /// <summary>Writes one chunk's outcomes (no header) to its own results blob.</summary>
    internal async Task WriteChunkResultsAsync(string blobName, IReadOnlyList<RowOutcome> rows, CancellationToken cancellationToken)
    {
        var destination = await Results.GetBlobClient(blobName).OpenWriteAsync(overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using (destination.ConfigureAwait(false))
        {
            var writer = new BulkResultsWriter(destination, writeHeader: false, leaveOpen: true);
            await using (writer.ConfigureAwait(false))
            {
                await writer.WriteAsync(rows, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    internal Task DeleteResultsBlobAsync(string blobName, CancellationToken cancellationToken) =>
        Results.GetBlobClient(blobName).DeleteIfExistsAsync(cancellationToken: cancellationToken);

    /// <summary>Writes the job's results file: the header once, then each ended chunk's outcomes in file order, streamed blob to blob.</summary>
    internal async Task<string> AssembleResultsAsync(string jobId, IEnumerable<ChunkEntity> chunks, CancellationToken cancellationToken)
    {
        var name = ResultsBlobName(jobId);
        var destination = await Results.GetBlobClient(name).OpenWriteAsync(overwrite: true,
            new BlobOpenWriteOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" } }, cancellationToken).ConfigureAwait(false);
        await using (destination.ConfigureAwait(false))
        {
            var header = new BulkResultsWriter(destination, writeHeader: true, leaveOpen: true);
            await using (header.ConfigureAwait(false))
            {
                await header.WriteAsync([], cancellationToken).ConfigureAwait(false);
            }

            foreach (var chunk in chunks.Where(c => c.State != ChunkState.Pending && c.ResultsBlob is not null).OrderBy(c => c.Index))
            {
                var download = await Results.GetBlobClient(chunk.ResultsBlob).DownloadStreamingAsync(cancellationToken: cancellationToken)
                    .ConfigureAwait(false);
                var content = download.Value.Content;
                await using (content.ConfigureAwait(false))
                {
                    await content.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        return name;
    }

    /// <summary>A per-attempt name for a chunk's results, so that two deliveries of one chunk never write the same blob.</summary>
    internal static string ChunkResultsBlobName(string jobId, int index, string attempt) =>
        string.Create(CultureInfo.InvariantCulture, $"{jobId}/{ChunkEntity.KeyOf(index)}-{attempt}.csv");
}
