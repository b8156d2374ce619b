using System.Text.Json;
using CreditGrants.Polar.Models;
using PolarEmulator.Store;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Http;

/// <summary>Reads query parameters the way FastAPI does, collecting every refusal with a <c>["query",…]</c> location.</summary>
internal sealed class QueryReader(HttpRequest request)
{
    private static readonly string[] TrueWords = ["1", "on", "t", "true", "y", "yes"];
    private static readonly string[] FalseWords = ["0", "off", "f", "false", "n", "no"];

    public List<ValidationIssue> Issues { get; } = [];

    public string? String(string name) => request.Query.TryGetValue(name, out var values) ? values[^1] : null;

    public IReadOnlyList<string> Strings(string name) =>
        request.Query.TryGetValue(name, out var values) ? [.. values.OfType<string>()] : [];

    public IReadOnlyList<Guid> Uuids(string name)
    {
        var result = new List<Guid>();
        var values = Strings(name);
        for (var i = 0; i < values.Count; i++)
        {
            if (Guid.TryParse(values[i], out var guid) && guid.Version == 4)
            {
                result.Add(guid);
            }
            else
            {
                var location = values.Count == 1 ? Validation.Issues.Loc("query", name) : Validation.Issues.Loc("query", name, i);
                Issues.Add(Validation.Issues.Uuid(location, Validation.Issues.Text(values[i])));
            }
        }

        return result;
    }

    public bool? Bool(string name)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        if (TrueWords.Contains(text, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }

        if (FalseWords.Contains(text, StringComparer.OrdinalIgnoreCase))
        {
            return false;
        }

        Issues.Add(Validation.Issues.BoolParsing(Validation.Issues.Loc("query", name), text));
        return null;
    }

    /// <summary><c>page</c> (from 1) and <c>limit</c> (default 10, silently capped at 100).</summary>
    public PageRequest Page()
    {
        var page = PositiveInteger("page", 1);
        var limit = PositiveInteger("limit", 10);
        return new PageRequest(page, Math.Min(limit, 100));
    }

    public IReadOnlyList<SortKey> Sorting(IReadOnlyList<string> properties, string fallback)
    {
        var allowed = properties.SelectMany(p => new[] { p, "-" + p }).ToList();
        var values = Strings("sorting");
        if (values.Count == 0)
        {
            return [SortKey.Parse(fallback)];
        }

        var keys = new List<SortKey>();
        for (var i = 0; i < values.Count; i++)
        {
            if (allowed.Contains(values[i], StringComparer.Ordinal))
            {
                keys.Add(SortKey.Parse(values[i]));
            }
            else
            {
                Issues.Add(Validation.Issues.Enum(Validation.Issues.Loc("query", "sorting", i), Validation.Issues.Text(values[i]), allowed));
            }
        }

        return keys;
    }

    /// <summary>One UUID version 4, or null when absent; anything else is a refusal.</summary>
    public Guid? Uuid(string name)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        if (Guid.TryParse(text, out var guid) && guid.Version == 4)
        {
            return guid;
        }

