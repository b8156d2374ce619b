using System.Text.Json;
using CreditGrants.Polar.Models;
using PolarEmulator.Store;
using PolarEmulator.Wire;

namespace PolarEmulator.Validation;

/// <summary>Validates meter create and update bodies against Polar's schema (<c>MeterCreate</c>, <c>MeterUpdate</c>, <c>Filter</c>).</summary>
internal static class MeterBodies
{
    private static readonly string[] Conjunctions = ["and", "or"];
    private static readonly string[] Operators = ["eq", "ne", "gt", "gte", "lt", "lte", "like", "not_like"];
    private static readonly string[] Functions = ["avg", "count", "max", "min", "sum", "unique"];
    private static readonly string[] Units = ["scalar", "token", "custom"];

    public static (MeterDraft? Draft, Guid? OrganizationId, List<ValidationIssue> Issues) ParseCreate(JsonElement body)
    {
        var issues = new List<ValidationIssue>();
        var reader = new FieldReader(body, Issues.Loc("body"), issues);
        var name = reader.RequiredString("name", minLength: 3);
        var filter = Required(reader, "filter", (value, location) => Filter(value, location, issues));
        var aggregation = Required(reader, "aggregation", (value, location) => Aggregation(value, location, issues));
        var unit = reader.OptionalChoice("unit", Units) ?? "scalar";
        var customLabel = reader.OptionalString("custom_label");
        var customMultiplier = reader.OptionalPositiveInteger("custom_multiplier");
        var metadata = reader.Metadata("metadata") ?? [];
        var organizationId = reader.OptionalUuid4("organization_id");
        return issues.Count > 0 || name is null || filter is null || aggregation is null
            ? (null, null, issues)
            : (new MeterDraft(name, filter, aggregation, unit, customLabel, customMultiplier, metadata), organizationId, issues);
    }

    public static (MeterPatch? Patch, List<ValidationIssue> Issues) ParseUpdate(JsonElement body)
    {
        var issues = new List<ValidationIssue>();
        var reader = new FieldReader(body, Issues.Loc("body"), issues);
        var name = reader.Has("name") ? Optional<string>.Of(reader.OptionalString("name", minLength: 3)!) : Optional<string>.Unset;
        var filter = reader.Target.TryGetProperty("filter", out var f) && f.ValueKind != JsonValueKind.Null
            ? Optional<MeterFilter>.Of(Filter(f, reader.At("filter"), issues)!)
            : Optional<MeterFilter>.Unset;
        var aggregation = reader.Target.TryGetProperty("aggregation", out var a) && a.ValueKind != JsonValueKind.Null
            ? Optional<MeterAggregation>.Of(Aggregation(a, reader.At("aggregation"), issues)!)
            : Optional<MeterAggregation>.Unset;
        var archived = reader.OptionalBool("is_archived") is { } isArchived ? Optional<bool>.Of(isArchived) : Optional<bool>.Unset;
        var unit = reader.OptionalChoice("unit", Units) is { } u ? Optional<string>.Of(u) : Optional<string>.Unset;
        var customLabel = reader.IsPresent("custom_label") ? Optional<string?>.Of(reader.OptionalString("custom_label")) : Optional<string?>.Unset;
        var customMultiplier = reader.IsPresent("custom_multiplier")
            ? Optional<long?>.Of(reader.OptionalPositiveInteger("custom_multiplier"))
            : Optional<long?>.Unset;
        var metadata = reader.IsPresent("metadata")
            ? Optional<IReadOnlyDictionary<string, JsonElement>>.Of(reader.Metadata("metadata") ?? [])
            : Optional<IReadOnlyDictionary<string, JsonElement>>.Unset;
        return issues.Count > 0
            ? (null, issues)
            : (new MeterPatch(name, filter, aggregation, archived, unit, customLabel, customMultiplier, metadata), issues);
    }

    private static T? Required<T>(FieldReader reader, string field, Func<JsonElement, IReadOnlyList<object>, T?> parse)
        where T : class
    {
        if (!reader.Target.TryGetProperty(field, out var value))
        {
            reader.Issues.Add(Issues.Missing(reader.At(field), reader.Target));
            return null;
        }

        return parse(value, reader.At(field));
    }

