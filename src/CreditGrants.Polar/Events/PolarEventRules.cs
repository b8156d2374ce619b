using System.Text.Json;
using CreditGrants.Polar.Models;

namespace CreditGrants.Polar.Events;

/// <summary>Polar's rules for one ingested event, checked before sending so one bad event never fails its batch.</summary>
public static class PolarEventRules
{
    public const int MaxNameLength = 128;
    public const int MaxMetadataKeys = 50;
    public const int MaxMetadataKeyLength = 40;
    public const int MaxMetadataStringLength = 500;

    private static readonly HashSet<string> NestedMetadataKeys = new(StringComparer.Ordinal) { "_cost", "_llm" };

    /// <summary>Why Polar would refuse this event, or null when it would accept it.</summary>
    public static string? Check(PolarEvent polarEvent, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(polarEvent);
        if (string.IsNullOrEmpty(polarEvent.Name))
        {
            return "name is empty; Polar requires an event name";
        }

        if (polarEvent.Name.Length > MaxNameLength)
        {
            return $"name is {polarEvent.Name.Length} characters; Polar accepts at most {MaxNameLength}";
        }

        var hasCustomer = polarEvent.CustomerId is not null;
        var hasExternal = polarEvent.ExternalCustomerId is not null;
        if (hasCustomer == hasExternal)
        {
            return "exactly one of customer_id and external_customer_id must be set";
        }

        if (hasExternal && polarEvent.ExternalCustomerId!.Length == 0)
        {
            return "external_customer_id is empty";
        }

        if (polarEvent.Timestamp is { } timestamp && timestamp > now)
        {
            return $"timestamp {timestamp:O} is in the future; Polar accepts only past or present times";
        }

        foreach (var (field, text) in new[]
                 {
                     ("name", polarEvent.Name), ("external_customer_id", polarEvent.ExternalCustomerId),
                     ("external_id", polarEvent.ExternalId),
                 })
        {
            if (text is not null && text.Contains('\0', StringComparison.Ordinal))
            {
                return $"{field} contains a NUL character, which Polar refuses";
            }
        }

        return polarEvent.Metadata is null ? null : CheckMetadata(polarEvent.Metadata);
    }

    private static string? CheckMetadata(IReadOnlyDictionary<string, JsonElement> metadata)
    {
        if (metadata.Count > MaxMetadataKeys)
        {
            return $"metadata has {metadata.Count} keys; Polar accepts at most {MaxMetadataKeys}";
        }

        foreach (var (key, value) in metadata)
        {
            if (key.Length is 0 or > MaxMetadataKeyLength)
            {
                return $"metadata key '{key}' is {key.Length} characters; Polar accepts 1 to {MaxMetadataKeyLength}";
            }

            if (key.Contains('\0', StringComparison.Ordinal))
            {
                return "a metadata key contains a NUL character, which Polar refuses";
            }

            var problem = value.ValueKind switch
            {
                JsonValueKind.String when value.GetString()!.Length is 0 or > MaxMetadataStringLength =>
                    $"is a string of {value.GetString()!.Length} characters; Polar accepts 1 to {MaxMetadataStringLength}",
                JsonValueKind.String when value.GetString()!.Contains('\0', StringComparison.Ordinal) => "contains a NUL character",
                JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => null,
                JsonValueKind.Object when NestedMetadataKeys.Contains(key) => null,
                _ => $"is {value.ValueKind.ToString().ToLowerInvariant()}; Polar accepts a string, number or boolean",
            };
            if (problem is not null)
            {
                return $"metadata '{key}' {problem}";
            }
        }

        return null;
    }
}
