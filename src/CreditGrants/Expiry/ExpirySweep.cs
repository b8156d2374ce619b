using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CreditGrants.Expiry;

/// <summary>What the sweep did with one due expiry.</summary>
public enum ExpiryStatus
{
    /// <summary>Its expiry event was ingested now, taking back what was unspent at the expiry's hour (possibly 0).</summary>
    Expired,
    /// <summary>It had expired before (an earlier run, or one that stopped before forgetting it); nothing changed.</summary>
    AlreadyExpired,
    /// <summary>Revoked before its expiry: nothing left to take back.</summary>
    Revoked,
    /// <summary>A meter reset wiped it before its expiry: nothing left to take back.</summary>
    WipedByReset,
    /// <summary>Its event says another expiry (a later one, or none): the index now holds what the event says.</summary>
    Rescheduled,
    /// <summary>Polar's event store does not show the grant yet; the next run looks again.</summary>
    Waiting,
    /// <summary>Polar never showed the grant within <see cref="ExpiryOptions.ForgetUnseenAfter"/>: it was refused or never sent; forgotten.</summary>
    NeverGranted,
    /// <summary>Polar refused the expiry event, or holds another expiry of the grant; kept for the next run (see the note).</summary>
    Failed,
}

/// <summary>One due expiry and what became of it: units taken back (for <see cref="ExpiryStatus.Expired"/>) and a note.</summary>
public sealed record ExpiryOutcome(string GrantId, string? ExternalCustomerId, string Meter, DateTimeOffset TakesEffectAt, ExpiryStatus Status,
    decimal UnitsTakenBack, string? Note);

/// <summary>What a sweep did: as of when, every due expiry it looked at, and the Polar requests it made.</summary>
public sealed record ExpirySweepResult(DateTimeOffset At, DateTimeOffset DueBy, IReadOnlyList<ExpiryOutcome> Expiries, int PolarRequests)
{
    public int Count(ExpiryStatus status) => Expiries.Count(e => e.Status == status);

    /// <summary>The units the expiry events ingested now took back.</summary>
    public decimal UnitsTakenBack => Expiries.Where(e => e.Status == ExpiryStatus.Expired).Sum(e => e.UnitsTakenBack);
}

