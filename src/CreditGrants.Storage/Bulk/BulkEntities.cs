using System.Globalization;
using System.Runtime.Serialization;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using CreditGrants.Bulk;

namespace CreditGrants.Storage.Bulk;

/// <summary>A bulk job's own row in the jobs table: partition = job id, row key <c>job</c>.</summary>
internal sealed class JobEntity : ITableEntity
{
    public const string Key = "job";

    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = Key;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    /// <summary>SHA-256 of the uploaded bytes, lowercase hex; derived grant ids come from it.</summary>
    public string ContentHash { get; set; } = "";
    public long FileBytes { get; set; }
    public string? Meter { get; set; }
    public string? Reason { get; set; }
    /// <summary>The uploaded file's blob in the uploads container.</summary>
    public string UploadBlob { get; set; } = "";
    public DateTimeOffset SubmittedAt { get; set; }
    /// <summary>Whether the submission got as far as enqueueing the plan message.</summary>
    public bool Enqueued { get; set; }

    /// <summary>How rows without a grant_id get one (<see cref="BulkGrantIds"/>); null for jobs from before it was recorded.</summary>
    public string? GrantIdScheme { get; set; }
    /// <summary>The batch of <see cref="BulkGrantIds.BatchAndRow"/>.</summary>
    public string? Batch { get; set; }
    /// <summary>Whether the job only checks its rows.</summary>
    public bool DryRun { get; set; }
    /// <summary>Whether rows to external ids that no customer holds are rejected (see <see cref="ChunkOptions.RequireExistingCustomers"/>).</summary>
    public bool RequireExistingCustomers { get; set; }

    /// <summary>The field separator found by the plan (one character); null before planning and for older jobs (comma).</summary>
    public string? Separator { get; set; }
    public long HeaderStart { get; set; }
    public long? HeaderLine { get; set; }

    /// <summary>The header row as a JSON array, once planned.</summary>
    public string? Header { get; set; }
    public long? Rows { get; set; }
    public int? Chunks { get; set; }
    public DateTimeOffset? StartedAt { get; set; }

    /// <summary>Why the file could not be planned (the job failed before any chunk).</summary>
    public string? PlanError { get; set; }
    public int? PlanAttempts { get; set; }

    /// <summary>Set when every chunk has ended and the results file is written; cleared by a retry.</summary>
    public DateTimeOffset? FinishedAt { get; set; }
    public string? ResultsBlob { get; set; }
    /// <summary>When the job's unchecked rows were settled by a sweep of the customer list (their counts and the results file updated).</summary>
    public DateTimeOffset? UncheckedSettledAt { get; set; }

    [IgnoreDataMember]
    public BulkDefaults Defaults => new(Meter, Reason);

    [IgnoreDataMember]
    public BulkColumns Columns => BulkColumns.FromHeader(HeaderFields);

    /// <summary>How the job's chunks are read: fixed when it was submitted and planned, never derived anew.</summary>
    [IgnoreDataMember]
    public BulkReading Reading => new(
        new BulkFileFormat(Separator is { Length: 1 } separator ? separator[0] : ',', HeaderStart, HeaderLine ?? 1),
        Columns,
        GrantIdScheme is null ? new BulkGrantIds(BulkGrantIds.ContentAndLine, ContentHash) : new BulkGrantIds(GrantIdScheme, Batch ?? ""),
        Defaults);

    [IgnoreDataMember]
    public IReadOnlyList<string> HeaderFields =>
        Header is null ? [] : JsonSerializer.Deserialize(Header, BulkJsonContext.Default.StringArray) ?? [];
}

/// <summary>The states a chunk goes through: pending until processed, then done, or failed after its last attempt.</summary>
internal static class ChunkState
{
    public const string Pending = "pending";
    public const string Done = "done";
    public const string Failed = "failed";
}

/// <summary>
/// One chunk of a bulk job in the jobs table: partition = job id, row key <c>chunk-000042</c>. Its counts are written once,
/// when it is done, so a chunk processed twice is counted once: job totals are sums over these rows.
/// </summary>
internal sealed class ChunkEntity : ITableEntity
{
    public const string KeyPrefix = "chunk-";

