using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace CreditGrants.Grants;

/// <summary>What a derived grant id stands for: each kind is a domain of its own, so ids of two kinds never collide.</summary>
public enum GrantIdDomain
{
    /// <summary>The compensating event that takes back a grant's unspent units (facts: the grant id).</summary>
    Revocation,
    /// <summary>The compensating event of a grant's expiry (facts: the grant id).</summary>
    Expiry,
    /// <summary>A grant made by a rule on one of Polar's objects (facts: rule id, object id, period).</summary>
    RuleGrant,
    /// <summary>The re-grant of a carry-over grant's unspent units after a meter reset (facts: the grant id, the reset event id).</summary>
    CarryOver,
}

/// <summary>
/// The one derivation of the grant ids this app makes from facts rather than being given them (DESIGN.md principle 9), for
/// the kinds of <see cref="GrantIdDomain"/>: SHA-256 over the domain's name and each fact, every part length-prefixed, so that
/// no choice of facts of one kind (or a caller's own grant id, such as <c>revoke:X</c>) can give the id of another.
/// The older derivations of bulk rows (<see cref="GrantId.Derive"/>) stay as they are: changing them would grant old files again.
/// </summary>
public static class DerivedGrantId
{
    /// <summary>
    /// The id: a prefix naming the domain (<c>rv_</c>, <c>ex_</c>, <c>ru_</c>, <c>co_</c>) and 32 hex digits; marked derived.
    /// </summary>
    /// <exception cref="ArgumentException">No facts, or a fact that is null.</exception>
    public static GrantId Of(GrantIdDomain domain, params string[] facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        if (facts.Length == 0 || facts.Any(f => f is null))
        {
            throw new ArgumentException("A derived grant id needs its facts, none of them null.", nameof(facts));
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, "credit-grants/derived-grant-id/v1");
        Append(hash, domain.ToString());
        foreach (var fact in facts)
        {
            Append(hash, fact);
        }

        var prefix = domain switch
        {
            GrantIdDomain.Revocation => "rv_",
            GrantIdDomain.Expiry => "ex_",
            GrantIdDomain.RuleGrant => "ru_",
            GrantIdDomain.CarryOver => "co_",
            _ => throw new ArgumentOutOfRangeException(nameof(domain), domain, "not a grant id domain"),
        };
        return new GrantId(prefix + Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 16))).AsDerived();
    }

    private static void Append(IncrementalHash hash, string part)
    {
        var bytes = Encoding.UTF8.GetBytes(part);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }
}
