using System.Text.Json;
using CreditGrants.Grants;

namespace CreditFunctions.Http;

/// <summary>
/// Reads a small JSON object body field by field (the revocation routes'), naming each field that is wrong in a
/// <see cref="FieldError"/>: an empty body is <c>{}</c>, anything but an object or invalid JSON is an error on <c>body</c>.
/// </summary>
internal static class JsonObjectBody
{
    /// <summary>Hands each property of <paramref name="body"/> to <paramref name="read"/>; <paramref name="example"/> shows an accepted body.</summary>
    public static void Read(byte[] body, string example, List<FieldError> errors, Action<JsonProperty> read)
    {
        try
        {
            using var document = JsonDocument.Parse(body.Length == 0 ? "{}"u8.ToArray() : body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add(FieldError.Of("body", null, $"must be a JSON object: {example}"));
                return;
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                read(property);
            }
        }
        catch (JsonException ex)
        {
            errors.Add(FieldError.Of("body", null, $"is not valid JSON: {ex.Message}"));
        }
    }

    /// <summary>A <c>reason</c>: text of 1 to 500 characters, or null with an error.</summary>
    public static string? Reason(JsonProperty property, List<FieldError> errors)
    {
        if (property.Value.ValueKind == JsonValueKind.String && property.Value.GetString()!.Length is > 0 and <= 500)
        {
            return property.Value.GetString();
        }

        errors.Add(FieldError.Of(property.Name, property.Value.GetRawText(), "must be text of 1 to 500 characters"));
        return null;
    }

    /// <summary>A flag: true or false, or false with an error.</summary>
    public static bool Flag(JsonProperty property, List<FieldError> errors)
    {
        if (property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return property.Value.GetBoolean();
        }

        errors.Add(FieldError.Of(property.Name, property.Value.GetRawText(), "must be true or false"));
        return false;
    }
}
