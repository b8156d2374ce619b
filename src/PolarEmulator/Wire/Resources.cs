using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Polar.Models;

namespace PolarEmulator.Wire;

/// <summary>Polar's <c>Customer</c> schema (individual or team); every required field is written, nulls included.</summary>
internal sealed record CustomerResource(
    Guid Id,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ModifiedAt,
    IReadOnlyDictionary<string, JsonElement> Metadata,
    string? ExternalId,
    string? Email,
    bool EmailVerified,
    string Type,
    string? Name,
    string? BillingName,
    AddressResource? BillingAddress,
    IReadOnlyList<string>? TaxId,
    string? Locale,
    Guid OrganizationId,
    Guid? DefaultPaymentMethodId,
    DateTimeOffset? DeletedAt,
    DateTimeOffset? FirstUserEventAt,
    string? AvatarUrl);

/// <summary>Polar's <c>Address</c>; only <c>country</c> is required.</summary>
internal sealed record AddressResource(
    string? Line1,
    string? Line2,
    string? PostalCode,
    string? City,
    string? State,
    string Country);

/// <summary>Polar's <c>CustomerState</c>: the customer plus subscriptions, benefits and active meters.</summary>
internal sealed record CustomerStateResource(
    Guid Id,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ModifiedAt,
    IReadOnlyDictionary<string, JsonElement> Metadata,
    string? ExternalId,
    string? Email,
    bool EmailVerified,
    string Type,
    string? Name,
    string? BillingName,
    AddressResource? BillingAddress,
    IReadOnlyList<string>? TaxId,
    string? Locale,
    Guid OrganizationId,
    Guid? DefaultPaymentMethodId,
    DateTimeOffset? DeletedAt,
    DateTimeOffset? FirstUserEventAt,
    string? AvatarUrl,
    IReadOnlyList<JsonElement> ActiveSubscriptions,
    IReadOnlyList<JsonElement> GrantedBenefits,
    IReadOnlyList<CustomerStateMeterResource> ActiveMeters)
{
    public static CustomerStateResource From(CustomerResource c, IReadOnlyList<JsonElement> subscriptions, IReadOnlyList<JsonElement> benefits,
        IReadOnlyList<CustomerStateMeterResource> meters) => new(
        c.Id, c.CreatedAt, c.ModifiedAt, c.Metadata, c.ExternalId, c.Email, c.EmailVerified, c.Type, c.Name, c.BillingName,
        c.BillingAddress, c.TaxId, c.Locale, c.OrganizationId, c.DefaultPaymentMethodId, c.DeletedAt, c.FirstUserEventAt,
        c.AvatarUrl, subscriptions, benefits, meters);
}

/// <summary>Polar's <c>CustomerStateMeter</c>.</summary>
internal sealed record CustomerStateMeterResource(
    Guid Id,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ModifiedAt,
    Guid MeterId,
    double ConsumedUnits,
    long CreditedUnits,
    double Balance);

/// <summary>Polar's <c>Meter</c>.</summary>
internal sealed record MeterResource(
    IReadOnlyDictionary<string, JsonElement> Metadata,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ModifiedAt,
    Guid Id,
    string Name,
    string Unit,
    string? CustomLabel,
    long? CustomMultiplier,
    MeterFilter Filter,
    AggregationResource Aggregation,
    Guid OrganizationId,
    DateTimeOffset? ArchivedAt);

/// <summary>A meter's aggregation; <c>count</c> has no property.</summary>
internal sealed record AggregationResource(
    string Func,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Property);

/// <summary>Polar's <c>CustomerMeter</c>, with its customer and meter embedded.</summary>
internal sealed record CustomerMeterResource(
    Guid Id,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ModifiedAt,
    Guid CustomerId,
    Guid MeterId,
    double ConsumedUnits,
    long CreditedUnits,
    double Balance,
    CustomerResource Customer,
    MeterResource Meter);

/// <summary>Polar's <c>UserEvent</c> (the only kind a client can ingest); <c>metadata</c> is the object as ingested.</summary>
internal sealed record EventResource(
    Guid Id,
    DateTimeOffset Timestamp,
    Guid OrganizationId,
    Guid? CustomerId,
    CustomerResource? Customer,
    string? ExternalCustomerId,
    Guid? MemberId,
    string? ExternalMemberId,
    int ChildCount,
    Guid? ParentId,
    string Label,
    string Name,
    string Source,
    JsonElement Metadata);

