using CreditGrants.Grants;
using CreditGrants.Polar;

namespace CreditGrants.Lifecycle;

/// <summary>
/// A revocation asked for: take back grant <paramref name="GrantId"/>'s unspent units, or exactly <paramref name="Units"/>
/// (more than unspent only with <paramref name="AllowNegativeBalance"/>), for <paramref name="Reason"/>, on behalf of
/// <paramref name="Source"/> (<c>http</c>, <c>cli</c>, <c>bulk-revoke:&lt;job&gt;</c>, <c>rule:&lt;id&gt;</c>). With
/// <paramref name="AtMostUnspent"/>, <paramref name="Units"/> is a most: what is unspent of it is taken back (a rule's partial
/// refund), and a revocation made before that took back as much as was then unspent of it is the same one.
/// </summary>
public sealed record RevokeRequest(string GrantId, string? Reason, decimal? Units = null, bool AllowNegativeBalance = false, string Source = "http",
    bool AtMostUnspent = false);

/// <summary>How a revocation ended.</summary>
public enum RevokeStatus
{
    /// <summary>The compensating event was ingested now.</summary>
    Revoked,
    /// <summary>The grant was already revoked as asked; nothing changed.</summary>
    AlreadyRevoked,
}

/// <summary>
/// A revocation's answer: the grant, its compensation's ids, what was unspent and what was taken back, whether the balance
/// goes negative by it, and what was read from Polar to decide (<see cref="LedgerRead"/>: balances lag by seconds).
/// </summary>
public sealed record RevokeOutcome(
    RevokeStatus Status,
    string GrantId,
    string RevocationGrantId,
    string EventId,
    string ExternalCustomerId,
    string Meter,
    decimal GrantUnits,
    decimal Unspent,
    decimal TakenBack,
    bool BalanceGoesNegative,
    DateTimeOffset RevokedAt,
    string? Reason,
    LedgerRead Read)
{
    /// <summary>
    /// The carry-over re-grant the units were taken from, when <see cref="GrantId"/> is a carry-over grant a meter reset wiped
    /// (its unspent units were granted again as this one, <see cref="GrantMetadata.Carries"/>); null when taken from the grant itself.
    /// </summary>
    public string? CarriedAs { get; init; }
}

/// <summary>Why a revocation could not be made as asked; the message names the grant, the units and what would be accepted.</summary>
public enum RevokeErrorKind
{
    /// <summary>No grant event has this grant id (or Polar's event store does not list it yet).</summary>
    GrantNotFound,
    /// <summary>
    /// A different revocation of the grant was made before (other units), or the grant expired or was wiped (for a carry-over
    /// grant, with nothing unspent, or with its unspent units carried whole by Polar's own rollover).
    /// </summary>
    Conflict,
    /// <summary>More units than are unspent were asked for without allowing a negative balance.</summary>
    ExceedsUnspent,
}

/// <summary>A revocation refused; <see cref="Kind"/> says why.</summary>
public sealed class RevokeException : Exception
{
    public RevokeException(RevokeErrorKind kind, string message) : base(message) => Kind = kind;

    public RevokeException() : this(RevokeErrorKind.GrantNotFound, "The grant cannot be revoked.") { }

    public RevokeException(string message) : this(RevokeErrorKind.GrantNotFound, message) { }

    public RevokeException(string message, Exception innerException) : base(message, innerException) { }

    public RevokeErrorKind Kind { get; }
}

