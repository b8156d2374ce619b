using CreditGrants.Polar.Models;

namespace CreditGrants.Polar.Meters;

/// <summary>Why a meter cannot take grants.</summary>
public enum MeterProblem
{
    /// <summary>No meter has that exact name.</summary>
    NotFound,
    /// <summary>More than one meter has that exact name.</summary>
    Ambiguous,
    /// <summary>The meter does not sum a metadata property, so a negative event would not add credit.</summary>
    NotSummable,
    /// <summary>The filter has no <c>name eq "…"</c> clause that every counted event must satisfy.</summary>
    NoEventName,
    /// <summary>The meter's filter would not count the grant event.</summary>
    FilterRejects,
}

/// <summary>A meter cannot take the grant: the message says which meter and why.</summary>
public sealed class MeterNotGrantableException : Exception
{
    public MeterNotGrantableException(string meterName, MeterProblem problem, string message) : base(message)
    {
        MeterName = meterName;
        Problem = problem;
    }

    public MeterNotGrantableException() : this("", MeterProblem.NotFound, "The meter cannot take grants.") { }

    public MeterNotGrantableException(string message) : this("", MeterProblem.NotFound, message) { }

    public MeterNotGrantableException(string message, Exception innerException) : base(message, innerException) => MeterName = "";

    public string MeterName { get; }

    public MeterProblem Problem { get; }
}

/// <summary>
/// A meter that can take grants, with what a grant event for it must look like: the event name its filter
/// requires and the metadata property its Sum aggregates.
/// </summary>
public sealed record GrantTarget(Meter Meter, string EventName, string Property)
{
    /// <summary>Derives the grant event's shape from a meter, or says why the meter cannot take grants.</summary>
    public static GrantTarget From(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        var aggregation = meter.Aggregation;
        if (!string.Equals(aggregation.Func, "sum", StringComparison.Ordinal) || string.IsNullOrEmpty(aggregation.Property))
        {
            throw new MeterNotGrantableException(meter.Name, MeterProblem.NotSummable,
                $"Meter '{meter.Name}' ({meter.Id}) aggregates with '{aggregation.Func}'{(aggregation.Property is null ? "" : $" over '{aggregation.Property}'")}; "
                + "only a meter that sums a numeric property can take grants (a negative event on it adds credit).");
        }

        var property = MeterFilterEvaluator.MetadataKey(aggregation.Property);
        if (property is "name" or "source" or "timestamp" || property.Contains('.', StringComparison.Ordinal))
        {
            throw new MeterNotGrantableException(meter.Name, MeterProblem.NotSummable,
                $"Meter '{meter.Name}' ({meter.Id}) sums '{aggregation.Property}', which is not a top-level metadata property an event can carry.");
        }

        var eventName = RequiredEventName(meter.Filter)
            ?? throw new MeterNotGrantableException(meter.Name, MeterProblem.NoEventName,
                $"Meter '{meter.Name}' ({meter.Id}) has no 'name eq \"…\"' clause that all its events must satisfy, so the grant event's name cannot be derived.");
        return new GrantTarget(meter, eventName, property);
    }

    /// <summary>Whether the meter would count this event, and if not, why.</summary>
    public FilterVerdict Admits(PolarEvent polarEvent, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(polarEvent);
        var facts = new MeterEventFacts(polarEvent.Name, "user", polarEvent.Timestamp ?? now,
            polarEvent.Metadata ?? new Dictionary<string, System.Text.Json.JsonElement>());
        return MeterFilterEvaluator.Evaluate(Meter.Filter, facts);
    }

    /// <summary>The event name every counted event must have: a <c>name eq</c> clause reached through <c>and</c>s (or a lone clause).</summary>
    private static string? RequiredEventName(MeterFilter filter)
    {
        var mustHold = string.Equals(filter.Conjunction, "and", StringComparison.Ordinal) || filter.Clauses.Count == 1;
        if (!mustHold)
        {
            return null;
        }

        foreach (var node in filter.Clauses)
        {
            var name = node switch
            {
                MeterFilterClause { Property: "name", Operator: "eq" } clause
                    when clause.Value.ValueKind == System.Text.Json.JsonValueKind.String => clause.Value.GetString(),
                MeterFilter nested => RequiredEventName(nested),
                _ => null,
            };
            if (name is not null)
            {
                return name;
            }
        }

        return null;
    }
}