    /// <summary>A filter: <c>conjunction</c> and <c>clauses</c>, each a clause or (having a conjunction) a nested filter.</summary>
    public static MeterFilter? Filter(JsonElement value, IReadOnlyList<object> location, List<ValidationIssue> issues)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            issues.Add(Issues.ModelType(location, value));
            return null;
        }

        var reader = new FieldReader(value, location, issues);
        var conjunction = reader.Has("conjunction") ? reader.OptionalChoice("conjunction", Conjunctions) : Missing(reader, "conjunction");
        if (!value.TryGetProperty("clauses", out var clausesValue))
        {
            issues.Add(Issues.Missing(reader.At("clauses"), value));
            return null;
        }

        if (clausesValue.ValueKind != JsonValueKind.Array)
        {
            issues.Add(Issues.ListType(reader.At("clauses"), clausesValue));
            return null;
        }

        var clauses = new List<MeterFilterNode>();
        var index = 0;
        foreach (var item in clausesValue.EnumerateArray())
        {
            var itemLocation = Issues.Append(reader.At("clauses"), index++);
            MeterFilterNode? node = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("conjunction", out _)
                ? Filter(item, itemLocation, issues)
                : Clause(item, itemLocation, issues);
            if (node is not null)
            {
                clauses.Add(node);
            }
        }

        return conjunction is null ? null : new MeterFilter(conjunction, clauses);
    }

    private static string? Missing(FieldReader reader, string field)
    {
        reader.Issues.Add(Issues.Missing(reader.At(field), reader.Target));
        return null;
    }

    private static MeterFilterClause? Clause(JsonElement value, IReadOnlyList<object> location, List<ValidationIssue> issues)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            issues.Add(Issues.ModelType(location, value));
            return null;
        }

        var reader = new FieldReader(value, location, issues);
        var property = reader.RequiredString("property");
        var op = reader.Has("operator") ? reader.OptionalChoice("operator", Operators) : Missing(reader, "operator");
        if (!value.TryGetProperty("value", out var clauseValue))
        {
            issues.Add(Issues.Missing(reader.At("value"), value));
            return null;
        }

        var normalized = ClauseValue(clauseValue, reader.At("value"), issues);
        return property is null || op is null || normalized is not { } v ? null : new MeterFilterClause(property, op, v);
    }

    /// <summary>A clause value: a string of at most 1000 characters, a 32-bit integer or a boolean; never a float.</summary>
    private static JsonElement? ClauseValue(JsonElement value, IReadOnlyList<object> location, List<ValidationIssue> issues)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String when FieldReader.CodePoints(value.GetString()!) <= 1000:
            case JsonValueKind.True or JsonValueKind.False:
                return value.Clone();
            case JsonValueKind.String:
                issues.Add(Issues.TooLong(Issues.Append(location, "str"), value, 1000));
                return null;
            case JsonValueKind.Number when value.TryGetDouble(out var number) && Math.Floor(number) == number:
                if (number is >= int.MinValue and <= int.MaxValue)
                {
                    // pydantic accepts 5.0 as the integer 5.
                    return JsonElement.Parse(((long)number).ToString(System.Globalization.CultureInfo.InvariantCulture));
                }

                var bound = number > 0 ? ("less_than_equal", $"Input should be less than or equal to {int.MaxValue}", "le", (long)int.MaxValue)
                    : ("greater_than_equal", $"Input should be greater than or equal to {int.MinValue}", "ge", (long)int.MinValue);
                issues.Add(Issues.StringType(Issues.Append(location, "str"), value));
                issues.Add(new ValidationIssue(bound.Item1, Issues.Append(location, "int"), bound.Item2, value, Issues.Ctx(bound.Item3, bound.Item4)));
                issues.Add(Issues.BoolType(Issues.Append(location, "bool"), value));
                return null;
            default:
                // pydantic reports a failed union once per member, tagged with the member's name.
                issues.Add(Issues.StringType(Issues.Append(location, "str"), value));
                issues.Add(value.ValueKind == JsonValueKind.Number
                    ? new ValidationIssue("int_from_float", Issues.Append(location, "int"), "Input should be a valid integer, got a number with a fractional part", value)
                    : Issues.IntType(Issues.Append(location, "int"), value));
                issues.Add(Issues.BoolType(Issues.Append(location, "bool"), value));
                return null;
        }
    }

    /// <summary>An aggregation, discriminated by <c>func</c>: <c>count</c>, or <c>sum|max|min|avg|unique</c> with a property.</summary>
    public static MeterAggregation? Aggregation(JsonElement value, IReadOnlyList<object> location, List<ValidationIssue> issues)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            issues.Add(Issues.ModelType(location, value));
            return null;
        }

        if (!value.TryGetProperty("func", out var funcValue))
        {
            issues.Add(new ValidationIssue("union_tag_not_found", location, "Unable to extract tag using discriminator 'func'", value,
                Issues.Ctx("discriminator", "'func'")));
            return null;
        }

        var func = funcValue.ValueKind == JsonValueKind.String ? funcValue.GetString()! : funcValue.GetRawText();
        if (!Functions.Contains(func, StringComparer.Ordinal))
        {
            var expected = string.Join(", ", Functions.Select(f => $"'{f}'"));
            issues.Add(new ValidationIssue("union_tag_invalid", location,
                $"Input tag '{func}' found using 'func' does not match any of the expected tags: {expected}", value,
                new Dictionary<string, JsonElement>
                {
                    ["discriminator"] = Issues.Text("'func'"), ["tag"] = Issues.Text(func), ["expected_tags"] = Issues.Text(expected),
                }));
            return null;
        }

        if (func == "count")
        {
            return new MeterAggregation("count");
        }

        var reader = new FieldReader(value, Issues.Append(location, func), issues);
        var property = reader.RequiredString("property");
        return property is null ? null : new MeterAggregation(func, property);
    }
}
