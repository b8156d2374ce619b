using CreditGrants.Identity;
using CreditGrants.Customers;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Bulk;

/// <summary>How one row of a bulk file ended.</summary>
public enum RowStatus
{
    Granted,
    /// <summary>The grant id was granted before; nothing changed.</summary>
    Duplicate,
    /// <summary>Polar took the row in a request that held both new and repeated grants, and does not say which this was.</summary>
    GrantedOrDuplicate,
    Rejected,
    /// <summary>Not processed: Polar stayed unavailable. Running the file again is safe; it grants nothing twice.</summary>
    Failed,
    /// <summary>A dry run found nothing wrong with the row: a real run would send its grant (or find it granted before).</summary>
    WouldGrant,
}

/// <summary>The outcome of one row, as the results file writes it.</summary>
public sealed record RowOutcome(
    long Line,
    string? GrantId,
    string? ExternalCustomerId,
    string? CustomerId,
    string? Units,
    string? Meter,
    RowStatus Status,
    string? Reason)
{
    /// <summary>
    /// The grant went by external id to a customer nobody checked: the customer directory did not know the id and no lookup
    /// was made (a sweep of the customer list settles it). Written <c>unchecked</c> in the results file's status column.
    /// </summary>
    public bool Unchecked { get; init; }
}

/// <summary>The outcomes of a chunk's rows, in file order, and its totals.</summary>
public sealed record ChunkResult(IReadOnlyList<RowOutcome> Rows, int Granted, int Duplicates, int Rejected, decimal UnitsGranted, int IngestRequests)
{
    public int Ambiguous => Rows.Count(r => r.Status == RowStatus.GrantedOrDuplicate);

    /// <summary>Rows granted, found granted before, or (in a dry run) ready to grant, to an external id that no Polar customer holds yet.</summary>
    public int AwaitingCustomer { get; init; }

    /// <summary>Rows sent (or, in a dry run, ready to send) by external id whose customer was not checked (<see cref="RowOutcome.Unchecked"/>).</summary>
    public int Unchecked { get; init; }

    /// <summary>The units of the rows a dry run found ready to grant: what a real run would grant at most.</summary>
    public decimal UnitsWouldGrant { get; init; }
}

/// <summary>How a chunk is processed.</summary>
/// <param name="DryRun">Read the meters and check every row, but create no customer and ingest nothing: valid rows end as
/// <see cref="RowStatus.WouldGrant"/>.</param>
/// <param name="RequireExistingCustomers">Reject rows to an external id that no Polar customer holds (and that bring no email
/// to create one) instead of granting them with a note.</param>
/// <param name="RowsAhead">Rows of the file from this chunk to its end (this chunk's included): with the share of this chunk's
/// customers the directory does not know, it estimates how many customers the run would read one by one, which decides
/// whether sweeping the customer list is cheaper. Zero: this chunk alone.</param>
/// <param name="SourceIsOneJob">The rows' source names one job that sends each row once over all its deliveries (the app's
/// <c>bulk:&lt;job id&gt;</c>), so a row Polar reports as repeated whose first event has this source was granted by this job: by
/// an earlier delivery that stopped before recording it, or by an attempt whose answer was lost. Such rows are read back
/// (one request per 100) and count as granted, not as duplicates. Not for the CLI, whose source is the file's content and
/// is the same when the file runs again.</param>
/// <param name="Known">The directory's trusted entries for this chunk's customers, looked up beforehand (the CLI's runner
/// looks them up while the previous chunk is granted, see <see cref="BulkChunkProcessor.KnownCustomersAsync"/>); customers
/// missing from it are looked up again, in case an earlier chunk created them meanwhile. Null: looked up now.</param>
/// <param name="SweepPages">The pages of the customer list this chunk may sweep when a sweep is cheaper than its lookups; null: to
/// the end (the CLI). The app passes <see cref="CustomerDirectory.SlicePages"/>: a sweep that does not end within them throws
/// <see cref="CustomerSweepPendingException"/>, and the chunk is taken up again after it.</param>
public sealed record ChunkOptions(bool DryRun = false, bool RequireExistingCustomers = false, long RowsAhead = 0, bool SourceIsOneJob = false,
    IReadOnlyDictionary<string, CustomerDirectoryEntry>? Known = null, int? SweepPages = null);

