using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Meters;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Lifecycle;

/// <summary>
/// One row of a bulk job's (or a <c>credits bulk run</c>'s) results file, as a revocation reads it: its line, grant id,
/// customer, units and meter as written, and the status the grant run gave it (<c>granted</c>, <c>duplicate</c>, …).
/// </summary>
public sealed record BulkGrantedRow(long Line, string? GrantId, string? ExternalCustomerId, string? CustomerId, string? Units, string? Meter, string Status)
{
    /// <summary>The statuses of a row whose grant Polar holds (or took without saying whether it was new).</summary>
    public static readonly IReadOnlySet<string> GrantedStatuses = new HashSet<string>(StringComparer.Ordinal)
    {
        "granted", "duplicate", "granted_or_duplicate", "unchecked",
    };

    /// <summary>True when the grant run sent this row's grant (rejected, failed and dry-run rows were never granted).</summary>
    public bool WasGranted => GrantedStatuses.Contains(Status);

    /// <summary>The row's customer and meter, as revocations group rows: by external id, else by Polar customer id (then looked up once).</summary>
    public (string Customer, string Meter) CustomerKey => (ExternalCustomerId ?? CustomerId ?? "", Meter ?? "");
}

/// <summary>How one row of a bulk revocation ended.</summary>
public enum BulkRevokeStatus
{
    /// <summary>Its unspent units were taken back now.</summary>
    Revoked,
    /// <summary>A dry run: a real run would take back <see cref="BulkRevokeRowOutcome.UnitsRevoked"/> units.</summary>
    WouldRevoke,
    /// <summary>Nothing of it is left (all spent, expired or wiped by a reset); nothing was sent.</summary>
    NothingUnspent,
    /// <summary>It was revoked before (by an earlier run or a single revocation); nothing changed.</summary>
    AlreadyRevoked,
    /// <summary>The grant run did not grant this row (rejected, failed or a dry run); nothing to take back.</summary>
    NotGranted,
    /// <summary>Could not be revoked now (<see cref="BulkRevokeRowOutcome.Reason"/> says why); running again is safe.</summary>
    Failed,
}

/// <summary>
/// The outcome of one row: line, grant id, customer, meter, units granted, units taken back (by this run, by the earlier
/// revocation for <see cref="BulkRevokeStatus.AlreadyRevoked"/>, or that a dry run would take), status and why.
/// </summary>
public sealed record BulkRevokeRowOutcome(long Line, string? GrantId, string? ExternalCustomerId, string? Meter, decimal? UnitsGranted,
    decimal UnitsRevoked, BulkRevokeStatus Status, string? Reason);

/// <summary>
/// What a bulk revocation did: rows by status, units taken back (or that a dry run would take), the customers whose
/// ledgers were read and the Polar requests those reads took, with one customer lookup for each customer its rows name only by
/// Polar customer id (ingests come on top: one per 1,000 revocations or fewer).
/// </summary>
public sealed record BulkRevokeSummary(
    bool DryRun,
    long Rows,
    long Revoked,
    long WouldRevoke,
    long NothingUnspent,
    long AlreadyRevoked,
    long NotGranted,
    long Failed,
    decimal UnitsRevoked,
    decimal UnitsWouldRevoke,
    int Customers,
    int LedgerRequests);

/// <summary>How a bulk revocation runs: why (kept on every revocation event), whether to send nothing, and who asks
/// (<c>bulk-revoke:&lt;job&gt;</c>, the event's source).</summary>
public sealed record BulkRevokeOptions(string? Reason, bool DryRun, string Source);

