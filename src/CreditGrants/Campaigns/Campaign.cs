using System.Text.Json;

namespace CreditGrants.Campaigns;

/// <summary>How often a campaign grants to the same customer.</summary>
public enum GrantPolicy
{
    /// <summary>At most one grant per customer for the campaign's whole life: grant id <c>campaign:&lt;id&gt;:&lt;customer&gt;</c>.</summary>
    OncePerCustomer,

    /// <summary>One grant per customer per occurrence: grant id <c>campaign:&lt;id&gt;:&lt;occurrence&gt;:&lt;customer&gt;</c>.</summary>
    EveryOccurrence,
}

/// <summary>Who a campaign grants to.</summary>
public abstract record CampaignAudience
{
    /// <summary>The name used in documents and reports.</summary>
    public abstract string Kind { get; }
}

/// <summary>Customers created at or after the campaign's start.</summary>
public sealed record NewCustomersAudience : CampaignAudience
{
    public override string Kind => "newCustomers";
}

/// <summary>Every customer that matches Polar's <c>metadata[key]=value</c> and <c>active</c> filters (both optional).</summary>
public sealed record AllCustomersAudience(IReadOnlyDictionary<string, string> Metadata, bool? HasActiveSubscription) : CampaignAudience
{
    public override string Kind => "allCustomers";
}

/// <summary>An explicit list of external ids; an id no customer has yet waits for its customer.</summary>
public sealed record ExternalIdsAudience(IReadOnlyList<string> ExternalIds) : CampaignAudience
{
    public override string Kind => "externalIds";
}

/// <summary>The most a campaign may grant, in units and in grants; null means no limit.</summary>
public sealed record CampaignBudget(decimal? MaxTotalUnits, long? MaxGrants)
{
    public static CampaignBudget Unlimited { get; } = new(null, null);

    public bool IsLimited => MaxTotalUnits is not null || MaxGrants is not null;
}

/// <summary>A valid campaign: what it grants, when, to whom, how often, and within which budget.</summary>
public sealed record Campaign(
    string Id,
    string? Description,
    string Meter,
    decimal Units,
    string? Reason,
    bool Enabled,
    CampaignSchedule Schedule,
    DateTimeOffset? StartsAt,
    DateTimeOffset? EndsAt,
    CampaignAudience Audience,
    GrantPolicy Policy,
    CampaignBudget Budget,
    int CatchUp)
{
    /// <summary>How long each grant lasts after its occurrence; null: grants do not expire.</summary>
    public TimeSpan? ExpiresAfter { get; init; }

    /// <summary>Each grant made with <c>carryOver</c>: what a meter reset wipes of it is granted again (docs/credit-lifecycle.md, "Carry-over").</summary>
    public bool CarryOver { get; init; }

    /// <summary>When the grant of an occurrence expires (the occurrence plus <see cref="ExpiresAfter"/>); null when grants do not expire.</summary>
    public DateTimeOffset? ExpiryOf(DateTimeOffset occurrence) => ExpiresAfter is { } after ? occurrence + after : null;

    /// <summary>The grant source recorded on every grant of this campaign.</summary>
    public string Source => "campaign:" + Id;

    /// <summary>Whether an occurrence at this instant lies inside the campaign's window (both ends included).</summary>
    public bool InWindow(DateTimeOffset occurrence) =>
        (StartsAt is null || occurrence >= StartsAt) && (EndsAt is null || occurrence <= EndsAt);

    /// <summary>Metadata values as Polar's list filter takes them: text, with booleans as true/false.</summary>
    internal static string FilterValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.String => value.GetString()!,
        _ => value.GetRawText(),
    };
}
