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

/// <summary>
/// An event as <c>GET /v1/events/</c> returns it (a <c>UserEvent</c>; only the fields this app reads). Polar's event
/// object carries no <c>external_id</c>: an event is found again by its metadata. <see cref="CustomerId"/> is the id it
/// was sent with (null when sent by external id); <see cref="Customer"/> is the customer it counts for, when one exists.
/// </summary>
public sealed record RecordedEvent(
    Guid Id,
    DateTimeOffset Timestamp,
    string Name,
    string? Source,
    Guid? CustomerId,
    string? ExternalCustomerId,
    Customer? Customer,
    IReadOnlyDictionary<string, JsonElement>? Metadata);

/// <summary>
/// Filters for <c>GET /v1/events/</c>: <see cref="Metadata"/> maps a key to the values it may hold (sent as repeated
/// <c>metadata[key]=value</c>, matching any of them); <see cref="Sorting"/> is <c>timestamp</c> or <c>-timestamp</c>.
/// </summary>
public sealed record EventListQuery(
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Metadata = null,
    string? Source = "user",
    string Sorting = "timestamp",
    int Page = 1,
    int Limit = 100)
{
    /// <summary>Only events of the customer with this external id (sent by it, or by the id of the customer that holds it).</summary>
    public string? ExternalCustomerId { get; init; }

    /// <summary>Only events this filter matches (Polar's <c>filter</c>: a meter filter as JSON; <c>name</c>, <c>source</c>,
    /// <c>timestamp</c> are columns, any other property a metadata key).</summary>
    public MeterFilter? Filter { get; init; }
}

/// <summary>
/// <c>GET /v1/meters/{id}/quantities</c>: the meter's aggregation over [<paramref name="Start"/>, <paramref name="End"/>]
/// per <paramref name="Interval"/> (<c>hour</c> is the finest; also <c>day</c>, <c>week</c>, <c>month</c>, <c>year</c>), in UTC,
/// for one customer when <paramref name="ExternalCustomerId"/> is set.
/// </summary>
public sealed record MeterQuantitiesQuery(DateTimeOffset Start, DateTimeOffset End, string Interval = "hour", string? ExternalCustomerId = null);

/// <summary>One interval of <see cref="MeterQuantities"/>: its start and the aggregation over it.</summary>
public sealed record MeterQuantity(DateTimeOffset Timestamp, decimal Quantity);

/// <summary>A meter's quantities: one per interval from the start truncated to the interval, and the total over the period.</summary>
public sealed record MeterQuantities(IReadOnlyList<MeterQuantity> Quantities, decimal Total);

/// <summary>
/// What <see cref="IPolarGateway.FindEventsByMetadataAsync"/> found: for each value asked for, the events holding it in
/// the order Polar recorded them (a value no event holds is absent), and how many list requests it took.
/// </summary>
public sealed record EventLookup(IReadOnlyDictionary<string, IReadOnlyList<RecordedEvent>> Events, int Requests);

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