/// <summary>
/// Takes back every granted row of a bulk job or a local bulk run (docs/bulk.md, "Undo a wrong upload"): rows are grouped
/// by customer and meter, each customer's ledger is read once (<see cref="LedgerReader"/>: 2 + ⌈entries/100⌉ requests, and a meter reset's partial hour), each
/// row's grant gets one revocation of what it has unspent as that read shows (<see cref="GrantRevocation.Plan"/>), and the
/// revocations are ingested in batches (<see cref="GrantCompensation"/>). Never a request per row. Idempotent: a grant
/// revoked before ends <see cref="BulkRevokeStatus.AlreadyRevoked"/>. A dry run reads the same and sends nothing.
/// </summary>
public sealed partial class BulkRevocation(LedgerReader ledgers, GrantRevocation revocation, GrantCompensation compensation,
    IPolarGateway polar, ILogger<BulkRevocation> logger)
{
    /// <summary>Revocations sent to <see cref="GrantCompensation"/> at once: the gateway splits them into Polar's batches.</summary>
    public const int FlushSize = 1_000;

    /// <summary>The distinct customer and meter pairs of the granted rows: how many ledgers a revocation reads.</summary>
    public static int CustomersOf(IEnumerable<BulkGrantedRow> rows) =>
        rows.Where(r => r.WasGranted).Select(r => r.CustomerKey).Distinct().Count();

    /// <summary>
    /// Revokes the rows' grants; one outcome per row, in the rows' order, and the summary. A customer whose ledger cannot be
    /// read, or a batch Polar refuses, fails its rows (with the reason) and the others go on. Throws
    /// <see cref="OperationCanceledException"/> only when cancelled.
    /// </summary>
    public async Task<(IReadOnlyList<BulkRevokeRowOutcome> Rows, BulkRevokeSummary Summary)> RevokeAsync(IReadOnlyList<BulkGrantedRow> rows,
        BulkRevokeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(options);
        var (named, lookups, lookupFailures) = await NameCustomersAsync(rows, cancellationToken).ConfigureAwait(false);
        rows = named;
        var outcomes = new BulkRevokeRowOutcome[rows.Count];
        var groups = new Dictionary<(string Customer, string Meter), List<int>>();
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var granted = decimal.TryParse(row.Units, System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var units)
                ? units : (decimal?)null;
            outcomes[i] = new BulkRevokeRowOutcome(row.Line, row.GrantId, row.ExternalCustomerId, row.Meter, granted, 0, BulkRevokeStatus.NotGranted,
                $"the grant run left this row {row.Status}: nothing was granted");
            if (!row.WasGranted)
            {
                continue;
            }

            if (row.ExternalCustomerId is null && row.CustomerId is { } polarId && lookupFailures.TryGetValue(polarId, out var lookupFailure))
            {
                outcomes[i] = outcomes[i] with { Status = BulkRevokeStatus.Failed, Reason = lookupFailure };
                continue;
            }

            if (string.IsNullOrEmpty(row.GrantId) || string.IsNullOrEmpty(row.Meter) || string.IsNullOrEmpty(row.ExternalCustomerId))
            {
                outcomes[i] = outcomes[i] with
                {
                    Status = BulkRevokeStatus.Failed,
                    Reason = "the row names no grant id, meter or external customer id: its customer's ledger cannot be read (revoke it with 'credits grants revoke <grantId>')",
                };
                continue;
            }

            var key = (row.ExternalCustomerId, row.Meter);
            if (!groups.TryGetValue(key, out var members))
            {
                groups[key] = members = [];
            }

            members.Add(i);
        }

        var ledgerRequests = lookups;
        var pending = new List<(int Row, RevokeRequest Request, CustomerLedger Ledger, CompensationRequest Compensation)>();
        foreach (var ((customer, meter), members) in groups)
        {
            cancellationToken.ThrowIfCancellationRequested();
            CustomerLedger ledger;
            try
            {
                ledger = await ledgers.ReadAsync(customer, meter, cancellationToken).ConfigureAwait(false);
                ledgerRequests += ledger.Read.PolarRequests;
            }
            catch (Exception ex) when (ex is PolarException or MeterNotGrantableException)
            {
                LogLedgerFailed(customer, meter, ex.Message);
                foreach (var i in members)
                {
                    outcomes[i] = outcomes[i] with { Status = BulkRevokeStatus.Failed, Reason = $"the ledger of the customer could not be read: {ex.Message}" };
                }

                continue;
            }

            foreach (var i in members)
            {
                var request = new RevokeRequest(rows[i].GrantId!, options.Reason, Source: options.Source);
                outcomes[i] = Plan(outcomes[i], request, ledger, options.DryRun, out var planned);
                if (planned is not null)
                {
                    pending.Add((i, request, ledger, planned));
                }
            }

            if (pending.Count >= FlushSize)
            {
                await SendAsync(pending, outcomes, cancellationToken).ConfigureAwait(false);
            }
        }

        await SendAsync(pending, outcomes, cancellationToken).ConfigureAwait(false);
        var summary = new BulkRevokeSummary(options.DryRun, rows.Count,
            outcomes.LongCount(o => o.Status == BulkRevokeStatus.Revoked),
            outcomes.LongCount(o => o.Status == BulkRevokeStatus.WouldRevoke),
            outcomes.LongCount(o => o.Status == BulkRevokeStatus.NothingUnspent),
            outcomes.LongCount(o => o.Status == BulkRevokeStatus.AlreadyRevoked),
            outcomes.LongCount(o => o.Status == BulkRevokeStatus.NotGranted),
            outcomes.LongCount(o => o.Status == BulkRevokeStatus.Failed),
            outcomes.Where(o => o.Status == BulkRevokeStatus.Revoked).Sum(o => o.UnitsRevoked),
            outcomes.Where(o => o.Status == BulkRevokeStatus.WouldRevoke).Sum(o => o.UnitsRevoked),
            groups.Count, ledgerRequests);
        LogSummary(options.Source, options.DryRun, summary.Rows, summary.Revoked, summary.AlreadyRevoked, summary.Failed, summary.UnitsRevoked, summary.Customers);
        return (outcomes, summary);
    }

    /// <summary>
    /// Rows granted by Polar customer id only (a campaign's job grants so) get their customer's external id, by which ledgers are
    /// read: one lookup per distinct customer. A customer that cannot be looked up, or holds no external id, fails its rows (the reason).
    /// </summary>
    private async Task<(IReadOnlyList<BulkGrantedRow> Rows, int Lookups, Dictionary<string, string> Failures)> NameCustomersAsync(
        IReadOnlyList<BulkGrantedRow> rows, CancellationToken cancellationToken)
    {
        var external = new Dictionary<string, string>(StringComparer.Ordinal);
        var failures = new Dictionary<string, string>(StringComparer.Ordinal);
        var lookups = 0;
        foreach (var id in rows.Where(r => r.WasGranted && r.ExternalCustomerId is null && r.CustomerId is not null).Select(r => r.CustomerId!).Distinct(StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!Guid.TryParse(id, out var guid))
            {
                failures[id] = $"the row's customer_id '{Identity.Display.Escape(id)}' is not a Polar customer id (a UUID), and it names no external customer id";
                continue;
            }

            try
            {
                lookups++;
                var customer = await polar.GetCustomerAsync(guid, cancellationToken).ConfigureAwait(false);
                if (customer.ExternalId is { Length: > 0 } externalId)
                {
                    external[id] = externalId;
                }
                else
                {
                    failures[id] = $"customer {id} holds no external id, by which its ledger is read (revoke its grant with 'credits grants revoke <grantId>')";
                }
            }
            catch (PolarException ex)
            {
                failures[id] = $"customer {id} could not be looked up: {ex.Message}";
            }
        }

        if (external.Count + failures.Count == 0)
        {
            return (rows, lookups, failures);
        }

        return ([.. rows.Select(r => r.ExternalCustomerId is null && r.CustomerId is { } id && external.TryGetValue(id, out var name) ? r with { ExternalCustomerId = name } : r)],
            lookups, failures);
    }

    /// <summary>What a row's grant needs, from its customer's ledger: a revocation to send (<paramref name="planned"/>), or its outcome now.</summary>
    private BulkRevokeRowOutcome Plan(BulkRevokeRowOutcome row, RevokeRequest request, CustomerLedger ledger, bool dryRun, out CompensationRequest? planned)
    {
        planned = null;
        if (ledger.Find(request.GrantId) is not { Status: not LedgerStatus.Pending } grant)
        {
            return row with
            {
                Status = BulkRevokeStatus.Failed,
                Reason = "Polar's event store does not list this grant in the customer's ledger (yet): run the revocation again in a few seconds",
            };
        }

        // A carry-over grant a reset wiped is where its re-grant is now: that one says whether anything is left. A revocation
        // made before (a partial one leaves its grant open) is answered by the revocation plan (below).
        var holder = grant;
        var chainRevoked = GrantRevocation.ChainRevocation(grant, ledger) is not null;
        if (grant is { CarryOver: true, Status: LedgerStatus.WipedByReset } && !chainRevoked)
        {
            try
            {
                holder = GrantRevocation.Holder(grant, ledger);
            }
            catch (RevokeException ex)
            {
                // Polar's own rollover holds its units (a conflict): nothing of ours to take back; else try again.
                return row with
                {
                    UnitsGranted = grant.Units,
                    Status = ex.Kind == RevokeErrorKind.Conflict ? BulkRevokeStatus.NothingUnspent : BulkRevokeStatus.Failed,
                    Reason = ex.Message,
                };
            }
        }

        switch (chainRevoked ? (LedgerStatus?)null : holder.Status)
        {
            case LedgerStatus.Pending:
                return row with { UnitsGranted = grant.Units, Status = BulkRevokeStatus.Failed, Reason = "its carry-over re-grant was made moments ago and Polar does not list it yet: run the revocation again in a few seconds" };
            case LedgerStatus.Expired:
                return row with { UnitsGranted = grant.Units, Status = BulkRevokeStatus.NothingUnspent, Reason = "the grant expired" };
            case LedgerStatus.WipedByReset:
                return row with { UnitsGranted = grant.Units, Status = BulkRevokeStatus.NothingUnspent, Reason = "a meter reset wiped the grant" };
            // Unless a pending carry-over re-grant will take some of the usage (the revocation plan says to run again).
            case LedgerStatus.Used when GrantRevocation.PendingCarryOver(ledger) is null:
                return row with { UnitsGranted = grant.Units, Status = BulkRevokeStatus.NothingUnspent, Reason = "nothing of it is left: the customer spent it" + (holder.Revoked > 0 ? ", or another grant's revocation took it" : "") };
        }

        try
        {
            var (compensationRequest, earlier) = revocation.Plan(request, ledger);
            if (earlier is not null)
            {
                return row with { UnitsGranted = grant.Units, UnitsRevoked = earlier.TakenBack, Status = BulkRevokeStatus.AlreadyRevoked, Reason = null };
            }

            var spent = grant.Units - compensationRequest!.Units;
            var reason = spent > 0 ? $"{spent} of {grant.Units} units were spent" : null;
            if (dryRun)
            {
                return row with { UnitsGranted = grant.Units, UnitsRevoked = compensationRequest.Units, Status = BulkRevokeStatus.WouldRevoke, Reason = reason };
            }

            planned = compensationRequest;
            return row with { UnitsGranted = grant.Units, UnitsRevoked = compensationRequest.Units, Reason = reason };
        }
        catch (RevokeException ex)
        {
            return row with { UnitsGranted = grant.Units, Status = BulkRevokeStatus.Failed, Reason = ex.Message };
        }
    }

    private async Task SendAsync(List<(int Row, RevokeRequest Request, CustomerLedger Ledger, CompensationRequest Compensation)> pending,
        BulkRevokeRowOutcome[] outcomes, CancellationToken cancellationToken)
    {
        if (pending.Count == 0)
        {
            return;
        }

        IReadOnlyList<CompensationOutcome> sent;
        try
        {
            sent = await compensation.CompensateAsync([.. pending.Select(p => p.Compensation)], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is PolarException or MeterNotGrantableException)
        {
            LogBatchFailed(pending.Count, ex.Message);
            foreach (var (i, _, _, _) in pending)
            {
                outcomes[i] = outcomes[i] with { UnitsRevoked = 0, Status = BulkRevokeStatus.Failed, Reason = $"Polar did not take the revocation: {ex.Message}" };
            }

            pending.Clear();
            return;
        }

        for (var k = 0; k < pending.Count; k++)
        {
            var (i, request, ledger, _) = pending[k];
            try
            {
                var answer = GrantRevocation.Answer(request, ledger, sent[k]);
                outcomes[i] = outcomes[i] with
                {
                    UnitsRevoked = answer.TakenBack,
                    Status = answer.Status == RevokeStatus.Revoked ? BulkRevokeStatus.Revoked : BulkRevokeStatus.AlreadyRevoked,
                };
            }
            catch (Exception ex) when (ex is RevokeException or GrantException)
            {
                outcomes[i] = outcomes[i] with { UnitsRevoked = 0, Status = BulkRevokeStatus.Failed, Reason = ex.Message };
            }
        }

        pending.Clear();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk revocation: the ledger of {Customer} on {Meter} could not be read: {Reason}")]
    private partial void LogLedgerFailed(string customer, string meter, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk revocation: a batch of {Count} revocations failed: {Reason}")]
    private partial void LogBatchFailed(int count, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk revocation {Source} (dry run {DryRun}): {Rows} rows, {Revoked} revoked, {AlreadyRevoked} already revoked, {Failed} failed, {Units} units taken back, {Customers} customers read")]
    private partial void LogSummary(string source, bool dryRun, long rows, long revoked, long alreadyRevoked, long failed, decimal units, int customers);
}
