using System.Text.Json;

namespace CreditGrants.Polar.Models;

/// <summary>One event for <c>POST /v1/events/ingest</c>: exactly one of <see cref="CustomerId"/> and <see cref="ExternalCustomerId"/>.</summary>
public sealed record PolarEvent(
    string Name,
    Guid? CustomerId,
    string? ExternalCustomerId,
    string? ExternalId,
    DateTimeOffset? Timestamp,
    IReadOnlyDictionary<string, JsonElement>? Metadata);

/// <summary>The body of <c>POST /v1/events/ingest</c>.</summary>
public sealed record EventsIngest(IReadOnlyList<PolarEvent> Events);

/// <summary>Polar's answer to an ingest: how many events were new and how many it already had.</summary>
public sealed record EventsIngestResponse(int Inserted, int Duplicates);

/// <summary>A customer's standing on one meter; <see cref="Balance"/> = credited − consumed, positive means credit left.</summary>
public sealed record CustomerMeter(
    Guid Id,
    Guid CustomerId,
    Guid MeterId,
    decimal ConsumedUnits,
    long CreditedUnits,
    decimal Balance,
    DateTimeOffset? ModifiedAt,
    Customer? Customer,
    Meter? Meter);

/// <summary>Filters for listing customer meters.</summary>
public sealed record CustomerMeterListQuery(
    Guid? CustomerId = null,
    string? ExternalCustomerId = null,
    Guid? MeterId = null,
    int Page = 1,
    int Limit = 100);

/// <summary>Builds event metadata values of the JSON types Polar accepts.</summary>
public static class PolarMetadata
{
    public static JsonElement Number(decimal value) => JsonSerializer.SerializeToElement(value, PolarJsonContext.Default.Decimal);

    public static JsonElement Text(string value) => JsonSerializer.SerializeToElement(value, PolarJsonContext.Default.String);

    public static JsonElement Boolean(bool value) => JsonSerializer.SerializeToElement(value, PolarJsonContext.Default.Boolean);
}
