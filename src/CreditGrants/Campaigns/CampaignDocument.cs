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

    /// <summary>How long each grant lasts after its occurrence (an ISO 8601 duration, <see cref="Grants.GrantExpiry.ParseDuration"/>).</summary>
    public string? ExpiresAfter { get; init; }

    /// <summary>Whether each grant's unspent units survive meter resets (docs/credit-lifecycle.md, "Carry-over"); default false.</summary>
    public bool? CarryOver { get; init; }

    public bool? Enabled { get; init; }

    public required ScheduleDocument Schedule { get; init; }

    public string? StartsAt { get; init; }

    public string? EndsAt { get; init; }

    public required AudienceDocument Audience { get; init; }

    public required string GrantPolicy { get; init; }

    public BudgetDocument? Budget { get; init; }

    [JsonConverter(typeof(WholeNumberInt32Converter))]
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
public sealed record BudgetDocument(decimal? MaxTotalUnits, [property: JsonConverter(typeof(WholeNumberConverter))] long? MaxGrants);

/// <summary>The serializer of campaign documents: camelCase, and a member the model does not know is refused.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CampaignDocument))]
[JsonSerializable(typeof(string))]
internal sealed partial class CampaignJsonContext : JsonSerializerContext;

/// <summary>
/// Reads a whole number as JSON Schema counts one: <c>2</c> and <c>2.0</c> alike (the published schema's <c>integer</c>
/// accepts both); <c>2.5</c> or a number out of range is refused with a message that names no .NET type.
/// </summary>
internal sealed class WholeNumberConverter : JsonConverter<long>
{
    public override long Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDecimal(out var value))
        {
            throw new JsonException("must be a whole number");
        }

        return value == decimal.Truncate(value) && value is >= long.MinValue and <= long.MaxValue
            ? (long)value
            : throw new JsonException($"must be a whole number, not {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
    }

    public override void Write(Utf8JsonWriter writer, long value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumberValue(value);
    }
}

/// <summary>The <see cref="WholeNumberConverter"/> for <see cref="int"/> values (out of range is refused).</summary>
internal sealed class WholeNumberInt32Converter : JsonConverter<int>
{
    private static readonly WholeNumberConverter Whole = new();

    public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = Whole.Read(ref reader, typeof(long), options);
        return value is >= int.MinValue and <= int.MaxValue ? (int)value : throw new JsonException($"is {value}, beyond the numbers accepted here");
    }

    public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumberValue(value);
    }
}