/// <summary>
/// A chunk needs customers looked up (rows with emails, or customers that must exist), a sweep of the customer list is the
/// cheaper way, and it is under way but not over: the chunk is to be taken up again later (nothing of it was sent).
/// </summary>
public sealed class CustomerSweepPendingException : Exception
{
    public CustomerSweepPendingException(string message) : base(message) { }

    public CustomerSweepPendingException() { }

    public CustomerSweepPendingException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// Grants a chunk of rows with as few Polar requests as it can: one meter read per meter, customers the
/// <see cref="CustomerDirectory"/> knows for free, one request per other customer (a create when the row brings an email,
/// else a read) unless sweeping the customer list costs less, and the grants themselves in batched ingest requests.
/// Transient Polar failures propagate so that the chunk is retried; processing a chunk again grants nothing twice. Rows that
/// expire are recorded in the <see cref="Expiry.IExpiryIndex"/> before their events are sent.
/// </summary>
public sealed partial class BulkChunkProcessor(IPolarGateway polar, CustomerDirectory directory, TimeProvider time, ILogger<BulkChunkProcessor> logger,
    Expiry.IExpiryIndex? expiries = null)
{
    /// <summary>Polar counts events for an external id that no customer holds only if such a customer is created within this time.</summary>
    public static readonly TimeSpan LinkingWindow = TimeSpan.FromMinutes(180);

    /// <summary>
    /// The unknown customers ahead (about) that are read inline rather than left unchecked: a file that names only a few ids
    /// the directory does not know checks them for a request each.
    /// </summary>
    public const int InlineReads = 10;

    /// <summary>Customer reads and creates in flight at once for one chunk.</summary>
    private const int CustomerConcurrency = 8;

    /// <param name="rows">The chunk's rows, in file order.</param>
    /// <param name="dryRun">Read the meters and check every row, but create no customer and ingest nothing: valid rows end as
    /// <see cref="RowStatus.WouldGrant"/>.</param>
    /// <param name="cancellationToken">Stops the work; what was sent stays sent (and is a duplicate when the chunk runs again).</param>
    public Task<ChunkResult> ProcessAsync(IReadOnlyList<BulkRow> rows, bool dryRun = false, CancellationToken cancellationToken = default) =>
        ProcessAsync(rows, new ChunkOptions(DryRun: dryRun), cancellationToken);

    /// <summary>
    /// The directory's trusted entries for the customers (external ids) of these rows: what <see cref="ChunkOptions.Known"/>
    /// takes, so that a runner can look them up ahead of the chunk. The directory's storage failing gives no entries.
    /// </summary>
    public Task<IReadOnlyDictionary<string, CustomerDirectoryEntry>> KnownCustomersAsync(IReadOnlyList<BulkRow> rows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var ids = rows.Where(r => r.IsValid && r.Grant!.Customer.ExternalId is not null).Select(r => r.Grant!.Customer.ExternalId!)
            .Distinct(StringComparer.Ordinal).ToList();
        return directory.KnownAsync(ids, cancellationToken);
    }

    /// <param name="rows">The chunk's rows, in file order.</param>
    /// <param name="options">Dry run, whether customers must exist, and how much of the file is ahead.</param>
    /// <param name="cancellationToken">Stops the work; what was sent stays sent (and is a duplicate when the chunk runs again).</param>
    public async Task<ChunkResult> ProcessAsync(IReadOnlyList<BulkRow> rows, ChunkOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(options);
        var dryRun = options.DryRun;
        var outcomes = new RowOutcome?[rows.Count];
        var targets = await TargetsAsync(rows, cancellationToken).ConfigureAwait(false);
        var customers = await CustomersAsync(rows, options, cancellationToken).ConfigureAwait(false);
        var awaiting = new HashSet<int>();
        var uncheckedRows = new HashSet<int>();
        var linkBy = time.GetUtcNow() + LinkingWindow;

        var events = new List<PolarEvent>(rows.Count);
        var eventRows = new List<int>(rows.Count);
        var resolved = new List<(GrantTarget Target, Customer? Customer)>(rows.Count);
        var now = time.GetUtcNow();
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (!row.IsValid)
            {
                outcomes[i] = Outcome(row, RowStatus.Rejected, row.Rejection);
                continue;
            }

            var grant = row.Grant!;
            if (grant.ExpiresAt is { } expiresAt && expiresAt <= now)
            {
                // Checked again when sent: a row read before its expiry (a campaign's late occurrence, a chunk retried later) may be past it.
                outcomes[i] = Outcome(row, RowStatus.Rejected, $"line {row.Line}: the grant expires at {GrantExpiry.Format(expiresAt)}, which is past " +
                    $"(now is {GrantExpiry.Format(now)}); a grant cannot be made expired, nothing was granted");
                continue;
            }

            var (target, meterError) = targets[grant.Meter];
            if (target is null)
            {
                outcomes[i] = Outcome(row, RowStatus.Rejected, $"line {row.Line}: {meterError}");
                continue;
            }

            Customer? customer = null;
            if (grant.Customer.ExternalId is { } externalId)
            {
                var ensured = customers[externalId];
                if (ensured.Error is not null)
                {
                    outcomes[i] = Outcome(row, RowStatus.Rejected, $"line {row.Line}: {ensured.Error}");
                    continue;
                }

                if (!ensured.Exists && grant.Customer.MustExistBecause is { } why)
                {
                    outcomes[i] = Outcome(row, RowStatus.Rejected, $"line {row.Line}: external id '{Display.Shorten(externalId)}' {why}, and no " +
                        "Polar customer does (or none is known yet: run again after `credits customers sync`); nothing was granted");
                    continue;
                }

                if (ensured.Unchecked && grant.Customer.Email is null)
                {
                    uncheckedRows.Add(i);
                }
                else if (!ensured.Exists && !ensured.Unchecked && grant.Customer.Email is null)
                {
                    if (options.RequireExistingCustomers)
                    {
                        outcomes[i] = Outcome(row, RowStatus.Rejected, $"line {row.Line}: no Polar customer has external id '{Display.Escape(externalId)}': create the " +
                            "customer first, add an email column so that the file creates it, or allow grants to customers that do not exist yet " +
                            "(Polar counts such a grant only if the customer is created within 180 minutes)");
                        continue;
                    }

                    awaiting.Add(i);
                }

                customer = ensured.Customer;
            }

            var grantEvent = GrantService.BuildEvent(grant, target, customer);
            var verdict = target.Admits(grantEvent, now);
            if (!verdict.Matches)
            {
                outcomes[i] = Outcome(row, RowStatus.Rejected, $"line {row.Line}: meter '{grant.Meter}' would not count this grant: {verdict.Reason}");
                continue;
            }

            if (dryRun)
            {
                outcomes[i] = Outcome(row, RowStatus.WouldGrant, awaiting.Contains(i)
                    ? $"dry run: nothing was sent; {AwaitingNote(grant.Customer.ExternalId!, linkBy)}"
                    : uncheckedRows.Contains(i)
                        ? $"dry run: nothing was sent; {UncheckedNote(grant.Customer.ExternalId!, linkBy)}"
                    : grant.Customer.Email is not null && customers.TryGetValue(grant.Customer.ExternalId!, out var state) && !state.Exists
                        ? "dry run: nothing was sent; a real run creates the customer (an email another customer owns is then rejected)"
                        : "dry run: nothing was sent");
                continue;
            }

            events.Add(grantEvent);
            eventRows.Add(i);
            resolved.Add((target, customer));
        }

        var expiring = eventRows.Select(i => rows[i].Grant!).Where(g => g.ExpiresAt is not null).Select(g => Expiry.DueExpiry.Of(g, now)).ToList();
        if (expiring.Count > 0 && expiries is not null)
        {
            await expiries.AddAsync(expiring, cancellationToken).ConfigureAwait(false);
        }

        var report = events.Count == 0 ? new IngestReport([], 0, 0, 0) : await polar.IngestAsync(events, cancellationToken).ConfigureAwait(false);
        foreach (var eventOutcome in report.Outcomes)
        {
            var index = eventRows[eventOutcome.Index];
            var row = rows[index];
            outcomes[index] = eventOutcome.Status switch
            {
                IngestStatus.Inserted => Outcome(row, RowStatus.Granted, null),
                IngestStatus.Duplicate => Outcome(row, RowStatus.Duplicate, eventOutcome.Reason is null ? "already granted" : $"already granted: {eventOutcome.Reason}"),
                IngestStatus.InsertedOrDuplicate => Outcome(row, RowStatus.GrantedOrDuplicate,
                    "Polar took this grant in a request that held new and earlier grants; it exists exactly once"),
                _ => Outcome(row, RowStatus.Rejected, $"line {row.Line}: {eventOutcome.Reason}"),
            };
        }

        await RejectConflictsAsync(rows, outcomes, report, eventRows, resolved, cancellationToken).ConfigureAwait(false);
        await TellGrantedFromDuplicatesAsync(rows, outcomes, report.Inserted, options.SourceIsOneJob, cancellationToken).ConfigureAwait(false);
        // Rows granted earlier carry the note too: a file run again after the directory learned the organization settles them.
        foreach (var index in awaiting.Where(i => outcomes[i]!.Status is RowStatus.Granted or RowStatus.Duplicate or RowStatus.GrantedOrDuplicate))
        {
            outcomes[index] = outcomes[index]! with { Reason = Noted(outcomes[index]!.Reason, AwaitingNote(rows[index].Grant!.Customer.ExternalId!, linkBy)) };
        }

        foreach (var index in uncheckedRows.Where(i => outcomes[i]!.Status is RowStatus.Granted or RowStatus.Duplicate or RowStatus.GrantedOrDuplicate))
        {
            outcomes[index] = outcomes[index]! with
            {
                Unchecked = true,
                Reason = Noted(outcomes[index]!.Reason ?? "granted", UncheckedNote(rows[index].Grant!.Customer.ExternalId!, linkBy)),
            };
        }

        var result = outcomes.Select(o => o!).ToList();
        var units = Enumerable.Range(0, rows.Count).Where(i => result[i].Status == RowStatus.Granted).Sum(i => rows[i].Grant!.Units);
        var wouldGrant = Enumerable.Range(0, rows.Count).Where(i => result[i].Status == RowStatus.WouldGrant).Sum(i => rows[i].Grant!.Units);
        var rejected = result.Count(r => r.Status == RowStatus.Rejected);
        var awaitingRows = awaiting.Count(i => result[i].Status is RowStatus.Granted or RowStatus.Duplicate or RowStatus.GrantedOrDuplicate or RowStatus.WouldGrant);
        var uncheckedCount = uncheckedRows.Count(i => result[i].Status is RowStatus.WouldGrant || result[i].Unchecked);
        // Counted from the rows, so that every row is in exactly one count (a row granted by an earlier delivery is granted).
        var granted = result.Count(r => r.Status == RowStatus.Granted);
        var duplicates = result.Count(r => r.Status == RowStatus.Duplicate);
        LogChunk(rows.Count, granted, duplicates, rejected, report.Requests);
        if (awaitingRows > 0)
        {
            LogAwaiting(awaitingRows);
        }

        if (uncheckedCount > 0)
        {
            LogUnchecked(uncheckedCount);
        }

        return new ChunkResult(result, granted, duplicates, rejected, units, report.Requests)
        {
            AwaitingCustomer = awaitingRows,
            Unchecked = uncheckedCount,
            UnitsWouldGrant = wouldGrant,
        };
    }

