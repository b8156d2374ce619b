namespace CreditGrants.Grants;

/// <summary>
/// Who receives a grant: by the app's own id (<see cref="ExternalId"/>) or by Polar's customer id. <see cref="MustExistBecause"/>
/// is set for an external id that <see cref="Identity.Identifier"/> would refuse (invisible characters, not NFC) but that may
/// be a customer's exact id in Polar: such a grant goes only to a customer that holds it, and no customer is created.
/// </summary>
public sealed record CustomerRef(string? ExternalId, Guid? CustomerId, string? Email = null, string? Name = null, string? MustExistBecause = null)
{
    public static CustomerRef External(string externalId, string? email = null, string? name = null) => new(externalId, null, email, name);

    public static CustomerRef Polar(Guid customerId) => new(null, customerId);

    public override string ToString() => ExternalId is not null ? $"external id '{Identity.Display.Escape(ExternalId)}'" : $"customer {CustomerId}";
}

/// <summary>
/// A validated grant of <see cref="Units"/> credits on a meter; the same <see cref="GrantId"/> never grants twice. <see cref="ExpiresAt"/>,
/// when set, is when its unspent units are taken back (at <see cref="GrantExpiry.TakesEffectAt"/>, a whole UTC hour).
/// <see cref="CarryOver"/> makes its unspent units granted again after a meter reset (docs/credit-lifecycle.md, "Carry-over").
/// </summary>
public sealed record CreditGrant(GrantId GrantId, CustomerRef Customer, decimal Units, string Meter, string? Reason, string Source,
    DateTimeOffset? ExpiresAt = null, bool CarryOver = false)
{
    /// <summary>A carry-over re-grant: the id of the grant whose unspent units it grants again (<c>grant_carries</c>); null otherwise.</summary>
    public string? Carries { get; init; }

    /// <summary>The event's timestamp when not now: a carry-over re-grant is dated at the reset it survives. Null: Polar's now.</summary>
    public DateTimeOffset? Timestamp { get; init; }
}

/// <summary>How a grant ended.</summary>
public enum GrantStatus
{
    /// <summary>The credits were granted now.</summary>
    Granted,
    /// <summary>A grant with this id was already made; nothing changed.</summary>
    Duplicate,
}

/// <summary>The outcome of a grant: what was granted, to whom, on which meter, under which Polar event id.</summary>
public sealed record GrantOutcome(
    GrantStatus Status,
    string GrantId,
    Guid? CustomerId,
    string? ExternalCustomerId,
    bool CustomerCreated,
    bool CustomerExists,
    decimal Units,
    string Meter,
    string EventId)
{
    /// <summary>When the grant's unspent units expire, as asked; null when it does not expire.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Made with <c>carryOver</c>: what a meter reset wipes of it is granted again (docs/credit-lifecycle.md, "Carry-over").</summary>
    public bool CarryOver { get; init; }
}

/// <summary>A customer's credit on one meter; a positive <see cref="Balance"/> is credit left.</summary>
public sealed record CreditBalance(
    string ExternalCustomerId,
    Guid CustomerId,
    string Meter,
    Guid MeterId,
    decimal Balance,
    decimal ConsumedUnits,
    long CreditedUnits);
