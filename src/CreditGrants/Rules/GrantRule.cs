using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Campaigns;

namespace CreditGrants.Rules;

/// <summary>
/// A valid grant rule (docs/rules.md): on each of Polar's <see cref="Event"/> webhooks whose customer has every
/// <see cref="CustomerMetadata"/> pair, grant <see cref="Units"/> on <see cref="Meter"/>, at most <see cref="PerCustomerCap"/>
/// grants per customer and <see cref="Budget"/> units in all (null: no limit); for <c>order.paid</c> and
/// <c>subscription.active|cycled</c>, only orders and subscriptions of <see cref="ProductIds"/>, <see cref="Units"/> per seat.
/// An <c>order.paid</c> rule may instead grant <see cref="UnitsPerMinorUnit"/>: per currency (lowercase ISO 4217, as Polar
/// writes it), units per minor unit of the order's <c>net_amount</c> (after discounts, before tax), rounded down to 6 decimals.
/// Exactly one of <see cref="Units"/> and <see cref="UnitsPerMinorUnit"/> is set. <see cref="ExpiresIn"/>: each grant's unspent
/// units expire that long after the event; <see cref="RevokeOnRefund"/>: an <c>order.refunded</c> takes back what the order granted.
/// </summary>
public sealed record GrantRule(
    string Id,
    string? Description,
    bool Enabled,
    string Event,
    IReadOnlyDictionary<string, string> CustomerMetadata,
    decimal? Units,
    string Meter,
    string? Reason,
    int? PerCustomerCap,
    decimal? Budget,
    IReadOnlySet<Guid>? ProductIds = null,
    IReadOnlyDictionary<string, decimal>? UnitsPerMinorUnit = null,
    TimeSpan? ExpiresIn = null,
    bool RevokeOnRefund = false)
{
    /// <summary>The trigger of grants to new customers.</summary>
    public const string CustomerCreated = "customer.created";

    /// <summary>The trigger of grants on paid orders of <see cref="ProductIds"/>, <see cref="Units"/> per seat.</summary>
    public const string OrderPaid = "order.paid";

    /// <summary>The trigger of one grant per subscription period, when a subscription becomes active (its first period).</summary>
    public const string SubscriptionActive = "subscription.active";

    /// <summary>The trigger of one grant per subscription period, at each renewal.</summary>
    public const string SubscriptionCycled = "subscription.cycled";

    /// <summary>Not a trigger: the event on which <see cref="RevokeOnRefund"/> rules take back what an order granted.</summary>
    public const string OrderRefunded = "order.refunded";

    /// <summary>Whether the rule's trigger names products (<see cref="ProductIds"/> required).</summary>
    public static bool HasProducts(string trigger) => trigger is OrderPaid or SubscriptionActive or SubscriptionCycled;

    /// <summary>The grant source recorded on every grant of this rule.</summary>
    public string Source => "rule:" + Id;

    /// <summary>Whether the rule's grants survive a meter reset (<c>carryOver</c>; docs/credit-lifecycle.md, "Carry-over").</summary>
    public bool CarryOver { get; init; }

    /// <summary>Whether a customer's metadata (Polar's <c>metadata</c> object) holds every pair of <see cref="CustomerMetadata"/>.</summary>
    public bool Matches(JsonElement metadata) => CustomerMetadata.All(pair =>
        metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty(pair.Key, out var value)
        && value.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False
        && Campaign.FilterValue(value) == pair.Value);
}

/// <summary>One refused part of a rule document: its JSON path (<c>$.trigger.event</c>), the value found, and what is accepted.</summary>
public sealed record RuleError(string Path, string? Value, string Message)
{
    public override string ToString() => Value is null ? $"{Path}: {Message}" : $"{Path} {Value}: {Message}";
}

/// <summary>Either a valid rule or every error found in its document.</summary>
public sealed record RuleValidation(GrantRule? Rule, IReadOnlyList<RuleError> Errors)
{
    public bool IsValid => Rule is not null;
}

/// <summary>Where the app keeps grant rules; bound from the <c>Rules</c> configuration section.</summary>
public sealed class RuleOptions
{
    public const string SectionName = "Rules";

    /// <summary>The blob container of rule documents, one <c>&lt;id&gt;.json</c> each.</summary>
    [Required]
    public string Container { get; set; } = "rules";

    /// <summary>The table of what rules granted: per rule its units, per customer its grants, per grant its outcome.</summary>
    [Required]
    public string Table { get; set; } = "rulegrants";
}

/// <summary>A rule document as written (camelCase JSON), before the rules a schema cannot say are checked.</summary>
public sealed record RuleDocument
{
    [JsonPropertyName("$schema")]
    public string? Schema { get; init; }

    public required string Id { get; init; }

    public string? Description { get; init; }

    public bool? Enabled { get; init; }

    public required RuleTriggerDocument Trigger { get; init; }

    public decimal? Units { get; init; }

    public IReadOnlyDictionary<string, decimal>? UnitsPerMinorUnit { get; init; }

    public string? ExpiresIn { get; init; }

    public bool? RevokeOnRefund { get; init; }

    public string? Meter { get; init; }

    public bool? CarryOver { get; init; }

    public string? Reason { get; init; }

    [JsonConverter(typeof(WholeNumberInt32Converter))]
    public int? PerCustomerCap { get; init; }

    public decimal? Budget { get; init; }
}

/// <summary>A trigger as written.</summary>
public sealed record RuleTriggerDocument(string Event, IReadOnlyDictionary<string, JsonElement>? CustomerMetadata, IReadOnlyList<Guid>? ProductIds);

/// <summary>The serializer of rule documents: camelCase, and a member the model does not know is refused.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RuleDocument))]
internal sealed partial class RuleJsonContext : JsonSerializerContext;