    /// <summary>The note on a row granted to an external id that no customer holds: Polar's 180-minute rule, with the deadline.</summary>
    public static string AwaitingNote(string externalId, DateTimeOffset linkBy) =>
        $"no Polar customer has external id '{Display.Escape(externalId)}' yet: Polar counts this grant only if a customer with this external id is created " +
        $"within 180 minutes (by {linkBy.UtcDateTime:yyyy-MM-dd HH:mm} UTC); check the id for typos";

    /// <summary>
    /// The note on a row sent by external id to a customer nobody checked: the directory did not know the id, and no lookup was
    /// made (a lookup per row would cost more than the grants). A sweep of the customer list settles it.
    /// </summary>
    public static string UncheckedNote(string externalId, DateTimeOffset linkBy) =>
        $"unchecked: the customer directory does not know external id '{Display.Escape(externalId)}' yet and no lookup was made; a sweep of the " +
        $"customer list (`credits customers sync`, or the app's own) settles it. Polar counts this grant only if a customer holds this id or " +
        $"gets it by {linkBy.UtcDateTime:yyyy-MM-dd HH:mm} UTC";

    private static string Noted(string? reason, string note) => reason is null ? note : $"{reason}; {note}";

    /// <summary>
    /// Rows with a grant id of their own that Polar reported as (possibly) repeated are compared with the first use of
    /// their id, read back in one request per 100 ids; a row whose id was used for another grant is rejected. Derived ids
    /// cannot conflict and cost nothing.
    /// </summary>
    private async Task RejectConflictsAsync(IReadOnlyList<BulkRow> rows, RowOutcome?[] outcomes, IngestReport report,
        List<int> eventRows, List<(GrantTarget Target, Customer? Customer)> resolved, CancellationToken cancellationToken)
    {
        var repeats = new List<(int Row, RepeatedGrant Repeat)>();
        foreach (var eventOutcome in report.Outcomes)
        {
            var index = eventRows[eventOutcome.Index];
            var grant = rows[index].Grant!;
            if (eventOutcome.Status is IngestStatus.Duplicate or IngestStatus.InsertedOrDuplicate && !grant.GrantId.IsDerived)
            {
                var (target, customer) = resolved[eventOutcome.Index];
                repeats.Add((index, new RepeatedGrant(grant, target, customer)));
            }
        }

        if (repeats.Count == 0)
        {
            return;
        }

        var conflicts = await GrantIdConflicts.FindAsync(polar, [.. repeats.Select(r => r.Repeat)], cancellationToken).ConfigureAwait(false);
        foreach (var (index, repeat) in repeats)
        {
            if (conflicts.TryGetValue(repeat.Grant.GrantId.Value, out var conflict))
            {
                outcomes[index] = Outcome(rows[index], RowStatus.Rejected, $"line {rows[index].Line}: {conflict}");
            }
        }
    }

