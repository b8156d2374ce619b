using CreditGrants.Grants;

namespace CreditGrants.Tests;

public sealed class GrantIdTests
{
    [Fact]
    public void The_same_grant_id_always_gives_the_same_event_id()
    {
        Assert.Equal(new GrantId("welcome-user-42").EventId, new GrantId("welcome-user-42").EventId);
    }

    [Fact]
    public void Different_grant_ids_give_different_event_ids()
    {
        Assert.NotEqual(new GrantId("welcome-user-42").EventId, new GrantId("welcome-user-43").EventId);
    }

    [Fact]
    public void Event_ids_are_prefixed_and_of_fixed_length()
    {
        var eventId = new GrantId(new string('x', 200)).EventId;

        Assert.StartsWith("cg_", eventId, StringComparison.Ordinal);
        Assert.Equal(3 + 32, eventId.Length);
    }

    [Fact]
    public void Derived_ids_depend_only_on_their_facts()
    {
        Assert.Equal(GrantId.Derive("campaign-1", "2026-11-26", "user-1"), GrantId.Derive("campaign-1", "2026-11-26", "user-1"));
        Assert.NotEqual(GrantId.Derive("campaign-1", "2026-11-26", "user-1"), GrantId.Derive("campaign-1", "2026-11-27", "user-1"));
    }
}
