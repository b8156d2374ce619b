using System.Text.Json;
using CreditGrants.Polar.Models;

namespace CreditGrants.Polar.Meters;

/// <summary>The facts of one event that a meter filter can look at.</summary>
public sealed record MeterEventFacts(
    string Name,
    string Source,
    DateTimeOffset Timestamp,
    IReadOnlyDictionary<string, JsonElement> Metadata);

/// <summary>Whether a filter matched, and if not, the first reason it did not.</summary>
public readonly record struct FilterVerdict(bool Matches, string? Reason)
{
    public static FilterVerdict Match { get; } = new(true, null);

    public static FilterVerdict Miss(string reason) => new(false, reason);
}

/// <summary>
/// Evaluates a Polar meter filter the way Polar does: <c>name</c>, <c>source</c> and <c>timestamp</c> are event
/// columns, anything else is a metadata path (a leading <c>metadata.</c> is dropped), and a comparison holds only
/// when the JSON types of the clause value and the event value agree. A missing value holds for no operator.
/// </summary>
public static class MeterFilterEvaluator
{
    public static FilterVerdict Evaluate(MeterFilterNode node, MeterEventFacts facts)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(facts);
        return node switch
        {
            MeterFilter filter => EvaluateFilter(filter, facts),
            MeterFilterClause clause => EvaluateClause(clause, facts),
            _ => FilterVerdict.Miss($"unknown filter node {node.GetType().Name}"),
        };
    }

    public static bool Matches(MeterFilterNode node, MeterEventFacts facts) => Evaluate(node, facts).Matches;

    /// <summary>The metadata key a meter property names: <c>metadata.units</c> and <c>units</c> are the same.</summary>
    public static string MetadataKey(string property)
    {
        ArgumentNullException.ThrowIfNull(property);
        return property.StartsWith("metadata.", StringComparison.Ordinal) ? property["metadata.".Length..] : property;
    }

    /// <summary>A clause in Polar's own words: <c>name eq "api_usage"</c>.</summary>
    public static string Describe(MeterFilterClause clause)
    {
        ArgumentNullException.ThrowIfNull(clause);
        return $"{clause.Property} {clause.Operator} {clause.Value.GetRawText()}";
    }

    private static FilterVerdict EvaluateFilter(MeterFilter filter, MeterEventFacts facts)
    {
        if (filter.Clauses.Count == 0)
        {
            return FilterVerdict.Match;
        }

        var isOr = string.Equals(filter.Conjunction, "or", StringComparison.Ordinal);
        var misses = new List<string>();
        foreach (var node in filter.Clauses)
        {
            var verdict = Evaluate(node, facts);
            if (isOr && verdict.Matches)
            {
                return FilterVerdict.Match;
            }

            if (!isOr && !verdict.Matches)
            {
                return verdict;
            }

            if (!verdict.Matches)
            {
                misses.Add(verdict.Reason!);
            }
        }

        return isOr ? FilterVerdict.Miss($"none of the 'or' clauses holds ({string.Join("; ", misses)})") : FilterVerdict.Match;
    }

    private static FilterVerdict EvaluateClause(MeterFilterClause clause, MeterEventFacts facts)
    {
        var actual = Lookup(clause.Property, clause.Value.ValueKind, facts);
        var holds = actual is { } value && Compare(clause.Operator, value, clause.Value);
        if (holds)
        {
            return FilterVerdict.Match;
        }

        var seen = actual is { } found ? found.GetRawText() : "no such property";
        return FilterVerdict.Miss($"clause {Describe(clause)} does not hold (the event has {seen})");
    }

    private static JsonElement? Lookup(string property, JsonValueKind expected, MeterEventFacts facts)
    {
        switch (property)
        {
            case "name":
                return PolarMetadata.Text(facts.Name);
            case "source":
                return PolarMetadata.Text(facts.Source);
            case "timestamp":
                // Against an integer the timestamp is epoch seconds; against text, ISO 8601 in UTC (which orders as text).
                return expected == JsonValueKind.Number
                    ? JsonSerializer.SerializeToElement(facts.Timestamp.ToUnixTimeSeconds(), PolarJsonContext.Default.Int64)
                    : PolarMetadata.Text(facts.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        }

        var path = MetadataKey(property).Split('.');
        if (!facts.Metadata.TryGetValue(path[0], out var current))
        {
            return null;
        }

        foreach (var segment in path.Skip(1))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(segment, out current))
            {
                return null;
            }
        }

        return current;
    }

    // Decimal keeps 0.1 + 0.2 exact; numbers beyond its range fall back to double rather than throw.
    private static int CompareNumbers(JsonElement actual, JsonElement expected) =>
        actual.TryGetDecimal(out var a) && expected.TryGetDecimal(out var b) ? a.CompareTo(b) : actual.GetDouble().CompareTo(expected.GetDouble());

    private static bool Compare(string op, JsonElement actual, JsonElement expected)
    {
        if (op is "like" or "not_like")
        {
            if (actual.ValueKind != JsonValueKind.String || expected.ValueKind != JsonValueKind.String)
            {
                return false;
            }

            var contains = actual.GetString()!.Contains(expected.GetString()!, StringComparison.Ordinal);
            return op == "like" ? contains : !contains;
        }

        int? order = (actual.ValueKind, expected.ValueKind) switch
        {
            (JsonValueKind.String, JsonValueKind.String) => string.CompareOrdinal(actual.GetString(), expected.GetString()),
            (JsonValueKind.Number, JsonValueKind.Number) => CompareNumbers(actual, expected),
            (JsonValueKind.True or JsonValueKind.False, JsonValueKind.True or JsonValueKind.False) =>
                actual.GetBoolean().CompareTo(expected.GetBoolean()),
            _ => null,
        };
        if (order is not { } c)
        {
            return false;
        }

        return op switch
        {
            "eq" => c == 0,
            "ne" => c != 0,
            "gt" => c > 0,
            "gte" => c >= 0,
            "lt" => c < 0,
            "lte" => c <= 0,
            _ => false,
        };
    }
}
