using CreditGrants.Grants;

namespace CreditGrants.Tests;

/// <summary>One derivation of derived grant ids, with a domain per kind (issues #18, #20, #21).</summary>
public sealed class DerivedGrantIdTests
{
    [Fact]
    public void The_same_facts_give_the_same_id_and_it_is_marked_derived()
    {
        var first = DerivedGrantId.Of(GrantIdDomain.Revocation, "welcome-42");

        Assert.Equal(first, DerivedGrantId.Of(GrantIdDomain.Revocation, "welcome-42"));
        Assert.True(first.IsDerived);
        Assert.Matches("^rv_[0-9a-f]{32}$", first.Value);
    }

    [Fact]
    public void The_same_facts_in_two_domains_never_give_the_same_id()
    {
        var ids = Enum.GetValues<GrantIdDomain>().Select(d => DerivedGrantId.Of(d, "welcome-42").Value).ToArray();

        Assert.Equal(ids.Length, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Facts_cannot_be_shifted_across_their_boundaries()
    {
        Assert.NotEqual(DerivedGrantId.Of(GrantIdDomain.RuleGrant, "a", "bc"), DerivedGrantId.Of(GrantIdDomain.RuleGrant, "ab", "c"));
        Assert.NotEqual(DerivedGrantId.Of(GrantIdDomain.RuleGrant, "a\nb"), DerivedGrantId.Of(GrantIdDomain.RuleGrant, "a", "b"));
    }

    [Fact]
    public void A_callers_grant_id_that_reads_like_a_revocation_is_not_one()
    {
        var revocation = DerivedGrantId.Of(GrantIdDomain.Revocation, "X");

        Assert.NotEqual("revoke:X", revocation.Value);
        Assert.NotEqual(new GrantId("revoke:X").EventId, revocation.EventId);
        Assert.NotEqual(DerivedGrantId.Of(GrantIdDomain.Revocation, "revoke:X"), revocation);
    }

    [Fact]
    public void Missing_facts_are_refused()
    {
        Assert.Throws<ArgumentException>(() => DerivedGrantId.Of(GrantIdDomain.Expiry));
        Assert.Throws<ArgumentException>(() => DerivedGrantId.Of(GrantIdDomain.Expiry, "welcome-42", null!));
    }
}