    /// <summary>
    /// Polar answers an ingest request with totals only, so the rows of a request that held both new and repeated grants
    /// (a file fixed in place and run again) come back as granted-or-duplicate. Their events are read back (one
    /// <c>GET /v1/events/</c> per 100) and told apart by <c>grant_source</c>: an event of another run (another file content,
    /// another job) was there before, so its row is a duplicate. When the events of this run's source are exactly as many as
    /// Polar inserted beyond the rows already known to be granted, they are the ones it inserted now. Otherwise (an earlier
    /// run of the very same content and source) the rows stay granted-or-duplicate, which is still exact about the balance.
    /// When the source names one job (<paramref name="sourceIsOneJob"/>), duplicates are read back too: an event of this job's own
    /// source was sent by this job (an earlier delivery, or an attempt whose answer was lost), so its row is granted, once.
    /// </summary>
    private async Task TellGrantedFromDuplicatesAsync(IReadOnlyList<BulkRow> rows, RowOutcome?[] outcomes, int inserted, bool sourceIsOneJob,
        CancellationToken cancellationToken)
    {
        var ambiguous = Enumerable.Range(0, rows.Count).Where(i => outcomes[i]!.Status == RowStatus.GrantedOrDuplicate
            || sourceIsOneJob && outcomes[i]!.Status == RowStatus.Duplicate && rows[i].Grant is not null).ToList();
        if (ambiguous.Count == 0)
        {
            return;
        }

        var lookup = await polar.FindIngestedEventsByMetadataAsync(GrantService.GrantIdKey,
            ambiguous.Select(i => rows[i].Grant!.GrantId.Value).Distinct(StringComparer.Ordinal).ToList(), cancellationToken).ConfigureAwait(false);
        var ours = new List<int>();
        foreach (var index in ambiguous)
        {
            var grant = rows[index].Grant!;
            var events = lookup.Events.GetValueOrDefault(grant.GrantId.Value) ?? [];
            var first = events.Count == 0 ? null : events[0];
            var source = first?.Metadata?.GetValueOrDefault(GrantService.GrantSourceKey) is { ValueKind: System.Text.Json.JsonValueKind.String } text
                ? text.GetString()
                : null;
            if (source is null)
            {
                continue;
            }

            if (string.Equals(source, grant.Source, StringComparison.Ordinal))
            {
                if (sourceIsOneJob)
                {
                    outcomes[index] = Outcome(rows[index], RowStatus.Granted, null);
                    continue;
                }

                ours.Add(index);
            }
            else
            {
                outcomes[index] = Outcome(rows[index], RowStatus.Duplicate, $"already granted (by {source})");
            }
        }

        var knownGranted = outcomes.Count(o => o!.Status == RowStatus.Granted);
        if (ours.Count == inserted - knownGranted)
        {
            foreach (var index in ours)
            {
                outcomes[index] = Outcome(rows[index], RowStatus.Granted, null);
            }
        }
    }

