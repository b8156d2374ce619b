using System.Text.Json;
using System.Text.Json.Serialization;

namespace CreditGrants.Polar.Models;

/// <summary>A Polar meter: which events it counts (filter) and how (aggregation).</summary>
public sealed record Meter(
    Guid Id,
    string Name,
    MeterFilter Filter,
    MeterAggregation Aggregation,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ArchivedAt = null);

/// <summary>The body of <c>POST /v1/meters/</c>.</summary>
public sealed record MeterCreate(string Name, MeterFilter Filter, MeterAggregation Aggregation, string Unit = "scalar");

/// <summary>Filters for listing meters.</summary>
public sealed record MeterListQuery(string? Query = null, bool? IsArchived = null, int Page = 1, int Limit = 100);

/// <summary>A meter's aggregation: <c>count</c>, or <c>sum|max|min|avg|unique</c> over a property.</summary>
public sealed record MeterAggregation(string Func, string? Property = null)
{
    public static MeterAggregation Sum(string property) => new("sum", property);
}

/// <summary>A node of a meter filter: a nested <see cref="MeterFilter"/> or a <see cref="MeterFilterClause"/>.</summary>
[JsonConverter(typeof(MeterFilterNodeConverter))]
public abstract record MeterFilterNode;

/// <summary>Clauses joined by <c>and</c> or <c>or</c>; an empty list matches every event.</summary>
public sealed record MeterFilter(string Conjunction, IReadOnlyList<MeterFilterNode> Clauses) : MeterFilterNode
{
    public static MeterFilter NameEquals(string eventName) =>
        new("and", [new MeterFilterClause("name", "eq", JsonSerializer.SerializeToElement(eventName, PolarJsonContext.Default.String))]);
}

/// <summary>One comparison: a property, an operator (<c>eq ne gt gte lt lte like not_like</c>) and a string, integer or boolean value.</summary>
public sealed record MeterFilterClause(string Property, string Operator, JsonElement Value) : MeterFilterNode;

/// <summary>Reads a filter node by its shape: a <c>conjunction</c> makes it a nested filter.</summary>
public sealed class MeterFilterNodeConverter : JsonConverter<MeterFilterNode>
{
    public override MeterFilterNode? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("A meter filter clause must be a JSON object.");
        }

        if (root.TryGetProperty("conjunction", out var conjunction))
        {
            var clauses = new List<MeterFilterNode>();
            if (root.TryGetProperty("clauses", out var items) && items.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in items.EnumerateArray())
                {
                    clauses.Add(item.Deserialize(PolarJsonContext.Default.MeterFilterNode)!);
                }
            }

            return new MeterFilter(conjunction.GetString() ?? "and", clauses);
        }

        return new MeterFilterClause(
            root.TryGetProperty("property", out var property) ? property.GetString() ?? "" : "",
            root.TryGetProperty("operator", out var op) ? op.GetString() ?? "" : "",
            root.TryGetProperty("value", out var value) ? value.Clone() : default);
    }

    public override void Write(Utf8JsonWriter writer, MeterFilterNode value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        switch (value)
        {
            case MeterFilter filter:
                writer.WriteStartObject();
                writer.WriteString("conjunction", filter.Conjunction);
                writer.WriteStartArray("clauses");
                foreach (var clause in filter.Clauses)
                {
                    Write(writer, clause, options);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
                break;
            case MeterFilterClause clause:
                writer.WriteStartObject();
                writer.WriteString("property", clause.Property);
                writer.WriteString("operator", clause.Operator);
                writer.WritePropertyName("value");
                clause.Value.WriteTo(writer);
                writer.WriteEndObject();
                break;
            default:
                throw new JsonException($"Unknown meter filter node {value?.GetType().Name}.");
        }
    }
}