/// <summary>
/// Takes back the unspent credits of grants whose expiry has passed (docs/credit-lifecycle.md, "Expiry"). The grants due are
/// read from the <see cref="IExpiryIndex"/>, never found by scanning Polar; each customer's ledger (<see cref="LedgerReader"/>)
/// then says what each grant had unspent at its expiry's hour, by the one consumption rule, and whether it was revoked, wiped
/// by a reset or expired already. The expiry events go out through <see cref="GrantCompensation"/> in batched ingests, each
/// timestamped at its expiry's hour with an id derived from the grant's, so a repeated or interrupted sweep never takes back
/// twice; an index entry is forgotten only once its grant's expiry is settled.
/// </summary>
public sealed partial class ExpirySweep(
    IExpiryIndex index,
    LedgerReader ledgers,
    GrantCompensation compensation,
    IPolarGateway polar,
    IOptions<ExpiryOptions> options,
    TimeProvider time,
    ILogger<ExpirySweep> logger)
{
    /// <summary>The source written on every expiry event.</summary>
    public const string Source = "expiry";

    /// <summary>Customers whose ledgers are read at once.</summary>
    private const int LedgerConcurrency = 4;

    /// <summary>Expiry events per compensation batch.</summary>
    private const int BatchSize = 1000;

    /// <summary>
    /// Expires what is due as of <paramref name="at"/> (default now; never later than now, as Polar takes no events dated in the
    /// future): the expiries that took effect at or before <c>at − Expiry:Settle</c>. Throws <see cref="PolarException"/> when
    /// Polar cannot be reached (what was ingested stays, and the next run finishes the rest).
    /// </summary>
    public async Task<ExpirySweepResult> RunAsync(DateTimeOffset? at = null, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var asOf = at ?? now;
        if (asOf > now)
        {
            throw new ArgumentOutOfRangeException(nameof(at), at, "Expiries cannot be run as of a future instant: Polar takes no events dated in the future.");
        }

        var settings = options.Value;
        var dueBy = asOf - settings.Settle;
        var due = await index.DueAsync(dueBy, settings.MaxPerRun, cancellationToken).ConfigureAwait(false);
        var outcomes = new List<ExpiryOutcome>(due.Count);
        var requests = 0;
        if (due.Count == 0)
        {
            return new ExpirySweepResult(asOf, dueBy, outcomes, 0);
        }

        // One ledger read per customer and meter, whatever the number of its grants due.
        var groups = due.GroupBy(e => (Customer: e.ExternalCustomerId ?? "c:" + e.CustomerId, e.Meter)).ToList();
        var decisions = new System.Collections.Concurrent.ConcurrentBag<(DueExpiry Entry, Decision Decision)>();
        var reads = 0;
        await Parallel.ForEachAsync(groups, new ParallelOptions { MaxDegreeOfParallelism = LedgerConcurrency, CancellationToken = cancellationToken },
            async (group, ct) =>
            {
                var (ledger, extra, unreadable) = await ReadLedgerAsync(group.First(), ct).ConfigureAwait(false);
                Interlocked.Add(ref reads, extra + (ledger?.Read.PolarRequests ?? 0));
                foreach (var entry in group)
                {
                    decisions.Add((entry, unreadable is null ? Decide(entry, ledger, now, settings) : new Decision(ExpiryStatus.Failed, unreadable)));
                }
            }).ConfigureAwait(false);
        requests += reads;

        var ordered = decisions.OrderBy(d => d.Entry.TakesEffectAt).ThenBy(d => d.Entry.GrantId, StringComparer.Ordinal).ToList();
        var toExpire = ordered.Where(d => d.Decision.Request is not null).ToList();
        var settled = new List<DueExpiry>();
        var rescheduled = new List<DueExpiry>();
        foreach (var (entry, decision) in ordered.Where(d => d.Decision.Request is null))
        {
            outcomes.Add(Outcome(entry, decision.Status, 0, decision.Note));
            if (decision.Status is not (ExpiryStatus.Waiting or ExpiryStatus.Failed))
            {
                settled.Add(entry);
            }

            if (decision.Reschedule is { } later)
            {
                rescheduled.Add(later);
            }
        }

        foreach (var batch in toExpire.Chunk(BatchSize))
        {
            var results = await compensation.CompensateAsync([.. batch.Select(b => b.Decision.Request!)], cancellationToken).ConfigureAwait(false);
            requests += 1 + (results.Any(r => r.Existing is not null || r.Status is CompensationStatus.Duplicate or CompensationStatus.Different) ? 1 : 0);
            for (var i = 0; i < batch.Length; i++)
            {
                var (entry, _) = batch[i];
                var compensated = results[i];
                var outcome = compensated.Status switch
                {
                    CompensationStatus.Ingested => Outcome(entry, ExpiryStatus.Expired, compensated.Request.Units, null),
                    CompensationStatus.Duplicate => Outcome(entry, ExpiryStatus.AlreadyExpired, 0, "its expiry event was ingested before"),
                    _ => Outcome(entry, ExpiryStatus.Failed, 0, compensated.Reason),
                };
                outcomes.Add(outcome);
                if (outcome.Status != ExpiryStatus.Failed)
                {
                    settled.Add(entry);
                }
            }
        }

        // Forgotten only now: a run stopped before this finds the entries again, and the derived ids make the repeat a duplicate.
        await index.AddAsync(rescheduled, cancellationToken).ConfigureAwait(false);
        await index.RemoveAsync(settled, cancellationToken).ConfigureAwait(false);
        var result = new ExpirySweepResult(asOf, dueBy, outcomes, requests);
        var (expired, waiting, failed) = (result.Count(ExpiryStatus.Expired), result.Count(ExpiryStatus.Waiting), result.Count(ExpiryStatus.Failed));
        LogSweep(due.Count, expired, result.UnitsTakenBack, waiting, failed, requests);
        foreach (var left in outcomes.Where(o => o.Status is ExpiryStatus.Failed or ExpiryStatus.NeverGranted))
        {
            LogNotExpired(left.GrantId, left.Status, left.Note ?? "");
        }

        return result;
    }

    /// <summary>What to do with one due entry, from its customer's ledger (null when the customer cannot be read).</summary>
    private static Decision Decide(DueExpiry entry, CustomerLedger? ledger, DateTimeOffset now, ExpiryOptions settings)
    {
        var grant = ledger?.Find(entry.GrantId);
        if (grant is null || grant.Status == LedgerStatus.Pending)
        {
            return now - entry.RecordedAt > settings.ForgetUnseenAfter
                ? new Decision(ExpiryStatus.NeverGranted,
                    $"Polar has shown no grant {entry.GrantId} since {GrantExpiry.Format(entry.RecordedAt)}: it was refused or never sent")
                : new Decision(ExpiryStatus.Waiting, "Polar's event store does not show the grant yet; the next run looks again");
        }

        if (grant.ExpiresAt is not { } takesEffect || takesEffect != entry.TakesEffectAt)
        {
            // The grant's event is the truth: a retried request with another expiresIn recorded an hour the grant does not have.
            return grant.ExpiresAt is { } other && other > entry.TakesEffectAt && grant.ExpiryTakenBack is null && grant.Status != LedgerStatus.Revoked
                ? new Decision(ExpiryStatus.Rescheduled, $"the grant's event expires it at {GrantExpiry.Format(other)}",
                    Reschedule: entry with { ExpiresAt = other })
                : grant.Status is LedgerStatus.Expired or LedgerStatus.Revoked or LedgerStatus.WipedByReset
                    ? new Decision(StatusOf(grant.Status), "settled at the grant's own expiry")
                    : new Decision(ExpiryStatus.Rescheduled, "the grant's event has no expiry; nothing to do");
        }

        return grant.Status switch
        {
            LedgerStatus.Revoked => new Decision(ExpiryStatus.Revoked, $"revoked at {Format(grant.ClosedAt)}, before its expiry; nothing left to take back"),
            LedgerStatus.WipedByReset => new Decision(ExpiryStatus.WipedByReset, $"a meter reset at {Format(grant.ClosedAt)} wiped it before its expiry; nothing left to take back"),
            LedgerStatus.Expired when grant.ExpiryTakenBack is { } expired => new Decision(ExpiryStatus.AlreadyExpired,
                $"expired before, taking back {expired} units"),
            // Polar's balance window starts at the reset's ingestion: an expiry sent now, whatever its timestamp, would count
            // in the window after the reset and take from the credits there. The reset has wiped the units anyway.
            LedgerStatus.Expired when ledger!.Resets.FirstOrDefault(r => r > takesEffect) is var reset && reset != default
                => new Decision(ExpiryStatus.WipedByReset,
                    $"a meter reset at {GrantExpiry.Format(reset)}, after the expiry took effect and before it was sent, wiped its units; "
                    + "an expiry sent now would take from the credits after the reset"),
            // A carry-over re-grant dated at a reset takes the usage since it: what the grant had unspent is not settled yet.
            LedgerStatus.Expired when GrantRevocation.PendingCarryOver(ledger!) is { } pending => new Decision(ExpiryStatus.Waiting,
                $"the carry-over of grant {pending.GrantId}, wiped by the meter reset at {Format(pending.ClosedAt)}, is not listed yet; the next run looks again"),
            LedgerStatus.Expired => new Decision(ExpiryStatus.Expired, null, Request: new CompensationRequest(entry.GrantId, CompensationKind.Expired,
                grant.EventCustomerId is { } id ? CustomerRef.Polar(id) : CustomerRef.External(grant.EventExternalCustomerId ?? entry.ExternalCustomerId!),
                ledger!.Meter, grant.UnspentNotTakenBack, grant.UnspentNotTakenBack, takesEffect, Source, null)),
            // Still open at its own expiry hour: the ledger was read before that hour (a sweep as of an earlier instant cannot be).
            _ => new Decision(ExpiryStatus.Waiting, "the ledger does not show the expiry's hour yet"),
        };
    }

    /// <summary>
    /// The customer's ledger for an entry and the requests made to find its external id; or why it cannot be read (a grant made by
    /// Polar customer id to a customer without an external id, or deleted since: the ledger reads customers by external id).
    /// </summary>
    private async Task<(CustomerLedger? Ledger, int Requests, string? Unreadable)> ReadLedgerAsync(DueExpiry entry, CancellationToken cancellationToken)
    {
        var externalId = entry.ExternalCustomerId;
        var requests = 0;
        if (externalId is null)
        {
            Polar.Models.Customer customer;
            try
            {
                customer = await polar.GetCustomerAsync(entry.CustomerId!.Value, cancellationToken).ConfigureAwait(false);
                requests++;
            }
            catch (PolarException ex) when (ex.Kind == PolarErrorKind.NotFound)
            {
                return (null, 1, $"customer {entry.CustomerId} no longer exists in Polar; nothing can be taken back from it");
            }

            externalId = customer.ExternalId;
            if (externalId is null)
            {
                return (null, requests, $"customer {entry.CustomerId} has no external id, by which ledgers read a customer's grants; give it one to expire this grant");
            }
        }

        return (await ledgers.ReadAsync(externalId, entry.Meter, cancellationToken).ConfigureAwait(false), requests, null);
    }

    private static ExpiryStatus StatusOf(LedgerStatus status) => status switch
    {
        LedgerStatus.Revoked => ExpiryStatus.Revoked,
        LedgerStatus.WipedByReset => ExpiryStatus.WipedByReset,
        _ => ExpiryStatus.AlreadyExpired,
    };

    private static ExpiryOutcome Outcome(DueExpiry entry, ExpiryStatus status, decimal units, string? note) =>
        new(entry.GrantId, entry.ExternalCustomerId, entry.Meter, entry.TakesEffectAt, status, units, note);

    private static string Format(DateTimeOffset? at) => at is { } value ? GrantExpiry.Format(value) : "an unknown time";

    /// <summary>What to do with an entry: a status and note, the expiry event to ingest, or the entry to hold instead.</summary>
    private sealed record Decision(ExpiryStatus Status, string? Note, CompensationRequest? Request = null, DueExpiry? Reschedule = null);

    [LoggerMessage(Level = LogLevel.Information, Message = "Expiry sweep: {Due} due, {Expired} expired ({Units} units taken back), {Waiting} waiting for Polar's event store, {Failed} failed, {Requests} Polar requests")]
    private partial void LogSweep(int due, int expired, decimal units, int waiting, int failed, int requests);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grant {GrantId} was not expired ({Status}): {Note}")]
    private partial void LogNotExpired(string grantId, ExpiryStatus status, string note);
}