    private static RowOutcome Outcome(BulkRow row, RowStatus status, string? reason) =>
        new(row.Line, row.Grant?.GrantId.Value, row.ExternalCustomerId, row.CustomerId, row.Units, row.Grant?.Meter, status, reason);

    /// <summary>Each meter the rows name, as a grant target or with the reason it cannot take grants.</summary>
    private async Task<Dictionary<string, (GrantTarget? Target, string? Error)>> TargetsAsync(IReadOnlyList<BulkRow> rows, CancellationToken cancellationToken)
    {
        var targets = new Dictionary<string, (GrantTarget?, string?)>(StringComparer.Ordinal);
        foreach (var meter in rows.Where(r => r.IsValid).Select(r => r.Grant!.Meter).Distinct(StringComparer.Ordinal))
        {
            try
            {
                targets[meter] = (await polar.GetGrantTargetAsync(meter, cancellationToken).ConfigureAwait(false), null);
            }
            catch (MeterNotGrantableException ex)
            {
                targets[meter] = (null, ex.Message);
            }
        }

        return targets;
    }

    /// <summary>
    /// What is known of each external id the valid rows name: the customer holds it (from the directory, a create, or a
    /// read), no customer holds it, or the row's customer cannot be created (the error). Customers the directory knows
    /// cost nothing; for the rest, the customer list is swept when that is cheaper (see
    /// <see cref="CustomerDirectory.SweepIfCheaperAsync"/>), and the ids still unknown cost one request each: a create
    /// when a row brings an email (none in a dry run), else a read.
    /// </summary>
    private async Task<Dictionary<string, CustomerState>> CustomersAsync(IReadOnlyList<BulkRow> rows, ChunkOptions options, CancellationToken cancellationToken)
    {
        var wanted = new Dictionary<string, CustomerRef>(StringComparer.Ordinal);
        foreach (var grant in rows.Where(r => r.IsValid).Select(r => r.Grant!))
        {
            if (grant.Customer.ExternalId is { } externalId && (!wanted.TryGetValue(externalId, out var seen) || seen.Email is null && grant.Customer.Email is not null))
            {
                wanted[externalId] = grant.Customer;
            }
        }

        var states = new Dictionary<string, CustomerState>(StringComparer.Ordinal);
        if (wanted.Count == 0)
        {
            return states;
        }

        IReadOnlyDictionary<string, CustomerDirectoryEntry> known;
        if (options.Known is { } prefetched)
        {
            // Looked up ahead; what was missing then may have been created by the chunk before, so ask again for those alone.
            var missing = wanted.Keys.Where(id => !prefetched.ContainsKey(id)).ToList();
            var since = missing.Count == 0 ? null : await directory.KnownAsync(missing, cancellationToken).ConfigureAwait(false);
            known = since is null || since.Count == 0 ? prefetched
                : prefetched.Concat(since).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        }
        else
        {
            known = await directory.KnownAsync(wanted.Keys, cancellationToken).ConfigureAwait(false);
        }

        var unknown = wanted.Keys.Where(id => !known.ContainsKey(id)).ToList();
        if (unknown.Count > 0 && await directory.SweepIfSmallAsync(Ahead(unknown.Count, rows.Count, options), cancellationToken).ConfigureAwait(false))
        {
            // A small organization is learned whole inline (at most InlineSweepPages + 1 requests): every row is then checked.
            known = await directory.KnownAsync(wanted.Keys, cancellationToken).ConfigureAwait(false);
            unknown = [.. wanted.Keys.Where(id => !known.ContainsKey(id))];
        }

        // With the directory off (TrustFor zero) nothing can settle an unchecked row later: every customer is looked up, as before it.
        var lookups = unknown.Where(id => !directory.Enabled || NeedsLookup(wanted[id], options)).ToList();
        if (lookups.Count > 0)
        {
            var expected = Ahead(lookups.Count, rows.Count, options);
            var sweep = await directory.SweepIfCheaperAsync(expected, options.SweepPages, cancellationToken).ConfigureAwait(false);
            if (sweep == SweepOutcome.InProgress && options.SweepPages is not null)
            {
                throw new CustomerSweepPendingException(
                    $"{lookups.Count} customers of this chunk need a lookup, and the customer list's sweep (cheaper than about {expected} lookups) is under way");
            }

            if (sweep == SweepOutcome.Complete)
            {
                known = await directory.KnownAsync(wanted.Keys, cancellationToken).ConfigureAwait(false);
                unknown = [.. wanted.Keys.Where(id => !known.ContainsKey(id))];
                lookups = [.. unknown.Where(id => !directory.Enabled || NeedsLookup(wanted[id], options))];
            }
        }

        // Ids nobody needs looked up cost nothing: a trusted sweep that missed them says no customer held them. Without one, a few
        // are read (a request each, less than leaving them for a sweep to settle), and the rest are unchecked.
        var rest = unknown.Except(lookups, StringComparer.Ordinal).ToList();
        var sweptAt = rest.Count > 0 ? await directory.SweptAtAsync(cancellationToken).ConfigureAwait(false) : null;
        if (rest.Count > 0 && sweptAt is null && Ahead(rest.Count, rows.Count, options) <= InlineReads)
        {
            lookups.AddRange(rest);
            rest = [];
        }

        foreach (var entry in known.Values)
        {
            states[entry.ExternalId] = new CustomerState(null, true, null);
        }

        foreach (var externalId in rest)
        {
            states[externalId] = new CustomerState(null, false, null, Unchecked: sweptAt is null);
        }

        var found = new System.Collections.Concurrent.ConcurrentDictionary<string, CustomerState>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(lookups, new ParallelOptions { MaxDegreeOfParallelism = CustomerConcurrency, CancellationToken = cancellationToken },
            async (externalId, ct) =>
            {
                var reference = wanted[externalId];
                found[externalId] = reference.Email is { } email && !options.DryRun
                    ? await EnsureAsync(externalId, email, reference.Name, ct).ConfigureAwait(false)
                    : await directory.CheckAsync(externalId, ct).ConfigureAwait(false) is { } customer
                        ? new CustomerState(customer, true, null)
                        : new CustomerState(null, false, null);
            }).ConfigureAwait(false);
        foreach (var (externalId, state) in found)
        {
            states[externalId] = state;
        }

        return states;
    }

