using System.Text.Json;
using System.Text.Json.Serialization;

namespace CreditGrants.Campaigns;

/// <summary>A campaign document as written (camelCase JSON), before the rules a schema cannot say are checked.</summary>
public sealed record CampaignDocument
{
    [JsonPropertyName("$schema")]
    public string? Schema { get; init; }

    public required string Id { get; init; }

    public string? Description { get; init; }

    public string? Meter { get; init; }

    public required decimal Units { get; init; }

    public string? Reason { get; init; }

    public bool? Enabled { get; init; }

    public required ScheduleDocument Schedule { get; init; }

    public string? StartsAt { get; init; }

    public string? EndsAt { get; init; }

    public required AudienceDocument Audience { get; init; }

    public required string GrantPolicy { get; init; }

    public BudgetDocument? Budget { get; init; }

    public int? CatchUp { get; init; }
}

/// <summary>A schedule as written: a cron expression with a time zone, or one instant.</summary>
public sealed record ScheduleDocument(string? Cron, string? TimeZone, string? Once);

/// <summary>An audience as written: exactly one of its members is set.</summary>
public sealed record AudienceDocument(NewCustomersDocument? NewCustomers, AllCustomersDocument? AllCustomers, IReadOnlyList<string>? ExternalIds);

/// <summary>The <c>newCustomers</c> audience, which has no options.</summary>
public sealed record NewCustomersDocument;

/// <summary>The <c>allCustomers</c> audience's filters, as Polar's customer list takes them.</summary>
public sealed record AllCustomersDocument(IReadOnlyDictionary<string, JsonElement>? Metadata, bool? HasActiveSubscription);

/// <summary>A budget as written.</summary>
public sealed record BudgetDocument(decimal? MaxTotalUnits, long? MaxGrants);

/// <summary>The serializer of campaign documents: camelCase, and a member the model does not know is refused.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CampaignDocument))]
[JsonSerializable(typeof(string))]
internal sealed partial class CampaignJsonContext : JsonSerializerContext;