/// <summary>Polar's <c>MeterQuantities</c>: one bucket per interval from the start (truncated to the interval) to the end, and the total.</summary>
internal sealed record MeterQuantitiesResource(IReadOnlyList<MeterQuantityResource> Quantities, double Total);

/// <summary>Polar's <c>MeterQuantity</c>.</summary>
internal sealed record MeterQuantityResource(DateTimeOffset Timestamp, double Quantity);

/// <summary>Polar's <c>ListResource</c>.</summary>
internal sealed record ListResource<T>(IReadOnlyList<T> Items, PaginationResource Pagination);

/// <summary>Polar's <c>Pagination</c>.</summary>
internal sealed record PaginationResource(int TotalCount, int MaxPage);

/// <summary>Polar's answer to an ingest.</summary>
internal sealed record IngestResultResource(int Inserted, int Duplicates);

/// <summary>Polar's usual error body: <c>{"error","detail"}</c>.</summary>
internal sealed record ErrorResource(string Error, string Detail);

/// <summary>FastAPI's bare error body for unknown routes: <c>{"detail"}</c>.</summary>
internal sealed record DetailResource(string Detail);

/// <summary>The OAuth2 error body used for token problems.</summary>
internal sealed record OAuthErrorResource(string Error, string ErrorDescription);

/// <summary>A 422 body: <c>{"error":"RequestValidationError"|"PolarRequestValidationError","detail":[…]}</c>.</summary>
internal sealed record ValidationErrorResource(string Error, IReadOnlyList<ValidationIssue> Detail);

/// <summary>One refused input, in pydantic's shape.</summary>
internal sealed record ValidationIssue(
    string Type,
    [property: JsonConverter(typeof(LocationConverter))] IReadOnlyList<object> Loc,
    string Msg,
    JsonElement Input,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, JsonElement>? Ctx = null);

/// <summary>Writes a <c>loc</c> list of strings and integers.</summary>
internal sealed class LocationConverter : JsonConverter<IReadOnlyList<object>>
{
    public override IReadOnlyList<object>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Validation locations are only written.");

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<object> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var segment in value)
        {
            if (segment is int index)
            {
                writer.WriteNumberValue(index);
            }
            else
            {
                writer.WriteStringValue(segment.ToString());
            }
        }

        writer.WriteEndArray();
    }
}

/// <summary>The emulator's own lists (not Polar's: no pagination): <c>{"items":[…]}</c>.</summary>
internal sealed record ItemsResource<T>(IReadOnlyList<T> Items);

/// <summary>Snake_case serialization of the emulator's responses; nulls are written because Polar's schema requires them.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    Converters = [typeof(PolarDateTimeConverter)])]
[JsonSerializable(typeof(CustomerResource))]
[JsonSerializable(typeof(CustomerStateResource))]
[JsonSerializable(typeof(MeterResource))]
[JsonSerializable(typeof(CustomerMeterResource))]
[JsonSerializable(typeof(ListResource<CustomerResource>))]
[JsonSerializable(typeof(ListResource<MeterResource>))]
[JsonSerializable(typeof(ListResource<CustomerMeterResource>))]
[JsonSerializable(typeof(ListResource<EventResource>))]
[JsonSerializable(typeof(EventResource))]
[JsonSerializable(typeof(MeterQuantitiesResource))]
[JsonSerializable(typeof(IngestResultResource))]
[JsonSerializable(typeof(ErrorResource))]
[JsonSerializable(typeof(DetailResource))]
[JsonSerializable(typeof(OAuthErrorResource))]
[JsonSerializable(typeof(ValidationErrorResource))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonObject))]
[JsonSerializable(typeof(PolarEmulator.Webhooks.WebhookEndpointView))]
[JsonSerializable(typeof(ItemsResource<PolarEmulator.Webhooks.WebhookEndpointView>))]
[JsonSerializable(typeof(ItemsResource<PolarEmulator.Webhooks.WebhookDelivery>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(double))]
internal sealed partial class EmulatorJsonContext : JsonSerializerContext;