    /// <summary>
    /// Creates the customer unless it exists, in one request either way: Polar's "external ID already exists" answer
    /// says the customer is there (the grant then goes by external id). Only an email owned by another customer costs
    /// a second request, to name that customer. What Polar said is recorded in the directory.
    /// </summary>
    private async Task<CustomerState> EnsureAsync(string externalId, string email, string? name, CancellationToken cancellationToken)
    {
        try
        {
            var created = await polar.CreateCustomerAsync(new CustomerCreate(email, name, externalId), cancellationToken).ConfigureAwait(false);
            await directory.RememberAsync([created], cancellationToken).ConfigureAwait(false);
            return new CustomerState(created, true, null);
        }
        catch (PolarException ex) when (ex.Kind == PolarErrorKind.Conflict)
        {
            if (ex.Errors.Any(e => e.Location is [.., "external_id"]))
            {
                await directory.RememberExistsAsync(externalId, cancellationToken).ConfigureAwait(false);
                return new CustomerState(null, true, null);
            }

            var owner = await polar.FindCustomerByEmailAsync(email, cancellationToken).ConfigureAwait(false);
            return owner switch
            {
                null => new CustomerState(null, false, $"Polar refused to create customer '{Display.Escape(externalId)}': {ex.Message}"),
                _ when owner.ExternalId == externalId => new CustomerState(owner, true, null),
                _ => new CustomerState(null, false, GrantService.EmailConflict(email, owner, externalId)),
            };
        }
        catch (PolarException ex) when (ex.Kind == PolarErrorKind.Validation)
        {
            return new CustomerState(null, false, $"Polar refused to create customer '{Display.Escape(externalId)}': {ex.Message}");
        }
    }

