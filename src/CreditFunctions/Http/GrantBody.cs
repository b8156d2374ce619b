using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using CreditGrants.Grants;

namespace CreditFunctions.Http;

/// <summary>The JSON body of <c>POST /api/grants</c>, exactly: no other fields, no repeated fields, strings as strings, units as a number.</summary>
internal sealed record GrantBody(
    GrantBodyCustomer? Customer,
    [property: JsonConverter(typeof(DecimalTextConverter))] string? Units,
    string? GrantId,
    string? Meter,
    string? Reason,
    string? ExpiresAt = null,
    string? ExpiresIn = null,
    bool? CarryOver = null);

/// <summary>Who receives the grant: <c>externalId</c> (with optional <c>email</c>, <c>name</c>) or <c>customerId</c>.</summary>
internal sealed record GrantBodyCustomer(string? ExternalId, string? CustomerId, string? Email, string? Name);

/// <summary>
/// Reads a JSON number that fits <see cref="decimal"/> and keeps its text as sent (<c>2.50</c>, <c>1e2</c>); a string,
/// an object, an array, a boolean or a number beyond decimal's range is refused.
/// </summary>
internal sealed class DecimalTextConverter : JsonConverter<string>
{
    public override bool HandleNull => false;

    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDecimal(out _))
        {
            throw new JsonException("units must be a JSON number within the decimal range.");
        }

        return Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan);
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteRawValue(value);
    }
}

/// <summary>
/// The serializer refuses what does not fit <see cref="GrantBody"/>: repeated properties, unknown properties, numbers
/// as strings or strings as numbers, nesting where a value belongs, invalid JSON.
/// </summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    AllowDuplicateProperties = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict,
    PropertyNameCaseInsensitive = false,
    AllowTrailingCommas = false,
    ReadCommentHandling = JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(GrantBody))]
internal sealed partial class GrantBodyJsonContext : JsonSerializerContext;

