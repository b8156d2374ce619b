using System.Text.Json;
using PolarEmulator.Wire;

namespace PolarEmulator.Validation;

/// <summary>Builds pydantic-shaped validation issues with Polar's types and messages.</summary>
internal static class Issues
{
    public static IReadOnlyList<object> Loc(params object[] segments) => segments;

    public static IReadOnlyList<object> Append(IReadOnlyList<object> loc, params object[] more) => [.. loc, .. more];

    public static JsonElement Text(string? value) =>
        value is null ? Null : JsonSerializer.SerializeToElement(value, EmulatorJsonContext.Default.String);

    public static JsonElement Number(long value) => JsonSerializer.SerializeToElement(value, EmulatorJsonContext.Default.Int64);

    public static JsonElement Null { get; } = JsonElement.Parse("null");

    public static JsonElement EmptyObject { get; } = JsonElement.Parse("{}");

    public static ValidationIssue Missing(IReadOnlyList<object> loc, JsonElement parent) =>
        new("missing", loc, "Field required", parent);

    public static ValidationIssue StringType(IReadOnlyList<object> loc, JsonElement input) =>
        new("string_type", loc, "Input should be a valid string", input);

    public static ValidationIssue IntType(IReadOnlyList<object> loc, JsonElement input) =>
        new("int_type", loc, "Input should be a valid integer", input);

    public static ValidationIssue BoolType(IReadOnlyList<object> loc, JsonElement input) =>
        new("bool_type", loc, "Input should be a valid boolean", input);

    public static ValidationIssue DictType(IReadOnlyList<object> loc, JsonElement input) =>
        new("dict_type", loc, "Input should be a valid dictionary", input);

    public static ValidationIssue ModelType(IReadOnlyList<object> loc, JsonElement input) =>
        new("model_attributes_type", loc, "Input should be a valid dictionary or object to extract fields from", input);

    public static ValidationIssue ListType(IReadOnlyList<object> loc, JsonElement input) =>
        new("list_type", loc, "Input should be a valid list", input);

    public static ValidationIssue TooLong(IReadOnlyList<object> loc, JsonElement input, int max) =>
        new("string_too_long", loc, $"String should have at most {max} character{Plural(max)}", input, Ctx("max_length", max));

    public static ValidationIssue TooShort(IReadOnlyList<object> loc, JsonElement input, int min) =>
        new("string_too_short", loc, $"String should have at least {min} character{Plural(min)}", input, Ctx("min_length", min));

    public static ValidationIssue TooManyItems(IReadOnlyList<object> loc, JsonElement input, int max, int actual) =>
        new("too_long", loc, $"Dictionary should have at most {max} items after validation, not {actual}", input,
            new Dictionary<string, JsonElement> { ["field_type"] = Text("Dictionary"), ["max_length"] = Number(max), ["actual_length"] = Number(actual) });

    public static ValidationIssue ValueError(IReadOnlyList<object> loc, JsonElement input, string message) =>
        new("value_error", loc, $"Value error, {message}", input, new Dictionary<string, JsonElement> { ["error"] = Text(message) });

    /// <summary>An error raised by Polar's own code (not its schema): the message is written as is.</summary>
    public static ValidationIssue Polar(string type, IReadOnlyList<object> loc, JsonElement input, string message) =>
        new(type, loc, message, input);

    public static ValidationIssue Enum(IReadOnlyList<object> loc, JsonElement input, IReadOnlyList<string> allowed)
    {
        var expected = Expected(allowed);
        return new("enum", loc, $"Input should be {expected}", input, Ctx("expected", expected));
    }

    public static ValidationIssue Literal(IReadOnlyList<object> loc, JsonElement input, IReadOnlyList<string> allowed)
    {
        var expected = Expected(allowed);
        return new("literal_error", loc, $"Input should be {expected}", input, Ctx("expected", expected));
    }

    public static ValidationIssue IntParsing(IReadOnlyList<object> loc, string input) =>
        new("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", Text(input));

    public static ValidationIssue BoolParsing(IReadOnlyList<object> loc, string input) =>
        new("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", Text(input));

    public static ValidationIssue GreaterThan(IReadOnlyList<object> loc, JsonElement input, long bound) =>
        new("greater_than", loc, $"Input should be greater than {bound}", input, Ctx("gt", bound));

    public static ValidationIssue Uuid(IReadOnlyList<object> loc, JsonElement input)
    {
        if (input.ValueKind != JsonValueKind.String)
        {
            return new("uuid_type", loc, "UUID input should be a string, bytes or UUID object", input);
        }

        var text = input.GetString()!;
        if (!Guid.TryParse(text, out var guid))
        {
            var bad = text.Select((c, i) => (c, i)).FirstOrDefault(p => !Uri.IsHexDigit(p.c) && p.c != '-');
            var reason = bad.c != default
                ? $"invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `{bad.c}` at {bad.i + 1}"
                : $"invalid length: expected length 32 for simple format, found {text.Replace("-", "", StringComparison.Ordinal).Length}";
            return new("uuid_parsing", loc, $"Input should be a valid UUID, {reason}", input, Ctx("error", reason));
        }

        return new("uuid_version", loc, "UUID version 4 expected", input, Ctx("expected_version", 4));
    }

    public static ValidationIssue JsonInvalid(long position, string error) =>
        new("json_invalid", Loc("body", (int)Math.Min(position, int.MaxValue)), "JSON decode error", EmptyObject, Ctx("error", error));

    public static IReadOnlyDictionary<string, JsonElement> Ctx(string key, string value) =>
        new Dictionary<string, JsonElement> { [key] = Text(value) };

    public static IReadOnlyDictionary<string, JsonElement> Ctx(string key, long value) =>
        new Dictionary<string, JsonElement> { [key] = Number(value) };

    /// <summary>pydantic's list of choices: <c>'a', 'b' or 'c'</c>.</summary>
    public static string Expected(IReadOnlyList<string> allowed) =>
        allowed.Count == 1
            ? $"'{allowed[0]}'"
            : string.Join(", ", allowed.Take(allowed.Count - 1).Select(a => $"'{a}'")) + $" or '{allowed[^1]}'";

    private static string Plural(long n) => n == 1 ? "" : "s";
}
