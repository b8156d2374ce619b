using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Polar.Models;

namespace CreditGrants.Polar;

/// <summary>Source-generated snake_case serialization for Polar's wire format; nulls are left out of requests.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = false)]
[JsonSerializable(typeof(Customer))]
[JsonSerializable(typeof(CustomerCreate))]
[JsonSerializable(typeof(PolarPage<Customer>))]
[JsonSerializable(typeof(Meter))]
[JsonSerializable(typeof(MeterCreate))]
[JsonSerializable(typeof(PolarPage<Meter>))]
[JsonSerializable(typeof(MeterFilterNode))]
[JsonSerializable(typeof(EventsIngest))]
[JsonSerializable(typeof(PolarEvent))]
[JsonSerializable(typeof(EventsIngestResponse))]
[JsonSerializable(typeof(PolarPage<RecordedEvent>))]
[JsonSerializable(typeof(MeterQuantities))]
[JsonSerializable(typeof(CustomerMeter))]
[JsonSerializable(typeof(PolarPage<CustomerMeter>))]
[JsonSerializable(typeof(PolarErrorBody))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(decimal))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(bool))]
public sealed partial class PolarJsonContext : JsonSerializerContext;
