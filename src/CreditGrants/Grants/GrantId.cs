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

    public string Value { get; }

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
        return new GrantId("d_" + Convert.ToHexStringLower(hash.AsSpan(0, 16)));
    }

    public override string ToString() => Value;
}
