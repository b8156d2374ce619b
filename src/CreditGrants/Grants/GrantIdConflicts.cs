using System.Globalization;
using System.Text.Json;
using CreditGrants.Polar;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;

namespace CreditGrants.Grants;

/// <summary>
/// A grant whose id Polar reported as a duplicate, with what it was resolved to: the meter as a grant target and the
/// customer found or created for it (null when it goes by an external id no customer has yet).
/// </summary>
public sealed record RepeatedGrant(CreditGrant Grant, GrantTarget Target, Customer? Customer);

/// <summary>
/// Tells a true repeat of a grant from a grant id reused for another grant. Polar deduplicates on the event id alone,
/// so "duplicate" only says the id was used; the first use is read back (its event carries the grant id in its
/// metadata) and compared on customer, units and meter. The same customer named once by Polar's id and once by the
/// external id is the same customer. Call it only for ids Polar reported as duplicates: derived ids (bulk rows
/// without a grant id, campaign occurrences) are made of the grant's own facts and cannot conflict.
/// </summary>
public static class GrantIdConflicts
{
    /// <summary>
    /// The conflicts among <paramref name="repeats"/>, keyed by grant id: one sentence naming what the first use granted
    /// and what to change. A grant id absent from the answer is a true repeat. Costs one <c>GET /v1/events/</c> per
    /// 100 grant ids, read again while Polar's event store lags (see <see cref="IPolarGateway.FindIngestedEventsByMetadataAsync"/>); throws <see cref="PolarException"/>.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> FindAsync(IPolarGateway polar, IReadOnlyList<RepeatedGrant> repeats,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(polar);
        ArgumentNullException.ThrowIfNull(repeats);
        var conflicts = new Dictionary<string, string>(StringComparer.Ordinal);
        if (repeats.Count == 0)
        {
            return conflicts;
        }

        var ids = repeats.Select(r => r.Grant.GrantId.Value).Distinct(StringComparer.Ordinal).ToList();
        var lookup = await polar.FindIngestedEventsByMetadataAsync(GrantService.GrantIdKey, ids, cancellationToken).ConfigureAwait(false);
        foreach (var repeat in repeats)
        {
            var uses = lookup.Events.GetValueOrDefault(repeat.Grant.GrantId.Value) ?? [];
            if (Conflict(repeat, uses) is { } conflict)
            {
                conflicts[repeat.Grant.GrantId.Value] = conflict;
            }
        }

        return conflicts;
    }

    /// <summary>
    /// Null when one of <paramref name="uses"/> (the events holding the grant id, oldest first) grants what
    /// <paramref name="repeat"/> asks; otherwise the sentence naming the first use. No event at all is a conflict too:
    /// the id is taken, and what it granted cannot be shown to be this grant.
    /// </summary>
    public static string? Conflict(RepeatedGrant repeat, IReadOnlyList<RecordedEvent> uses)
    {
        ArgumentNullException.ThrowIfNull(repeat);
        ArgumentNullException.ThrowIfNull(uses);
        var grant = repeat.Grant;
        if (uses.Count == 0)
        {
            return $"Grant id '{grant.GrantId}' was used before (Polar holds its event {grant.GrantId.EventId}), but that use cannot be "
                + "read back to compare, so nothing was granted: use a new grant id for a new grant.";
        }

        if (uses.Any(use => Differences(repeat, use).Count == 0))
        {
            return null;
        }

        var first = uses[0];
        var differences = Differences(repeat, first);
        return $"Grant id '{grant.GrantId}' was first used on {first.Timestamp.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC "
            + $"to grant {Describe(FirstUnits(first, repeat.Target))} to {DescribeCustomer(first)} on {DescribeMeter(first)}; this grant "
            + $"({Describe(grant.Units)} to {grant.Customer} on meter '{grant.Meter}') differs in {string.Join(" and ", differences)}, "
            + "so nothing was granted: use a new grant id for a new grant.";
    }

    private static List<string> Differences(RepeatedGrant repeat, RecordedEvent use)
    {
        var differences = new List<string>(4);
        if (!SameCustomer(repeat, use))
        {
            differences.Add("customer");
        }

        if (FirstUnits(use, repeat.Target) != repeat.Grant.Units)
        {
            differences.Add("units");
        }

        if (!SameMeter(repeat, use))
        {
            differences.Add("meter");
        }

        // Whether the units survive a meter reset: a repeat asking otherwise would be answered with a grant that does not do as asked.
        var carriedOver = use.Metadata?.GetValueOrDefault(Lifecycle.GrantMetadata.CarryOver) is { ValueKind: JsonValueKind.True };
        if (carriedOver != repeat.Grant.CarryOver)
        {
            differences.Add($"carryOver (first {(carriedOver ? "true" : "false")})");
        }

        return differences;
    }

    /// <summary>The same customer when any id matches: Polar's id on either side, or the external id (unique and write-once).</summary>
    private static bool SameCustomer(RepeatedGrant repeat, RecordedEvent use)
    {
        var customerId = repeat.Customer?.Id ?? repeat.Grant.Customer.CustomerId;
        var externalId = repeat.Customer?.ExternalId ?? repeat.Grant.Customer.ExternalId;
        return (customerId is { } id && (use.CustomerId == id || use.Customer?.Id == id))
            || (externalId is not null && (string.Equals(use.ExternalCustomerId, externalId, StringComparison.Ordinal)
                || string.Equals(use.Customer?.ExternalId, externalId, StringComparison.Ordinal)));
    }

    /// <summary>By the meter name the event recorded; events without one name their meter by event name and summed property.</summary>
    private static bool SameMeter(RepeatedGrant repeat, RecordedEvent use) =>
        Text(use, GrantService.GrantMeterKey) is { } meter
            ? string.Equals(meter, repeat.Grant.Meter, StringComparison.Ordinal)
            : string.Equals(use.Name, repeat.Target.EventName, StringComparison.Ordinal) && Number(use, repeat.Target.Property) is not null;

    /// <summary>The units the event granted: its negated value under the meter's property, else under its one other number.</summary>
    private static decimal? FirstUnits(RecordedEvent use, GrantTarget target) =>
        -(Number(use, target.Property)
          ?? use.Metadata?.Where(m => !m.Key.StartsWith("grant_", StringComparison.Ordinal)).Select(m => Number(use, m.Key)).FirstOrDefault(n => n is not null));

    private static decimal? Number(RecordedEvent use, string key) =>
        use.Metadata?.GetValueOrDefault(MeterFilterEvaluator.MetadataKey(key)) is { ValueKind: JsonValueKind.Number } value && value.TryGetDecimal(out var number)
            ? number
            : null;

    private static string? Text(RecordedEvent use, string key) =>
        use.Metadata?.GetValueOrDefault(key) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    private static string Describe(decimal? units) =>
        units is { } u ? $"{u.ToString("0.######", CultureInfo.InvariantCulture)} units" : "an unknown number of units";

    private static string DescribeCustomer(RecordedEvent use) =>
        (use.Customer?.ExternalId ?? use.ExternalCustomerId) is { } externalId ? $"external id '{Identity.Display.Escape(externalId)}'"
        : (use.Customer?.Id ?? use.CustomerId) is { } id ? $"customer {id}"
        : "no customer";

    private static string DescribeMeter(RecordedEvent use) =>
        Text(use, GrantService.GrantMeterKey) is { } meter ? $"meter '{meter}'" : $"the meter counting events named '{use.Name}'";
}