/// <summary>
/// Takes back a grant (docs/credit-lifecycle.md, "Taking credits back"): finds its event by grant id (one lookup), reads the
/// customer's ledger on its meter, and ingests one compensating event for what is unspent according to what Polar shows
/// now, never more unless asked with <see cref="RevokeRequest.AllowNegativeBalance"/>. Idempotent: a second revocation
/// that asks for nothing else answers the first; one that asks for other units is a <see cref="RevokeErrorKind.Conflict"/>.
/// </summary>
public sealed class GrantRevocation(IPolarGateway polar, LedgerReader ledgers, GrantCompensation compensation, TimeProvider time)
{
    /// <summary>Revokes one grant. Throws <see cref="RevokeException"/>, <see cref="PolarException"/>.</summary>
    public async Task<RevokeOutcome> RevokeAsync(RevokeRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var lookup = await polar.FindEventsByMetadataAsync(GrantMetadata.GrantId, [request.GrantId], cancellationToken).ConfigureAwait(false);
        var grantEvent = lookup.Events.GetValueOrDefault(request.GrantId)?.FirstOrDefault(e =>
            e.Metadata is { } m && RecordedCompensation.Text(m, GrantMetadata.Compensates) is null && RecordedCompensation.Text(m, GrantMetadata.Meter) is not null);
        if (grantEvent is null)
        {
            throw new RevokeException(RevokeErrorKind.GrantNotFound,
                $"No grant has the id '{Identity.Display.Escape(request.GrantId)}' (a grant made in the last seconds may not be listed by Polar yet: try again shortly).");
        }

        var meter = RecordedCompensation.Text(grantEvent.Metadata!, GrantMetadata.Meter)!;
        var externalId = grantEvent.ExternalCustomerId ?? grantEvent.Customer?.ExternalId
            ?? throw new RevokeException(RevokeErrorKind.GrantNotFound,
                $"Grant '{Identity.Display.Escape(request.GrantId)}' went to customer {grantEvent.CustomerId}, which has no external id: its ledger cannot be read.");
        var ledger = await ledgers.ReadAsync(externalId, meter, cancellationToken).ConfigureAwait(false);
        return await RevokeAsync(request, ledger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Revokes one grant of a ledger just read (bulk revocations read each customer's ledger once). Throws
    /// <see cref="RevokeException"/>, <see cref="PolarException"/>.
    /// </summary>
    public async Task<RevokeOutcome> RevokeAsync(RevokeRequest request, CustomerLedger ledger, CancellationToken cancellationToken = default)
    {
        var (compensationRequest, earlier) = Plan(request, ledger);
        if (earlier is not null)
        {
            return earlier;
        }

        var outcome = await compensation.CompensateAsync(compensationRequest!, cancellationToken).ConfigureAwait(false);
        return Answer(request, ledger, outcome);
    }

    /// <summary>
    /// What revoking <paramref name="request"/> against <paramref name="ledger"/> takes: the compensation to ingest, or the
    /// answer when the grant is already revoked as asked. Throws <see cref="RevokeException"/> when it cannot be revoked.
    /// </summary>
    public (CompensationRequest? Compensation, RevokeOutcome? AlreadyRevoked) Plan(RevokeRequest request, CustomerLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(ledger);
        var asked = ledger.Find(request.GrantId) is { PolarCredit: false } found ? found
            : throw new RevokeException(RevokeErrorKind.GrantNotFound,
                $"No grant has the id '{Identity.Display.Escape(request.GrantId)}' in the ledger of '{Identity.Display.Escape(ledger.ExternalCustomerId)}' on meter '{ledger.Meter}'.");
        // A carry-over chain (the original and its re-grants after each reset) is revoked once: whichever of its grants is
        // named, and whichever held the units when it was revoked (a revocation sent before a reset was listed names the original).
        var chain = Chain(asked, ledger);
        if (RevocationOf(chain, ledger) is { } made)
        {
            var madeName = Name(asked, ledger.Find(made.Compensates) ?? asked);
            if (!Same(request, made))
            {
                throw new RevokeException(RevokeErrorKind.Conflict, Different(madeName, made, request.Units!.Value));
            }

            return (null, new RevokeOutcome(RevokeStatus.AlreadyRevoked, asked.GrantId, made.CompensationGrantId, new GrantId(made.CompensationGrantId).EventId,
                ledger.ExternalCustomerId, ledger.Meter, asked.Units, made.Unspent, made.Units, false, made.Timestamp, made.Reason, ledger.Read)
            {
                // Named only when the units were taken from a re-grant after the one asked for (never from the one before it).
                CarriedAs = chain.IndexOf(made.Compensates) > chain.IndexOf(asked.GrantId) ? made.Compensates : null,
            });
        }

        var grant = Holder(asked, ledger);
        var carriedAs = grant == asked ? null : grant.GrantId;
        var name = Name(asked, grant);
        switch (grant.Status)
        {
            case LedgerStatus.Pending:
                throw new RevokeException(RevokeErrorKind.GrantNotFound,
                    $"Grant {name} was made moments ago and Polar does not list it yet: try again in a few seconds.");
            case LedgerStatus.Expired:
                throw new RevokeException(RevokeErrorKind.Conflict, $"Grant {name} expired at {grant.ClosedAt:u}: nothing of it is left to take back.");
            case LedgerStatus.WipedByReset:
                throw new RevokeException(RevokeErrorKind.Conflict, $"Grant {name} was wiped by a meter reset at {grant.ClosedAt:u}: nothing of it is left to take back.");
        }

        // An open grant: what it has unspent is settled only once a pending carry-over re-grant (which takes the usage since
        // its reset) is made.
        if (PendingCarryOver(ledger) is { } pending && !chain.Contains(pending.GrantId, StringComparer.Ordinal))
        {
            throw new RevokeException(RevokeErrorKind.GrantNotFound,
                $"A meter reset at {pending.ClosedAt:u} wiped carry-over grant '{Identity.Display.Escape(pending.GrantId)}' of '{Identity.Display.Escape(ledger.ExternalCustomerId)}', and its carry-over re-grant is not listed yet: what grant '{Identity.Display.Escape(request.GrantId)}' has unspent can change when it is made. Try again in a minute (revocations wait for it up to {CarryOverWait.TotalMinutes:0} minutes after the reset; if it never comes, check that Polar's subscription webhooks reach the app).");
        }

        var unspent = grant.Remaining;
        var taken = request.Units is { } most && request.AtMostUnspent ? Math.Min(most, unspent) : request.Units ?? unspent;
        if (taken > unspent && !request.AllowNegativeBalance)
        {
            throw new RevokeException(RevokeErrorKind.ExceedsUnspent,
                $"Grant {name} has {unspent} of {grant.Units} units unspent (as Polar showed at {ledger.Read.At:u}); taking back {taken} would take credit the customer already used. Ask for at most {unspent} units, or allow a negative balance (allowNegativeBalance: true, --allow-negative-balance).");
        }

        var customer = grant.EventCustomerId is { } customerId ? CustomerRef.Polar(customerId) : CustomerRef.External(grant.EventExternalCustomerId ?? ledger.ExternalCustomerId);
        return (new CompensationRequest(grant.GrantId, CompensationKind.Revoked, customer, ledger.Meter, taken, unspent,
            ledger.Read.At > time.GetUtcNow() ? time.GetUtcNow() : ledger.Read.At, request.Source, request.Reason) { IdFrom = chain[0] }, null);
    }

    /// <summary>
    /// The revocation of <paramref name="grant"/>'s carry-over chain (the original and its re-grants), whichever grant of it
    /// the revocation took the units from; null when none of them was revoked.
    /// </summary>
    public static RecordedCompensation? ChainRevocation(LedgerGrant grant, CustomerLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(grant);
        ArgumentNullException.ThrowIfNull(ledger);
        return RevocationOf(Chain(grant, ledger), ledger);
    }

    private static RecordedCompensation? RevocationOf(List<string> chain, CustomerLedger ledger) =>
        ledger.Compensations.FirstOrDefault(c => c.Kind == CompensationKind.Revoked && chain.Contains(c.Compensates, StringComparer.Ordinal));

    /// <summary>
    /// The carry-over chain <paramref name="grant"/> belongs to, root first: the original grant (followed back along
    /// <see cref="LedgerGrant.Carries"/>) and each re-grant that carries the one before. A grant without re-grants is its own chain.
    /// </summary>
    private static List<string> Chain(LedgerGrant grant, CustomerLedger ledger)
    {
        var root = grant;
        var seen = new HashSet<string>(StringComparer.Ordinal) { root.GrantId };
        while (root.Carries is { } carried && ledger.Find(carried) is { } earlier && seen.Add(earlier.GrantId))
        {
            root = earlier;
        }

        var chain = new List<string> { root.GrantId };
        for (var current = root; ledger.RegrantOf(current.GrantId) is { } next
             && !chain.Contains(next.GrantId, StringComparer.Ordinal);)
        {
            chain.Add(next.GrantId);
            current = next;
        }

        return chain;
    }

    /// <summary>
    /// Whether <paramref name="made"/> is the revocation <paramref name="request"/> asks for: any, when it names no units;
    /// the same units; or, for a most (<see cref="RevokeRequest.AtMostUnspent"/>), as much of it as was then unspent.
    /// </summary>
    private static bool Same(RevokeRequest request, RecordedCompensation made) =>
        request.Units is not { } units || units == made.Units || (request.AtMostUnspent && made.Units == Math.Min(units, made.Unspent));

    /// <summary>
    /// How long after a reset revocations and expiries of the customer's grants wait for its carry-over re-grants
    /// (<see cref="PendingCarryOver"/>): normally made within seconds of the reset's webhook, and retried for minutes.
    /// </summary>
    public static readonly TimeSpan CarryOverWait = TimeSpan.FromHours(1);

    /// <summary>
    /// A carry-over grant of <paramref name="ledger"/> a reset wiped less than <see cref="CarryOverWait"/> before the ledger was
    /// read, with units to carry (<see cref="LedgerGrant.CarryOverUnits"/>) and no re-grant listed, its chain not revoked; or
    /// null. Until the re-grant is made (dated at the reset), what the customer's other grants have unspent is not settled:
    /// the re-grant takes usage since the reset, so a revocation or an expiry computed now would take the wrong units.
    /// </summary>
    public static LedgerGrant? PendingCarryOver(CustomerLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        return ledger.Grants.FirstOrDefault(g => g is { CarryOver: true, Status: LedgerStatus.WipedByReset, CarryOverUnits: > 0, ClosedAt: { } reset }
            && ledger.Read.At - reset < CarryOverWait
            && ledger.RegrantOf(g.GrantId) is null
            && ChainRevocation(g, ledger) is null);
    }

    /// <summary>
    /// How long after a reset its carry-over is taken as settled: before, usage Polar's event store does not list yet (it lags
    /// by seconds) can make Polar's rollover look as if it carried a wiped grant whole, so a refusal that no re-grant comes
    /// would be final too soon (a rule's refund records it); the answer is "try again" until then.
    /// </summary>
    public static readonly TimeSpan CarryOverSettles = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The grant that holds <paramref name="asked"/>'s units now: <paramref name="asked"/> itself, or, for a carry-over grant a
    /// meter reset wiped, the re-grant that carries it (<see cref="LedgerGrant.Carries"/>), and that one's after later resets.
    /// A wiped carry-over grant with units unspent whose re-grant is not listed is a <see cref="RevokeErrorKind.GrantNotFound"/>
    /// (try again: the carry-over runs on the reset's webhook), or a <see cref="RevokeErrorKind.Conflict"/> when Polar's own
    /// rollover carried all its units (<see cref="LedgerGrant.CarryOverUnits"/> 0: no re-grant comes) and the reset is
    /// <see cref="CarryOverSettles"/> old; it is never revoked itself in the window after the reset.
    /// </summary>
    public static LedgerGrant Holder(LedgerGrant asked, CustomerLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(asked);
        ArgumentNullException.ThrowIfNull(ledger);
        var grant = asked;
        var seen = new HashSet<string>(StringComparer.Ordinal) { grant.GrantId };
        while (grant is { Status: LedgerStatus.WipedByReset, CarryOver: true, ClosedAt: { } reset })
        {
            var regrant = ledger.RegrantOf(grant.GrantId);
            if (regrant is null)
            {
                var unspent = grant.Units - grant.Spent - grant.Revoked;
                if (unspent > 0 && grant.CarryOverUnits == 0 && ledger.Read.At - reset >= CarryOverSettles)
                {
                    throw new RevokeException(RevokeErrorKind.Conflict,
                        $"Grant {Name(asked, grant)} was wiped by the meter reset at {reset:u} with {unspent} units unspent, and Polar's own rollover carried all of them (its Meter Credit rollover kept more than its own credits had left): none of our grants holds them, so nothing of it can be taken back. They stay in the customer's balance until spent or the next reset.");
                }

                if (unspent > 0)
                {
                    // Never revoked in the window after the reset instead: none of our grants may hold the units there (a
                    // carry-over missed past the next reset), and a re-grant made meanwhile would be taken from twice.
                    throw new RevokeException(RevokeErrorKind.GrantNotFound,
                        $"Grant {Name(asked, grant)} was wiped by the meter reset at {reset:u} with {unspent} units unspent, and no carry-over re-grant of it is listed yet: it is made when Polar's subscription webhook for the reset is processed (the event store lags by seconds): try again in a minute.");
                }

                break;
            }

            if (!seen.Add(regrant.GrantId))
            {
                break;
            }

            grant = regrant;
        }

        return grant;
    }

    private static string Name(LedgerGrant asked, LedgerGrant holder) => holder == asked
        ? $"'{Identity.Display.Escape(asked.GrantId)}'"
        : $"'{Identity.Display.Escape(asked.GrantId)}' (carried over a meter reset as '{Identity.Display.Escape(holder.GrantId)}')";

    /// <summary>The answer to a revocation whose compensation was sent. Throws <see cref="RevokeException"/> for a different one made first.</summary>
    public static RevokeOutcome Answer(RevokeRequest request, CustomerLedger ledger, CompensationOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(outcome);
        var asked = outcome.Request;
        var grant = ledger.Find(request.GrantId)!;
        var carriedAs = string.Equals(asked.GrantId, request.GrantId, StringComparison.Ordinal) ? null : asked.GrantId;
        switch (outcome.Status)
        {
            case CompensationStatus.Rejected:
                throw new GrantException(GrantErrorKind.EventRejected, $"Polar refused the revocation of grant '{Identity.Display.Escape(request.GrantId)}': {outcome.Reason}");
            case CompensationStatus.Different when outcome.Existing is { } first && Same(request, first):
                // Another revocation of the unspent units raced this one and won: it is the revocation asked for.
                return new RevokeOutcome(RevokeStatus.AlreadyRevoked, request.GrantId, outcome.CompensationGrantId, outcome.EventId, ledger.ExternalCustomerId,
                    ledger.Meter, grant.Units, first.Unspent, first.Units, false, first.Timestamp, first.Reason, ledger.Read) { CarriedAs = carriedAs };
            case CompensationStatus.Different:
                throw new RevokeException(RevokeErrorKind.Conflict, outcome.Existing is { } existing
                    ? Different($"'{Identity.Display.Escape(request.GrantId)}'", existing, asked.Units)
                    : $"Grant '{Identity.Display.Escape(request.GrantId)}' was revoked by another request moments ago: {outcome.Reason}");
        }

        var status = outcome.Status == CompensationStatus.Duplicate ? RevokeStatus.AlreadyRevoked : RevokeStatus.Revoked;
        var made = outcome.Existing;
        return new RevokeOutcome(status, request.GrantId, outcome.CompensationGrantId, outcome.EventId, ledger.ExternalCustomerId, ledger.Meter,
            grant.Units, made?.Unspent ?? asked.Unspent, made?.Units ?? asked.Units, (made?.Units ?? asked.Units) > (made?.Unspent ?? asked.Unspent),
            made?.Timestamp ?? asked.Timestamp, made?.Reason ?? asked.Reason, ledger.Read) { CarriedAs = carriedAs };
    }

    private static string Different(string name, RecordedCompensation made, decimal asked) =>
        $"Grant {name} was already revoked at {made.Timestamp:u}, taking back {made.Units} units (revocation {made.CompensationGrantId}); a revocation of {asked} units is a different one, and a grant is revoked once.";
}