        Issues.Add(Validation.Issues.Uuid(Validation.Issues.Loc("query", name), Validation.Issues.Text(text)));
        return null;
    }

    /// <summary>Each value of a repeatable parameter, checked against the allowed ones.</summary>
    public IReadOnlyList<string> Enums(string name, IReadOnlyList<string> allowed)
    {
        var values = Strings(name);
        for (var i = 0; i < values.Count; i++)
        {
            if (!allowed.Contains(values[i], StringComparer.Ordinal))
            {
                var location = values.Count == 1 ? Validation.Issues.Loc("query", name) : Validation.Issues.Loc("query", name, i);
                Issues.Add(Validation.Issues.Enum(location, Validation.Issues.Text(values[i]), allowed));
            }
        }

        return values;
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>], or null when absent.</summary>
    public int? Integer(string name, int min, int max)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            Issues.Add(Validation.Issues.IntParsing(Validation.Issues.Loc("query", name), text));
            return null;
        }

        if (value < min || value > max)
        {
            Issues.Add(value < min
                ? new ValidationIssue("greater_than_equal", Validation.Issues.Loc("query", name), $"Input should be greater than or equal to {min}",
                    Validation.Issues.Text(text), Validation.Issues.Ctx("ge", min))
                : new ValidationIssue("less_than_equal", Validation.Issues.Loc("query", name), $"Input should be less than or equal to {max}",
                    Validation.Issues.Text(text), Validation.Issues.Ctx("le", max)));
            return null;
        }

        return value;
    }

    /// <summary>A date-time with a time zone, or null when absent.</summary>
    public DateTimeOffset? Timestamp(string name)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        if (Timestamps.TryParseAware(Validation.Issues.Text(text), out var timestamp, out var refusal))
        {
            return timestamp;
        }

        Issues.Add(refusal == ValidationIssueKind.NoZone
            ? new ValidationIssue("timezone_aware", Validation.Issues.Loc("query", name), "Input should have timezone info", Validation.Issues.Text(text))
            : new ValidationIssue("datetime_from_date_parsing", Validation.Issues.Loc("query", name),
                "Input should be a valid datetime or date, invalid character in year", Validation.Issues.Text(text)));
        return null;
    }

    /// <summary>Whether a required parameter is present; when absent, records FastAPI's <c>missing</c> refusal.</summary>
    public bool Require(string name)
    {
        if (request.Query.ContainsKey(name))
        {
            return true;
        }

        Issues.Add(new ValidationIssue("missing", Validation.Issues.Loc("query", name), "Field required", Validation.Issues.Null));
        return false;
    }

    /// <summary>One value of an enumeration, or null when absent.</summary>
    public string? Enum(string name, IReadOnlyList<string> allowed)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        if (allowed.Contains(text, StringComparer.Ordinal))
        {
            return text;
        }

        Issues.Add(Validation.Issues.Enum(Validation.Issues.Loc("query", name), Validation.Issues.Text(text), allowed));
        return null;
    }

    /// <summary>An IANA time zone (<c>Europe/Paris</c>), or null when absent; an unknown name is refused.</summary>
    public TimeZoneInfo? TimeZone(string name)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        if (text.Length > 0 && TimeZoneInfo.TryFindSystemTimeZoneById(text, out var zone))
        {
            return zone;
        }

        Issues.Add(text.Length == 0
            ? Validation.Issues.TooShort(Validation.Issues.Loc("query", name), Validation.Issues.Text(text), 1)
            : new ValidationIssue("enum", Validation.Issues.Loc("query", name), "Input should be a valid IANA time zone", Validation.Issues.Text(text)));
        return null;
    }

    /// <summary>A meter filter given as a JSON string (<c>?filter={"conjunction":…}</c>), or null when absent.</summary>
    public MeterFilter? Filter(string name)
    {
        if (String(name) is not { } text)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            var problems = new List<ValidationIssue>();
            var filter = MeterBodies.Filter(document.RootElement.Clone(), Validation.Issues.Loc("query", name), problems);
            Issues.AddRange(problems);
            return problems.Count == 0 ? filter : null;
        }
        catch (JsonException ex)
        {
            Issues.Add(Validation.Issues.ValueError(Validation.Issues.Loc("query", name), Validation.Issues.Text(text), $"Invalid JSON: {ex.Message}"));
            return null;
        }
    }

    /// <summary>The <c>metadata[key]=value</c> filters (deepObject style); each key may repeat.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Metadata()
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (key, values) in request.Query)
        {
            if (key.StartsWith("metadata[", StringComparison.Ordinal) && key.EndsWith(']'))
            {
                result[key["metadata[".Length..^1]] = [.. values.OfType<string>()];
            }
        }

        return result;
    }

    private int PositiveInteger(string name, int fallback)
    {
        if (String(name) is not { } text)
        {
            return fallback;
        }

        if (!long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            Issues.Add(Validation.Issues.IntParsing(Validation.Issues.Loc("query", name), text));
            return fallback;
        }

        if (value <= 0)
        {
            Issues.Add(Validation.Issues.GreaterThan(Validation.Issues.Loc("query", name), Validation.Issues.Number(value), 0));
            return fallback;
        }

        return (int)Math.Min(value, int.MaxValue);
    }
}
