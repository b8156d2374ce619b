using System.Text.Json;
using CreditGrants.Polar.Meters;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Store;

/// <summary><c>GET /v1/meters/{id}/quantities</c>: a meter's aggregation per interval over a period.</summary>
internal sealed partial class EmulatorStore
{
    /// <summary>More buckets than this is refused (the emulator's own bound, so one request cannot take the process down).</summary>
    private const int MaxBuckets = 100_000;

    /// <summary>
    /// Aggregates, as Polar does, every event the meter's filter matches in the buckets of [start, end]: one bucket per
    /// interval from the start truncated to the interval (in the asked time zone; hourly is the finest), each counting its
    /// whole interval (an end inside an hour counts that hour whole, as Polar's date_trunc join does), and the total.
    /// With a customer aggregation function, each bucket is first aggregated per customer, then across customers.
    /// Null when the meter does not exist.
    /// </summary>
    public (MeterQuantitiesResource? Quantities, Refusal? Refusal) MeterQuantities(Guid meterId, QuantityQuery query)
    {
        var buckets = Buckets(query);
        if (buckets is null)
        {
            return (null, new Refusal([Issues.ValueError(Issues.Loc("query", "interval"), Issues.Text(query.Interval),
                $"The period holds more than {MaxBuckets} intervals of one {query.Interval}: use a longer interval.")]));
        }

        lock (_lock)
        {
            if (!_metersById.TryGetValue(meterId, out var meter))
            {
                return (null, null);
            }

            // Polar groups events by date_trunc(interval, timestamp) and joins the buckets of the series, with no bound on the
            // events themselves: the first and last buckets count whole, even before the start or after the end.
            var (from, until) = (buckets.Count == 0 ? query.Start : buckets[0], buckets.Count == 0 ? query.Start : After(buckets[^1], query));
            var perBucket = buckets.Select(_ => new Dictionary<string, MeterAccumulator>(StringComparer.Ordinal)).ToArray();
            var whole = new Dictionary<string, MeterAccumulator>(StringComparer.Ordinal);
            for (var index = 0; index < _events.Count; index++)
            {
                var record = _events[index];
                if (!IsListed(index) || record.Source != EventRecord.UserSource || record.Timestamp < from || record.Timestamp >= until)
                {
                    continue;
                }

                var customer = EventCustomer(record);
                if (!QuantityCustomerMatches(record, customer, query))
                {
                    continue;
                }

                using var metadata = JsonDocument.Parse(record.Metadata);
                var facts = new MeterEventFacts(record.Name, record.Source, record.Timestamp, new JsonObjectView(metadata.RootElement));
                if (!Matches(meter.Filter, facts) || !EventMetadataMatches(metadata.RootElement, query.Metadata))
                {
                    continue;
                }

                var value = meter.Aggregation.Property is { } property ? Lookup(metadata.RootElement, property) : null;
                var key = query.CustomerAggregation is null ? "" : customer?.Id.ToString() ?? record.ExternalCustomerId ?? "";
                var bucket = BucketOf(buckets, record.Timestamp);
                Accumulate(perBucket[bucket], key, value);
                Accumulate(whole, key, value);
            }

            var func = meter.Aggregation.Func;
            var quantities = buckets.Select((start, i) => new MeterQuantityResource(start, Combine(perBucket[i], func, query.CustomerAggregation))).ToList();
            return (new MeterQuantitiesResource(quantities, Combine(whole, func, query.CustomerAggregation)), null);
        }
    }

    private static void Accumulate(Dictionary<string, MeterAccumulator> accumulators, string key, JsonElement? value)
    {
        if (!accumulators.TryGetValue(key, out var accumulator))
        {
            accumulator = new MeterAccumulator();
            accumulators[key] = accumulator;
        }

        accumulator.Add(value);
    }

    /// <summary>The meter's aggregation of one bucket; per customer first when a customer aggregation function is given.</summary>
    private static double Combine(Dictionary<string, MeterAccumulator> accumulators, string func, string? customerAggregation)
    {
        if (customerAggregation is null)
        {
            return accumulators.TryGetValue("", out var all) ? all.Value(func) : 0;
        }

        var across = new MeterAccumulator();
        foreach (var accumulator in accumulators.Values)
        {
            across.Add(JsonSerializer.SerializeToElement(accumulator.Value(func), EmulatorJsonContext.Default.Double));
        }

        return across.Value(customerAggregation);
    }

    private static bool QuantityCustomerMatches(EventRecord record, CustomerRecord? customer, QuantityQuery query)
    {
        if (query.CustomerIds.Count == 0 && query.ExternalCustomerIds.Count == 0)
        {
            return true;
        }

        return (customer is not null && query.CustomerIds.Contains(customer.Id))
            || (record.CustomerId is { } id && query.CustomerIds.Contains(id))
            || (customer?.ExternalId is { } externalId && query.ExternalCustomerIds.Contains(externalId, StringComparer.Ordinal))
            || (record.ExternalCustomerId is { } sent && query.ExternalCustomerIds.Contains(sent, StringComparer.Ordinal));
    }

    private static bool EventMetadataMatches(JsonElement metadata, IReadOnlyDictionary<string, IReadOnlyList<string>> wanted) =>
        wanted.All(w => metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty(w.Key, out var value)
            && MetadataText(value) is { } text && w.Value.Contains(text, StringComparer.Ordinal));

    /// <summary>The start of every interval from the start (truncated to the interval, in the zone) to the end; null when too many.</summary>
    private static List<DateTimeOffset>? Buckets(QuantityQuery query)
    {
        var buckets = new List<DateTimeOffset>();
        var local = Truncate(TimeZoneInfo.ConvertTime(query.Start, query.Zone).DateTime, query.Interval);
        while (true)
        {
            var start = new DateTimeOffset(local, query.Zone.GetUtcOffset(local));
            if (start > query.End)
            {
                return buckets;
            }

            if (buckets.Count == MaxBuckets)
            {
                return null;
            }

            buckets.Add(start);
            local = Next(local, query.Interval);
        }
    }

    private static DateTime Next(DateTime local, string interval) => interval switch
    {
        "hour" => local.AddHours(1),
        "day" => local.AddDays(1),
        "week" => local.AddDays(7),
        "month" => local.AddMonths(1),
        _ => local.AddYears(1),
    };

    /// <summary>Where the bucket starting at <paramref name="bucket"/> ends: the next bucket's start, in the query's zone.</summary>
    private static DateTimeOffset After(DateTimeOffset bucket, QuantityQuery query)
    {
        var next = Next(TimeZoneInfo.ConvertTime(bucket, query.Zone).DateTime, query.Interval);
        return new DateTimeOffset(next, query.Zone.GetUtcOffset(next));
    }

    /// <summary>PostgreSQL's <c>date_trunc</c>: weeks start on Monday.</summary>
    private static DateTime Truncate(DateTime local, string interval) => interval switch
    {
        "hour" => new DateTime(local.Year, local.Month, local.Day, local.Hour, 0, 0, DateTimeKind.Unspecified),
        "day" => local.Date,
        "week" => local.Date.AddDays(-(((int)local.DayOfWeek + 6) % 7)),
        "month" => new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified),
        _ => new DateTime(local.Year, 1, 1, 0, 0, 0, DateTimeKind.Unspecified),
    };

    private static int BucketOf(List<DateTimeOffset> buckets, DateTimeOffset timestamp)
    {
        var index = buckets.BinarySearch(timestamp);
        return index >= 0 ? index : Math.Max(0, ~index - 1);
    }
}
