namespace CreditGrants.Grants;

/// <summary>Why a valid grant could not be made.</summary>
public enum GrantErrorKind
{
    /// <summary>No customer has the Polar customer id given (or, for a balance, the external id).</summary>
    CustomerNotFound,
    /// <summary>The email given already belongs to a customer with another external id.</summary>
    CustomerConflict,
    /// <summary>Polar refused the grant event itself.</summary>
    EventRejected,
    /// <summary>The grant id was first used for another grant (another customer, units or meter); nothing was granted.</summary>
    GrantIdConflict,
}

/// <summary>A grant (or balance read) that cannot succeed as asked; the message names the values involved.</summary>
public sealed class GrantException : Exception
{
    public GrantException(GrantErrorKind kind, string message) : base(message) => Kind = kind;

    public GrantException() : this(GrantErrorKind.EventRejected, "The grant was refused.") { }

    public GrantException(string message) : this(GrantErrorKind.EventRejected, message) { }

    public GrantException(string message, Exception innerException) : base(message, innerException) { }

    public GrantErrorKind Kind { get; }
}
