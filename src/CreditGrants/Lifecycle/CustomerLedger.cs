using System.Collections.Concurrent;

namespace CreditGrants.Lifecycle;

/// <summary>Where a grant stands in a ledger: a block's status (<see cref="CreditBlockStatus"/>), or pending.</summary>
public enum LedgerStatus
{
    /// <summary>Made by this app moments ago; Polar's event store does not list it yet.</summary>
    Pending,
    /// <summary>Open, nothing spent.</summary>
    Active,
    /// <summary>Open, part spent.</summary>
    PartlyUsed,
    /// <summary>Nothing left: spent, or taken by revocations (<see cref="LedgerGrant.Revoked"/>).</summary>
    Used,
    /// <summary>Taken back; frozen at what it had spent.</summary>
    Revoked,
    /// <summary>Expired; frozen at what it had spent.</summary>
    Expired,
    /// <summary>A meter reset closed it.</summary>
    WipedByReset,
}

/// <summary>
/// One grant in a customer's ledger: units granted, spent and remaining (derived by <see cref="CreditAllocation"/>; a
/// revoked or expired grant as its compensation recorded it), status, who made it and why, when it was granted, expires
/// and closed, what its revocation and expiry took back (<see cref="TakenBack"/>, summed) and by which compensation (the one
/// that closed it, else its partial revocation), and how its event addressed the customer (a compensation addresses it the same way). <see cref="PolarCredit"/> marks Polar's own Meter Credit units (<c>meter.credited</c>).
/// </summary>
public sealed record LedgerGrant(
    string GrantId,
    decimal Units,
    decimal Spent,
    decimal Remaining,
    LedgerStatus Status,
    string? Source,
    string? Reason,
    DateTimeOffset GrantedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? ClosedAt,
    decimal? TakenBack,
    string? CompensationGrantId,
    Guid? EventCustomerId,
    string? EventExternalCustomerId,
    bool PolarCredit = false)
{
    /// <summary>
    /// Units an expired grant had unspent whose expiry event is not sent yet: they still count in Polar's balance until the
    /// expiry runs (0 for any other grant).
    /// </summary>
    public decimal UnspentNotTakenBack => this is { Status: LedgerStatus.Expired, ExpiryTakenBack: null, PolarCredit: false } ? Math.Max(0, Units - Spent - Revoked) : 0;

    /// <summary>
    /// Units revocations took from it while it stayed open: its own partial revocation, or the part of another grant's
    /// revocation beyond what that grant had (<see cref="CreditBlockState.Revoked"/>); 0 for most grants.
    /// </summary>
    public decimal Revoked { get; init; }

    /// <summary>
    /// For a carry-over grant a reset wiped: the units the carry-over grants again of it at that reset (its unspent units
    /// less what Polar's own rollover carried of them: 0 when Polar carried them all; <see cref="CreditAllocation.CarryOverAt"/>),
    /// computed at the resets that wiped a carry-over grant whose re-grant is not listed; null for any other grant.
    /// </summary>
    public decimal? CarryOverUnits { get; init; }

    /// <summary>Units its expiry event took back; null while none was sent (<see cref="TakenBack"/> counts its revocation too).</summary>
    public decimal? ExpiryTakenBack { get; init; }

    /// <summary>Made with <c>carryOver</c> (<see cref="GrantMetadata.CarryOver"/>): what a reset wipes of it is granted again.</summary>
    public bool CarryOver { get; init; }

    /// <summary>A carry-over re-grant: the grant whose unspent units it grants again (<see cref="GrantMetadata.Carries"/>).</summary>
    public string? Carries { get; init; }
}

/// <summary>
/// What the ledger read from Polar, and when: the customer meter's numbers (null when the customer has no events on the
/// meter, or does not exist yet), the usage since the latest reset and the balance as Polar's event store gives them, and
/// whether Polar's balance does not show that yet (balances are recomputed seconds after ingest); the Polar requests it took.
/// </summary>
public sealed record LedgerRead(
    DateTimeOffset At,
    decimal? Balance,
    decimal? ConsumedUnits,
    long? CreditedUnits,
    decimal Usage,
    decimal BalanceFromEvents,
    bool BalanceLags,
    int PolarRequests);

/// <summary>A customer's grants on a meter, oldest first, with the compensations and resets they were read with.</summary>
public sealed record CustomerLedger(
    string ExternalCustomerId,
    Guid? CustomerId,
    string Meter,
    Guid MeterId,
    IReadOnlyList<LedgerGrant> Grants,
    IReadOnlyList<RecordedCompensation> Compensations,
    IReadOnlyList<DateTimeOffset> Resets,
    LedgerRead Read)
{
    /// <summary>The grant with this id, or null.</summary>
    public LedgerGrant? Find(string grantId) => Grants.FirstOrDefault(g => string.Equals(g.GrantId, grantId, StringComparison.Ordinal));

    /// <summary>The carry-over re-grant that carries the grant with this id (<see cref="LedgerGrant.Carries"/>), or null.</summary>
    public LedgerGrant? RegrantOf(string grantId) => Grants.FirstOrDefault(g => string.Equals(g.Carries, grantId, StringComparison.Ordinal));
}

/// <summary>A grant this process made, as <see cref="RecentGrants"/> keeps it.</summary>
public sealed record RecentGrant(string GrantId, string ExternalCustomerId, string Meter, decimal Units, string Source, string? Reason, DateTimeOffset At);

/// <summary>
/// The grants this process made in the last <see cref="Window"/> (kept in memory, at most <see cref="Capacity"/>), so a
/// ledger can show a grant Polar's event store does not list yet as pending. Another instance of the app, or another run
/// of the CLI, does not see them: the ledger says so.
/// </summary>
public sealed class RecentGrants(TimeProvider time)
{
    /// <summary>How long a grant is kept: well beyond Polar's event store lag of seconds.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    /// <summary>The most grants kept; the oldest go first.</summary>
    public const int Capacity = 10_000;

    private readonly ConcurrentQueue<RecentGrant> _grants = new();

    /// <summary>Records a grant just made.</summary>
    public void Add(string grantId, string externalCustomerId, string meter, decimal units, string source, string? reason)
    {
        _grants.Enqueue(new RecentGrant(grantId, externalCustomerId, meter, units, source, reason, time.GetUtcNow()));
        Trim();
    }

    /// <summary>The grants kept for this customer and meter, oldest first.</summary>
    public IReadOnlyList<RecentGrant> For(string externalCustomerId, string meter)
    {
        Trim();
        return [.. _grants.Where(g => string.Equals(g.ExternalCustomerId, externalCustomerId, StringComparison.Ordinal)
            && string.Equals(g.Meter, meter, StringComparison.Ordinal))];
    }

    private void Trim()
    {
        var oldest = time.GetUtcNow() - Window;
        while ((_grants.Count > Capacity || (_grants.TryPeek(out var first) && first.At < oldest)) && _grants.TryDequeue(out _))
        {
        }
    }
}