    /// <summary>The columns the status reads: everything but the (possibly long) duplicate lines.</summary>
    public static readonly string[] StatusColumns =
    [
        nameof(RowKey), nameof(Index), nameof(FirstLine), nameof(Rows), nameof(State), nameof(Granted), nameof(Duplicates),
        nameof(GrantedOrDuplicate), nameof(Rejected), nameof(UnitsGranted), nameof(IngestRequests), nameof(ResultsBlob), nameof(Error),
        nameof(FailedAt), nameof(Attempts), nameof(WouldGrant), nameof(AwaitingCustomer), nameof(Unchecked),
    ];

    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public int Index { get; set; }
    public long StartByte { get; set; }
    public long EndByte { get; set; }
    public long FirstLine { get; set; }
    public int Rows { get; set; }
    /// <summary>Lines of this chunk that repeat an earlier row's grant id, as a JSON array.</summary>
    public string DuplicateLines { get; set; } = "[]";
    /// <summary>Lines of rows identical to earlier rows, and how many come before each (<see cref="BulkChunk.RepeatLines"/>), as JSON arrays.</summary>
    public string RepeatLines { get; set; } = "[]";
    public string RepeatCounts { get; set; } = "[]";
    public int WouldGrant { get; set; }
    /// <summary>Rows granted to external ids that no customer held (<see cref="ChunkResult.AwaitingCustomer"/>).</summary>
    public int AwaitingCustomer { get; set; }
    /// <summary>Rows sent to customers nobody checked (<see cref="ChunkResult.Unchecked"/>); settling them after a sweep lowers it.</summary>
    public int Unchecked { get; set; }

    public string State { get; set; } = ChunkState.Pending;
    public int Granted { get; set; }
    public int Duplicates { get; set; }
    public int GrantedOrDuplicate { get; set; }
    public int Rejected { get; set; }
    /// <summary>A decimal, as invariant text (tables have no decimal type).</summary>
    public string? UnitsGranted { get; set; }
    public int IngestRequests { get; set; }
    /// <summary>This chunk's outcomes in the results container (its rows as failed, for a failed chunk); written before its state.</summary>
    public string? ResultsBlob { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }

    public string? Error { get; set; }
    public DateTimeOffset? FailedAt { get; set; }
    /// <summary>Deliveries of its message when it failed for good.</summary>
    public int Attempts { get; set; }

    [IgnoreDataMember]
    public decimal Units => UnitsGranted is null ? 0m : decimal.Parse(UnitsGranted, NumberStyles.Number, CultureInfo.InvariantCulture);

    public static string KeyOf(int index) => KeyPrefix + index.ToString("D6", CultureInfo.InvariantCulture);

    public static ChunkEntity From(string jobId, BulkChunk chunk) => new()
    {
        PartitionKey = jobId,
        RowKey = KeyOf(chunk.Index),
        Index = chunk.Index,
        StartByte = chunk.StartByte,
        EndByte = chunk.EndByte,
        FirstLine = chunk.FirstLine,
        Rows = chunk.Rows,
        DuplicateLines = JsonSerializer.Serialize(chunk.DuplicateLines.ToArray(), BulkJsonContext.Default.Int64Array),
        RepeatLines = JsonSerializer.Serialize(chunk.RepeatLines.ToArray(), BulkJsonContext.Default.Int64Array),
        RepeatCounts = JsonSerializer.Serialize(chunk.RepeatCounts.ToArray(), BulkJsonContext.Default.Int32Array),
    };

    public BulkChunk ToChunk() =>
        new(Index, StartByte, EndByte, FirstLine, Rows, JsonSerializer.Deserialize(DuplicateLines, BulkJsonContext.Default.Int64Array) ?? [])
        {
            RepeatLines = JsonSerializer.Deserialize(RepeatLines, BulkJsonContext.Default.Int64Array) ?? [],
            RepeatCounts = JsonSerializer.Deserialize(RepeatCounts, BulkJsonContext.Default.Int32Array) ?? [],
        };
}
