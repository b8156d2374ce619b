namespace CreditGrants.Storage.Bulk;

/// <summary>The states a bulk job is reported in, and a queued revocation of one (<see cref="BulkRevocationProgress.State"/>: queued until
/// planned, running while slices are left, completed_with_errors when some rows failed, failed when it could not be planned).</summary>
public static class BulkJobState
{
    /// <summary>Uploaded and waiting for its file to be planned.</summary>
    public const string Queued = "queued";
    /// <summary>Planned; some chunks are still to be processed.</summary>
    public const string Running = "running";
    /// <summary>Every row granted or found already granted.</summary>
    public const string Completed = "completed";
    /// <summary>Every chunk ended, and some rows were rejected or some chunks failed.</summary>
    public const string CompletedWithErrors = "completed_with_errors";
    /// <summary>The file could not be planned, or every chunk failed.</summary>
    public const string Failed = "failed";

    public static bool HasEnded(string state) => state is Completed or CompletedWithErrors or Failed;
}

/// <summary>What a submission did: the job's id, whether this upload created it, and where it stands.</summary>
public sealed record BulkSubmission(string JobId, bool Created, string Status, Uri? StatusUrl = null);

/// <summary>Where a bulk job stands, as <c>GET /api/bulk-grants/{jobId}</c> and <c>credits bulk status</c> report it.</summary>
public sealed record BulkJobStatus(
    string JobId,
    string Status,
    BulkJobTotals Totals,
    decimal UnitsGranted,
    long IngestRequests,
    int? Chunks,
    int ChunksDone,
    int ChunksFailed,
    string? Meter,
    string? Reason,
    long FileBytes,
    DateTimeOffset SubmittedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    IReadOnlyList<BulkFailedChunk> FailedChunks,
    string? Error,
    BulkResultsLocation? Results)
{
    /// <summary>The batch the job's derived grant ids belong to (null for jobs submitted before batches existed).</summary>
    public string? Batch { get; init; }

    /// <summary>Whether the job only checks its rows and grants nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>Whether rows to external ids that no Polar customer holds are rejected instead of granted with a note.</summary>
    public bool RequireExistingCustomers { get; init; }

    /// <summary>
    /// When the job's unchecked rows were settled: a sweep of the customer list that finished after the job's last ingest told
    /// which of their external ids a customer holds (those rows are plain grants now) and which none does (counted in
    /// <see cref="BulkJobTotals.AwaitingCustomer"/> now). Null while they wait for the sweep, or when there were none.
    /// </summary>
    public DateTimeOffset? UncheckedSettledAt { get; init; }

    /// <summary>While unchecked rows wait: how far the customer list's sweep has got (pages of 100 read, of all).</summary>
    public BulkCustomerSweep? CustomerSweep { get; init; }

    /// <summary>The job's latest queued revocation (<c>POST /api/bulk-grants/{jobId}/revoke</c> of a job over the inline limit); null when none was asked.</summary>
    public BulkRevocationProgress? Revocation { get; init; }
}

/// <summary>
/// The 202 answer to a revocation of a job over the inline limit: the job, the run now under way (<see cref="Started"/> false
/// when one was under way already and this request started nothing), and where to follow it (the job's status, under <c>revocation</c>).
/// </summary>
public sealed record BulkRevocationAccepted(string JobId, bool Started, BulkRevocationProgress Revocation, Uri StatusUrl);

/// <summary>
/// Where a queued revocation of a job stands, as the job's status shows it under <c>revocation</c>: its run (1 for the first
/// revocation asked of the job, one more for each asked after the last ended), state, whether a dry run, the reason, the
/// customers (distinct customer and meter pairs with a granted row) read of all, rows by outcome as
/// <see cref="CreditGrants.Lifecycle.BulkRevokeSummary"/> counts them, units taken back (or that a dry run would take),
/// the Polar requests the ledger reads took, and once ended its results CSV (<c>&lt;jobId&gt;.revocation.csv</c>, or
/// <c>.revocation-dry-run.csv</c>, in the results container: one line per row of the job, grouped by customer).
/// </summary>
public sealed record BulkRevocationProgress(
    int Run,
    string State,
    bool DryRun,
    string? Reason,
    DateTimeOffset RequestedAt,
    DateTimeOffset? FinishedAt,
    int? Customers,
    int CustomersDone,
    long? Rows,
    long RowsDone,
    long Revoked,
    long WouldRevoke,
    long NothingUnspent,
    long AlreadyRevoked,
    long NotGranted,
    long Failed,
    decimal UnitsRevoked,
    decimal UnitsWouldRevoke,
    int LedgerRequests,
    int? Slices,
    int SlicesDone,
    string? Error,
    BulkResultsLocation? Results);

/// <summary>A sweep of the customer list under way, as a job's status shows it: pages read of the list's pages, and since when.</summary>
public sealed record BulkCustomerSweep(int PagesRead, int Pages, DateTimeOffset? StartedAt);

/// <summary>
/// Rows by outcome. Every row of a finished job is in exactly one of granted, duplicates, grantedOrDuplicate (present
/// only when some are), rejected or failed (the rows of failed chunks); pending counts rows not processed yet.
/// </summary>
public sealed record BulkJobTotals(long? Rows, long Granted, long Duplicates, long? GrantedOrDuplicate, long Rejected, long Failed, long Pending)
{
    /// <summary>Rows a dry run found ready to grant (present only for dry runs).</summary>
    public long? WouldGrant { get; init; }

    /// <summary>
    /// Rows granted (or, in a dry run, ready to grant) to an external id that no Polar customer held: Polar counts them only
    /// if that customer is created within 180 minutes. Their notes in the results file say so. Present only when some are.
    /// </summary>
    public long? AwaitingCustomer { get; init; }

    /// <summary>
    /// Rows sent by external id to customers nobody checked: the customer directory did not know the ids and a lookup per row
    /// would have cost more than the grants. Counted in granted or duplicates too. A sweep of the customer list settles them
    /// (see <see cref="BulkJobStatus.UncheckedSettledAt"/>). Present when some were.
    /// </summary>
    public long? Unchecked { get; init; }
}

/// <summary>How a file is submitted: the batch its derived grant ids belong to, and whether the job only checks its rows.</summary>
/// <param name="Batch">1–100 characters naming this run of grants (<c>credits bulk submit</c> uses the file's base name).</param>
/// <param name="DryRun">Check every row as a real job would, write the results file, and grant nothing.</param>
/// <param name="RequireExistingCustomers">Reject rows to external ids that no Polar customer holds (and that bring no email to
/// create one) instead of granting them with a note; a job of its own, like a dry run.</param>
public sealed record BulkSubmitOptions(string Batch, bool DryRun = false, bool RequireExistingCustomers = false);

/// <summary>A chunk whose message failed on its last attempt: its rows count as failed until <c>credits bulk retry</c>.</summary>
public sealed record BulkFailedChunk(int Index, long FirstLine, int Rows, int Attempts, string Reason, DateTimeOffset? FailedAt);

/// <summary>The results CSV of a finished job.</summary>
public sealed record BulkResultsLocation(string Container, string Blob, Uri Uri);

/// <summary>What <c>credits bulk retry</c> re-enqueued.</summary>
public sealed record BulkRetry(string JobId, bool Plan, IReadOnlyList<int> Chunks)
{
    public bool Nothing => !Plan && Chunks.Count == 0;
}
