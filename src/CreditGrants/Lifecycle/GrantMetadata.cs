using CreditGrants.Grants;

namespace CreditGrants.Lifecycle;

/// <summary>
/// The metadata vocabulary of the events this app ingests (docs/credit-lifecycle.md, "The events' metadata"): what a grant
/// event and a compensating event (a revocation or an expiry) carry beside the meter's summed property. The ledger reads
/// grants back by these keys, so they never change meaning.
/// </summary>
public static class GrantMetadata
{
    /// <summary>The grant's id (a compensation: its own derived id). Every event of this app has it.</summary>
    public const string GrantId = GrantService.GrantIdKey;

    /// <summary>Who made it: <c>http</c>, <c>cli</c>, <c>bulk:&lt;job&gt;</c>, <c>campaign:&lt;id&gt;:&lt;occurrence&gt;</c>, …</summary>
    public const string Source = GrantService.GrantSourceKey;

    /// <summary>The operator's or caller's reason, when given.</summary>
    public const string Reason = GrantService.GrantReasonKey;

    /// <summary>The meter's name: the ledger lists a customer's events on a meter by it.</summary>
    public const string Meter = GrantService.GrantMeterKey;

    /// <summary>A grant's expiry, ISO 8601 UTC (<c>2026-12-31T00:00:00Z</c>); takes effect at the end of its hour.</summary>
    public const string ExpiresAt = "grant_expires_at";

    /// <summary>A grant whose unspent units are granted again after a meter reset (<c>true</c>, a JSON boolean); issue #21.</summary>
    public const string CarryOver = "grant_carry_over";

    /// <summary>
    /// A carry-over re-grant: the id of the grant whose unspent units it grants again after a reset (the grant of the
    /// previous cycle, itself maybe a re-grant), so the ledger shows the chain and the re-grant carries again at the next reset.
    /// </summary>
    public const string Carries = "grant_carries";

    /// <summary>A compensating event: the id of the grant it takes back.</summary>
    public const string Compensates = "grant_compensates";

    /// <summary>A compensating event: <c>revoked</c> or <c>expired</c>.</summary>
    public const string Compensation = "grant_compensation";

    /// <summary>
    /// A compensating event: the units the grant had unspent when it closed, as read then (a number ≥ 0). The units taken
    /// back are the summed property's value; they differ only for a revocation that was told to take more than was unspent.
    /// </summary>
    public const string Unspent = "grant_unspent";

    /// <summary>The value of <see cref="Compensation"/> for a kind.</summary>
    public static string Name(CompensationKind kind) => kind switch
    {
        CompensationKind.Revoked => "revoked",
        CompensationKind.Expired => "expired",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a compensation kind"),
    };

    /// <summary>The kind named by a <see cref="Compensation"/> value, or null for anything else.</summary>
    public static CompensationKind? Kind(string? name) => name switch
    {
        "revoked" => CompensationKind.Revoked,
        "expired" => CompensationKind.Expired,
        _ => null,
    };

    /// <summary>The id of the compensation of a kind for a grant: one per grant and kind, whatever the units.</summary>
    public static GrantId CompensationId(CompensationKind kind, string grantId) =>
        DerivedGrantId.Of(kind == CompensationKind.Revoked ? GrantIdDomain.Revocation : GrantIdDomain.Expiry, grantId);
}

/// <summary>What takes a grant's units back before they are spent: a revocation (whole, or partial: the rest stays open) or its expiry.</summary>
public enum CompensationKind
{
    /// <summary>Taken back by an operator or a caller.</summary>
    Revoked,
    /// <summary>Its expiry passed.</summary>
    Expired,
}
