using System.Security.Cryptography;
using System.Text;

namespace CreditGrants.Grants;

/// <summary>
/// The idempotency key of a grant. Its Polar event id is derived from it alone, so the same grant id always
/// gives the same event id and Polar's deduplication makes a repeated grant a no-op.
/// </summary>
public readonly record struct GrantId
{
    public GrantId(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        Value = value;
    }

    private GrantId(string value, bool derived) : this(value) => IsDerived = derived;

    public string Value { get; }

    /// <summary>
    /// True for ids made by <see cref="Derive"/> from the grant's own facts: such an id cannot be reused for another
    /// grant, so a duplicate needs no read-back. Not part of equality.
    /// </summary>
    public bool IsDerived { get; }

    /// <summary>The same id, marked as derived (see <see cref="IsDerived"/>).</summary>
    public GrantId AsDerived() => new(Value, derived: true);

    public bool Equals(GrantId other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    public override int GetHashCode() => Value is null ? 0 : StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>The Polar event <c>external_id</c>: <c>cg_</c> and 32 hex digits of SHA-256 over the grant id.</summary>
    public string EventId
    {
        get
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes("credit-grant\n" + Value));
            return "cg_" + Convert.ToHexStringLower(hash.AsSpan(0, 16));
        }
    }

    /// <summary>A grant id made of stable facts (a campaign occurrence and customer; a file hash and row), never a clock.</summary>
    public static GrantId Derive(params string[] facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', facts)));
        return new GrantId("d_" + Convert.ToHexStringLower(hash.AsSpan(0, 16)), derived: true);
    }

    public override string ToString() => Value;
}
