using System.Text.Json;
using PolarEmulator.Wire;

namespace PolarEmulator.Validation;

/// <summary>Reads the fields of one JSON object the way Polar's schema does, collecting every refusal.</summary>
internal sealed class FieldReader(JsonElement target, IReadOnlyList<object> location, List<ValidationIssue> issues, bool rejectNul = false)
{
    public JsonElement Target { get; } = target;

    public IReadOnlyList<object> Location { get; } = location;

    public List<ValidationIssue> Issues { get; } = issues;

    public IReadOnlyList<object> At(string field) => Validation.Issues.Append(Location, field);

    /// <summary>Whether the field is present with a non-null value.</summary>
    public bool Has(string field) => Target.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null;

    public bool IsPresent(string field) => Target.TryGetProperty(field, out _);

    public string? RequiredString(string field, int? minLength = null, int? maxLength = null)
    {
        if (!Target.TryGetProperty(field, out var value))
        {
            Issues.Add(Validation.Issues.Missing(At(field), Target));
            return null;
        }

        return String(field, value, minLength, maxLength);
    }

    public string? OptionalString(string field, int? minLength = null, int? maxLength = null) =>
        Target.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null
            ? String(field, value, minLength, maxLength)
            : null;

    public Guid? OptionalUuid4(string field) =>
        Target.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null ? Uuid4(At(field), value) : null;

    public Guid? RequiredUuid4(string field)
    {
        if (!Target.TryGetProperty(field, out var value))
        {
            Issues.Add(Validation.Issues.Missing(At(field), Target));
            return null;
        }

        return Uuid4(At(field), value);
    }

    public bool? OptionalBool(string field)
    {
        if (!Target.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return value.GetBoolean();
        }

        Issues.Add(Validation.Issues.BoolType(At(field), value));
        return null;
    }

    public long? OptionalPositiveInteger(string field)
    {
        if (!Target.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
        {
            Issues.Add(Validation.Issues.IntType(At(field), value));
            return null;
        }

        if (number <= 0)
        {
            Issues.Add(Validation.Issues.GreaterThan(At(field), value, 0));
            return null;
        }

        return number;
    }

    /// <summary>A string field restricted to a set of values (pydantic's enum or literal).</summary>
    public string? OptionalChoice(string field, IReadOnlyList<string> allowed, bool literal = false)
    {
        if (!Target.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String && allowed.Contains(value.GetString()!, StringComparer.Ordinal))
        {
            return value.GetString();
        }

        Issues.Add(literal ? Validation.Issues.Literal(At(field), value, allowed) : Validation.Issues.Enum(At(field), value, allowed));
        return null;
    }

    /// <summary>
    /// Polar's metadata: at most 50 keys of 1–40 characters; values string (1–500), integer, float or boolean, or one
    /// of <paramref name="reservedObjects"/>. With <paramref name="collect"/> false it only validates <paramref name="field"/>
    /// (events keep their metadata as raw JSON, not as a dictionary).
    /// </summary>
    public Dictionary<string, JsonElement>? Metadata(string field, IReadOnlySet<string>? reservedObjects = null, bool collect = true)
    {
        if (!Target.TryGetProperty(field, out var value))
        {
            return null;
        }

        var location = At(field);
        if (value.ValueKind != JsonValueKind.Object)
        {
            Issues.Add(Validation.Issues.DictType(location, value));
            return null;
        }

        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var count = 0;
        foreach (var property in value.EnumerateObject())
        {
            count++;
            var keyLocation = Validation.Issues.Append(location, property.Name);
            if (property.Name.Length == 0 || CodePoints(property.Name) > 40)
            {
                var keyInput = Validation.Issues.Text(property.Name);
                var keyAt = Validation.Issues.Append(keyLocation, "[key]");
                Issues.Add(property.Name.Length == 0 ? Validation.Issues.TooShort(keyAt, keyInput, 1) : Validation.Issues.TooLong(keyAt, keyInput, 40));
            }

            RejectNulIn(keyLocation, property.Name);
            var item = property.Value;
            switch (item.ValueKind)
            {
                case JsonValueKind.String:
                    var text = item.GetString()!;
                    if (text.Length == 0)
                    {
                        Issues.Add(Validation.Issues.TooShort(keyLocation, item, 1));
                    }
                    else if (CodePoints(text) > 500)
                    {
                        Issues.Add(Validation.Issues.TooLong(keyLocation, item, 500));
                    }

                    RejectNulIn(keyLocation, text);
                    break;
                case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                    break;
                case JsonValueKind.Object when reservedObjects?.Contains(property.Name) == true:
                    RejectNulInTree(keyLocation, item);
                    break;
                default:
                    // pydantic reports a failed union once per member, tagged with the member's name.
                    Issues.Add(Validation.Issues.StringType(Validation.Issues.Append(keyLocation, "str"), item));
                    Issues.Add(Validation.Issues.IntType(Validation.Issues.Append(keyLocation, "int"), item));
                    Issues.Add(new ValidationIssue("float_type", Validation.Issues.Append(keyLocation, "float"), "Input should be a valid number", item));
                    Issues.Add(Validation.Issues.BoolType(Validation.Issues.Append(keyLocation, "bool"), item));
                    break;
            }

            if (collect)
            {
                result[property.Name] = item.Clone();
            }
        }

        if (count > 50)
        {
            Issues.Add(Validation.Issues.TooManyItems(location, value, 50, count));
        }

        return result;
    }

    /// <summary>Refuses a NUL character (Polar cannot store one) in a string this reader has read.</summary>
    public void RejectNulIn(IReadOnlyList<object> at, string text)
    {
        if (rejectNul && text.Contains('\0', StringComparison.Ordinal))
        {
            Issues.Add(Validation.Issues.ValueError(at, Validation.Issues.Text(text), "NUL characters are not allowed."));
        }
    }

    public void RejectNulInTree(IReadOnlyList<object> at, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                RejectNulIn(at, value.GetString()!);
                break;
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    var inner = Validation.Issues.Append(at, property.Name);
                    RejectNulIn(inner, property.Name);
                    RejectNulInTree(inner, property.Value);
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    RejectNulInTree(Validation.Issues.Append(at, index++), item);
                }

                break;
        }
    }

    public Guid? Uuid4(IReadOnlyList<object> at, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String && Guid.TryParse(value.GetString(), out var guid) && guid.Version == 4)
        {
            return guid;
        }

        Issues.Add(Validation.Issues.Uuid(at, value));
        return null;
    }

    /// <summary>Length as Python counts it: code points, not UTF-16 units.</summary>
    public static int CodePoints(string text)
    {
        var surrogates = 0;
        foreach (var c in text)
        {
            if (char.IsLowSurrogate(c))
            {
                surrogates++;
            }
        }

        return text.Length - surrogates;
    }

    private string? String(string field, JsonElement value, int? minLength, int? maxLength)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            Issues.Add(Validation.Issues.StringType(At(field), value));
            return null;
        }

        var text = value.GetString()!;
        var length = CodePoints(text);
        if (minLength is { } min && length < min)
        {
            Issues.Add(Validation.Issues.TooShort(At(field), value, min));
        }
        else if (maxLength is { } max && length > max)
        {
            Issues.Add(Validation.Issues.TooLong(At(field), value, max));
        }

        RejectNulIn(At(field), text);
        return text;
    }
}