    /// <summary>About how many of the file's rows from this chunk on are like <paramref name="count"/> of this chunk's <paramref name="rows"/>.</summary>
    private static long Ahead(int count, int rows, ChunkOptions options) =>
        (long)Math.Ceiling(count * (double)Math.Max(options.RowsAhead, rows) / rows);

    /// <summary>
    /// Whether an unknown customer is worth a request: a row that creates its customer (an email, in a real run), or one whose
    /// customer must exist (the run requires it, or the id is lookalike-prone). Other rows go by external id without one.
    /// </summary>
    private static bool NeedsLookup(CustomerRef reference, ChunkOptions options) =>
        options.RequireExistingCustomers || reference.MustExistBecause is not null || reference.Email is not null && !options.DryRun;

    /// <summary>
    /// What a chunk knows of one external id: the customer when Polar returned it, whether one holds the id, or why not;
    /// <paramref name="Unchecked"/> when nothing is known either way (no lookup was made, no trusted sweep covers it).
    /// </summary>
    private sealed record CustomerState(Customer? Customer, bool Exists, string? Error, bool Unchecked = false);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Rows} rows granted to external ids that no Polar customer holds yet (180-minute rule; see the results notes)")]
    private partial void LogAwaiting(int rows);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Rows} rows sent by external id to customers not checked yet (the customer directory does not know them; a sweep settles them)")]
    private partial void LogUnchecked(int rows);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chunk of {Rows} rows: {Granted} granted, {Duplicates} duplicates, {Rejected} rejected, {Requests} ingest requests")]
    private partial void LogChunk(int rows, int granted, int duplicates, int rejected, int requests);
}