/// <summary>
/// Turns the bytes of a grant request into a <see cref="GrantRequest"/>, or into field errors that name the field, the
/// value as sent and what is accepted. The serializer decides what is refused; the body is only looked at again, leniently,
/// to name the value in the message.
/// </summary>
internal static partial class GrantBodyReader
{
    private static readonly string[] TopLevelFields = ["customer", "units", "meter", "reason", "grantId", "expiresAt", "expiresIn", "carryOver"];
    private static readonly string[] CustomerFields = ["externalId", "customerId", "email", "name"];
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];
    private static readonly System.Buffers.SearchValues<byte> TokenBytes =
        System.Buffers.SearchValues.Create("+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);
    private static readonly System.Buffers.SearchValues<byte> TokenEnds = System.Buffers.SearchValues.Create(",}] \t\r\n"u8);

    /// <summary>What each field accepts, said the same way in every message; <paramref name="maxUnits"/> is the most one grant may carry.</summary>
    public static string Accepted(string field, decimal maxUnits) => field switch
    {
        "units" => $"a JSON number greater than 0 and at most {maxUnits.ToString(System.Globalization.CultureInfo.InvariantCulture)}, such as 100 or 2.5 (not a string, not NaN or Infinity)",
        "customer" => "an object with externalId (and optional email, name), or customerId",
        "carryOver" => "true or false (a JSON boolean)",
        "body" => "a JSON object with customer, units and grantId",
        _ => "a JSON string",
    };

    /// <summary>
    /// The request in <paramref name="bytes"/> (UTF-8 JSON, a leading BOM allowed), or the first refusal as a field error;
    /// the grant id comes from the body or <paramref name="idempotencyKey"/>, which must agree when both are given.
    /// </summary>
    public static (GrantRequest? Request, List<FieldError> Errors) Read(ReadOnlySpan<byte> bytes, string? idempotencyKey, string idempotencyHeader,
        decimal maxUnits)
    {
        var errors = new List<FieldError>();
        if (bytes.StartsWith(Utf8Bom))
        {
            bytes = bytes[Utf8Bom.Length..];
        }

        if (bytes.Trim(" \t\r\n"u8).IsEmpty)
        {
            errors.Add(new FieldError("body", null, $"is empty; send {Accepted("body", maxUnits)}"));
            return (null, errors);
        }

        if (!Utf8.IsValid(bytes))
        {
            var offset = InvalidUtf8Offset(bytes);
            errors.Add(new FieldError("body", null,
                $"is not valid UTF-8: the byte 0x{bytes[offset]:X2} at offset {offset} is not part of a UTF-8 character; send the JSON encoded as UTF-8"));
            return (null, errors);
        }

        if (Nesting(bytes) is var depth && depth > MaxDepth)
        {
            errors.Add(new FieldError("body", null,
                $"is nested {depth} levels deep; at most {MaxDepth} are read, and a grant body needs 2: {Accepted("body", maxUnits)}"));
            return (null, errors);
        }

        GrantBody? body;
        try
        {
            body = JsonSerializer.Deserialize(bytes, GrantBodyJsonContext.Default.GrantBody);
        }
        catch (JsonException ex)
        {
            errors.Add(Explain(bytes, ex, maxUnits));
            return (null, errors);
        }

        if (body is null)
        {
            errors.Add(new FieldError("body", "null", $"must be {Accepted("body", maxUnits)}"));
            return (null, errors);
        }

        if (body.Customer is null)
        {
            errors.Add(new FieldError("customer", null, $"is required: {Accepted("customer", maxUnits)}"));
        }

        var grantId = body.GrantId;
        if (idempotencyKey is not null && CreditGrants.Identity.Identifier.Trim(idempotencyKey) is var trimmedKey && trimmedKey.Length != idempotencyKey.Length)
        {
            // The key is the grant id: taken exactly as given, as grantId is (GrantValidator), so a retry of a grant made with
            // the space can never become a second grant.
            errors.Add(FieldError.Of(idempotencyHeader, idempotencyKey,
                $"has spaces at its start or end; grant ids are taken exactly as given, so send '{CreditGrants.Identity.Display.Escape(trimmedKey)}' if that is the grant you mean"));
            return (null, errors);
        }

        if (grantId is not null && idempotencyKey is not null && !string.Equals(grantId, idempotencyKey, StringComparison.Ordinal))
        {
            errors.Add(FieldError.Of("grantId", grantId, $"differs from the {idempotencyHeader} header '{CreditGrants.Identity.Display.Shorten(idempotencyKey)}'; send one, or the same value in both"));
        }

        grantId ??= idempotencyKey;
        if (grantId is null)
        {
            errors.Add(new FieldError("grantId", null,
                $"is required (in the body or as the {idempotencyHeader} header): a retried request without one could grant twice"));
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var customer = body.Customer!;
        return (new GrantRequest(grantId, customer.ExternalId, customer.CustomerId, customer.Email, customer.Name, body.Units,
            body.Meter, body.Reason, "http", ExpiresAt: body.ExpiresAt, ExpiresIn: body.ExpiresIn,
            CarryOver: body.CarryOver ?? false), errors);
    }

    /// <summary>How deep a body may nest (the serializer's default); deeper bodies are refused saying so, not as invalid JSON.</summary>
    public const int MaxDepth = 64;

    /// <summary>The deepest nesting of objects and arrays in a JSON text (strings and their escapes skipped).</summary>
    private static int Nesting(ReadOnlySpan<byte> bytes)
    {
        int depth = 0, deepest = 0;
        var inString = false;
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            if (inString)
            {
                if (b == (byte)'\\')
                {
                    i++;
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }
            }
            else if (b == (byte)'"')
            {
                inString = true;
            }
            else if (b is (byte)'{' or (byte)'[')
            {
                deepest = Math.Max(deepest, ++depth);
            }
            else if (b is (byte)'}' or (byte)']')
            {
                depth--;
            }
        }

        return deepest;
    }

    /// <summary>Names what the serializer refused: the field its path points at, the value there as sent, and what is accepted.</summary>
    private static FieldError Explain(ReadOnlySpan<byte> bytes, JsonException refusal, decimal maxUnits)
    {
        var path = PathSegments(refusal.Path);
        var field = path.Count == 0 ? "body" : string.Join('.', path);
        if (refusal.InnerException is InvalidOperationException inner && inner.Message.Contains("surrogate", StringComparison.OrdinalIgnoreCase))
        {
            // A \uD800-style escape with no partner: JSON can write it, but it is no character.
            return new FieldError(field, null,
                "contains an unpaired surrogate escape (such as \\uD800): half of a surrogate pair and no character; send the text as it was written");
        }

        JsonDocument? lenient = null;
        try
        {
            lenient = JsonDocument.Parse(bytes.ToArray(), new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException)
        {
            // Not JSON at all: say where it stops being JSON.
            var line = (refusal.LineNumber ?? 0) + 1;
            var position = (refusal.BytePositionInLine ?? 0) + 1;
            var token = TokenAt(bytes, refusal.LineNumber ?? 0, refusal.BytePositionInLine ?? 0);
            return new FieldError(field, token,
                $"is not valid JSON at line {line}, byte {position} ({Reason(refusal)}); accepted: {Accepted(FieldKind(path), maxUnits)}");
        }

        using (lenient)
        {
            if (path.Count == 0)
            {
                return new FieldError("body", Shorten(lenient.RootElement.GetRawText()), $"must be {Accepted("body", maxUnits)}");
            }

            var parent = lenient.RootElement;
            for (var i = 0; i < path.Count - 1; i++)
            {
                if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(path[i], out parent))
                {
                    return new FieldError(field, null, $"is not accepted here; {Reason(refusal)}");
                }
            }

            var name = path[^1];
            var known = path.Count == 1 ? TopLevelFields : path is ["customer", _] ? CustomerFields : [];
            var values = parent.ValueKind == JsonValueKind.Object
                ? parent.EnumerateObject().Where(p => p.NameEquals(name)).Select(p => Shorten(p.Value.GetRawText())).ToList()
                : [];
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                return new FieldError(field, values.FirstOrDefault(),
                    known.Length == 0 ? $"is not a field of this body; accepted: {Accepted(FieldKind(path[..^1]), maxUnits)}" : $"is not a known field; accepted: {string.Join(", ", known)}");
            }

            if (values.Count > 1)
            {
                return new FieldError(field, string.Join(", ", values),
                    $"appears {values.Count} times; give each field once, as {Accepted(FieldKind(path), maxUnits)}");
            }

            var kind = FieldKind(path);
            var number = kind == "units" && parent.TryGetProperty(name, out var given) && given.ValueKind == JsonValueKind.Number;
            return new FieldError(field, values.FirstOrDefault(), number
                ? $"is beyond the numbers a grant can hold; give {Accepted(kind, maxUnits)}"
                : $"must be {Accepted(kind, maxUnits)}");
        }
    }

    /// <summary>The kind of value a path holds, for <see cref="Accepted"/>: <c>units</c>, <c>customer</c>, <c>body</c> or a string field.</summary>
    private static string FieldKind(IReadOnlyList<string> path) => path switch
    {
        [] => "body",
        ["units"] => "units",
        ["customer"] => "customer",
        ["carryOver"] => "carryOver",
        _ => "text",
    };

    /// <summary>Splits a serializer path (<c>$.customer.externalId</c>, <c>$['odd.name']</c>, <c>$.units[0]</c>) into property names.</summary>
    private static List<string> PathSegments(string? path)
    {
        var segments = new List<string>();
        if (string.IsNullOrEmpty(path))
        {
            return segments;
        }

        var i = path.StartsWith('$') ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? path.Length : end;
                segments.Add(path[(i + 1)..end]);
                i = end;
            }
            else if (path.AsSpan(i).StartsWith("['", StringComparison.Ordinal))
            {
                var end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                end = end < 0 ? path.Length : end;
                segments.Add(path[(i + 2)..end]);
                i = Math.Min(path.Length, end + 2);
            }
            else
            {
                // An array index: the value is nested where none belongs; the property it sits in names the field.
                var end = path.IndexOf(']', i);
                i = end < 0 ? path.Length : end + 1;
            }
        }

        return segments;
    }

    /// <summary>The reader's reason, without its path suffix and its advice to programmers.</summary>
    private static string Reason(JsonException refusal)
    {
        var message = refusal.Message;
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        // Never name the app's or the runtime's types: say what was expected instead.
        message = InternalTypeName().Replace(cut < 0 ? message : message[..cut], "the expected value");
        return message
            .Replace(" Change the reader options.", "", StringComparison.Ordinal)
            .Replace(" which is not supported in this mode", "", StringComparison.Ordinal)
            .Replace(", when isFinalBlock is true", "", StringComparison.Ordinal)
            .TrimEnd('.');
    }

    /// <summary>The token that starts at a line and byte position, up to the next delimiter, for naming it (<c>NaN</c>, <c>Infinity</c>).</summary>
    private static string? TokenAt(ReadOnlySpan<byte> bytes, long line, long position)
    {
        var start = 0;
        for (var l = 0L; l < line && start < bytes.Length; l++)
        {
            var next = bytes[start..].IndexOf((byte)'\n');
            start = next < 0 ? bytes.Length : start + next + 1;
        }

        var lineStart = start;
        start = (int)Math.Min(bytes.Length, start + position);
        // The reader may stop inside a token (at 'I' of "-Infinity"): name the whole token.
        while (start > lineStart && start < bytes.Length && TokenBytes.Contains(bytes[start]) && TokenBytes.Contains(bytes[start - 1]))
        {
            start--;
        }

        var rest = bytes[start..];
        var length = rest.IndexOfAny(TokenEnds);
        var token = Encoding.UTF8.GetString(rest[..(length < 0 ? rest.Length : length)]);
        return token.Length == 0 ? null : Shorten(token);
    }

    /// <summary>The offset of the first byte that does not decode as UTF-8 (the input is known to hold one).</summary>
    private static int InvalidUtf8Offset(ReadOnlySpan<byte> bytes)
    {
        var offset = 0;
        while (offset < bytes.Length && Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed) == System.Buffers.OperationStatus.Done)
        {
            offset += consumed;
        }

        return Math.Min(offset, bytes.Length - 1);
    }

    private static string Shorten(string value) => CreditGrants.Identity.Display.Shorten(value);

    [System.Text.RegularExpressions.GeneratedRegex(@"\b(System|Microsoft|CreditFunctions|CreditGrants)(\.[\w`]+)+(\[[^\]]*\])?")]
    private static partial System.Text.RegularExpressions.Regex InternalTypeName();
}
