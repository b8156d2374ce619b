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
