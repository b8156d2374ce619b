using System.Collections.Concurrent;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Http;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CreditGrants.Polar;

/// <summary>The Polar gateway: customers, meters as grant targets, batched ingest and balances over <see cref="PolarClient"/>.</summary>
public sealed partial class PolarGateway(
    PolarClient client,
    IOptions<PolarClientOptions> options,
    TimeProvider time,
    ILogger<PolarGateway> logger) : IPolarGateway
{
    /// <summary>Polar refuses bodies over 10 MiB.</summary>
    public const int MaxRequestBytes = 10 * 1024 * 1024;

    /// <summary>The most metadata values one event lookup request carries: Polar's largest page.</summary>
    public const int MaxValuesPerLookup = 100;

    /// <summary>The most characters the metadata filters of one lookup request take, to stay well inside URL limits.</summary>
    public const int MaxLookupQueryChars = 6000;

    private const int MaxPages = 1000;

    // Set once Polar refuses repeated metadata[key] values; from then on each value is looked up alone.
    private volatile bool _oneValuePerLookup;

    private readonly ConcurrentDictionary<string, (GrantTarget Target, DateTimeOffset Expires)> _targets = new(StringComparer.Ordinal);

    /// <summary>
    /// The customer whose external id is exactly <paramref name="externalId"/>, or null. An id that is safe as a path segment is
    /// read with <c>GET /v1/customers/external/{id}</c>; any other (holding <c>/</c>, <c>\</c>, <c>%</c>, <c>?</c>, <c>#</c>, or
    /// being <c>.</c> or <c>..</c>) never goes into a path, since Polar's server decodes the path before routing (an id
    /// <c>a/state</c> would read customer <c>a</c>'s state): it is looked up in the customer list (its <c>query</c> matches
    /// external id prefixes) and matched exactly. Either way an answer counts only if it is a customer with exactly that
    /// external id; anything else throws <see cref="PolarException"/> rather than being taken for the customer.
    /// </summary>
    public async Task<Customer?> FindCustomerByExternalIdAsync(string externalId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(externalId);
        if (!IsSafePathSegment(externalId))
        {
            return await FindCustomerInListAsync(externalId, cancellationToken).ConfigureAwait(false);
        }

        Customer customer;
        try
        {
            customer = await client.GetCustomerByExternalIdAsync(externalId, cancellationToken).ConfigureAwait(false);
        }
        catch (PolarException ex) when (ex.Kind == PolarErrorKind.NotFound)
        {
            return null;
        }

        return string.Equals(customer.ExternalId, externalId, StringComparison.Ordinal)
            ? customer
            : throw new PolarException(PolarErrorKind.Unexpected,
                $"Polar answered the read of external id '{Escape(externalId)}' with a customer whose external id is '{Escape(customer.ExternalId)}'; it was not taken for that customer.",
                System.Net.HttpStatusCode.OK);
    }

    /// <summary>Whether a value can stand as one path segment that Polar's server routes as it is (after decoding it).</summary>
    public static bool IsSafePathSegment(string value) =>
        value is not ("" or "." or "..") && value.IndexOfAny(['/', '\\', '%', '?', '#']) < 0;

    private async Task<Customer?> FindCustomerInListAsync(string externalId, CancellationToken cancellationToken)
    {
        for (var page = 1; page <= MaxPages; page++)
        {
            var result = await client.ListCustomersAsync(new CustomerListQuery(Query: externalId, Page: page, Limit: 100), cancellationToken)
                .ConfigureAwait(false);
            if (result.Items.FirstOrDefault(c => c.DeletedAt is null && string.Equals(c.ExternalId, externalId, StringComparison.Ordinal)) is { } match)
            {
                return match;
            }

            if (result.Items.Count == 0 || page >= result.Pagination.MaxPage)
            {
                return null;
            }
        }

        return null;
    }

    private static string Escape(string? value) =>
        value is null ? "none" : string.Concat(value.Select(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format ? $"\\u{(int)c:X4}" : c.ToString()));

    public async Task<Customer?> FindCustomerByEmailAsync(string email, CancellationToken cancellationToken = default)
    {
        var page = await client.ListCustomersAsync(new CustomerListQuery(Email: email, Limit: 10), cancellationToken).ConfigureAwait(false);
        return page.Items.FirstOrDefault(c => c.DeletedAt is null);
    }

    public async Task<PolarPage<Customer>> ListCustomersAsync(CustomerListQuery query, CancellationToken cancellationToken = default)
    {
        var page = await client.ListCustomersAsync(query, cancellationToken).ConfigureAwait(false);
        return page.Items.Any(c => c.DeletedAt is not null) ? page with { Items = [.. page.Items.Where(c => c.DeletedAt is null)] } : page;
    }

    public Task<Customer> GetCustomerAsync(Guid customerId, CancellationToken cancellationToken = default) =>
        client.GetCustomerAsync(customerId, cancellationToken);

    public Task<Customer> CreateCustomerAsync(CustomerCreate customer, CancellationToken cancellationToken = default) =>
        client.CreateCustomerAsync(customer, cancellationToken);

    public async Task<Meter?> FindMeterAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var matches = new List<Meter>();
        for (var page = 1; page <= MaxPages; page++)
        {
            var result = await client.ListMetersAsync(new MeterListQuery(Query: name, IsArchived: false, Page: page), cancellationToken)
                .ConfigureAwait(false);
            matches.AddRange(result.Items.Where(m => string.Equals(m.Name, name, StringComparison.Ordinal) && m.ArchivedAt is null));
            if (page >= result.Pagination.MaxPage)
            {
                break;
            }
        }

        return matches.Count switch
        {
            0 => null,
            1 => matches[0],
            _ => throw new MeterNotGrantableException(name, MeterProblem.Ambiguous,
                $"{matches.Count} meters are named '{name}' ({string.Join(", ", matches.Select(m => m.Id))}); rename or archive all but one."),
        };
    }

    public async Task<GrantTarget> GetGrantTargetAsync(string meterName, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        if (_targets.TryGetValue(meterName, out var cached) && cached.Expires > now)
        {
            return cached.Target;
        }

        var meter = await FindMeterAsync(meterName, cancellationToken).ConfigureAwait(false)
            ?? throw new MeterNotGrantableException(meterName, MeterProblem.NotFound,
                $"No meter is named '{meterName}' (names are case-sensitive); create it first, e.g. 'credits meters ensure --meter \"{meterName}\"'.");
        var target = GrantTarget.From(meter);
        _targets[meterName] = (target, now.AddSeconds(options.Value.MeterCacheSeconds));
        return target;
    }

    public async Task<(Meter Meter, bool Created)> EnsureMeterAsync(string name, string eventName, string sumProperty,
        CancellationToken cancellationToken = default)
    {
        if (await FindMeterAsync(name, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return (existing, false);
        }

        var created = await client.CreateMeterAsync(
            new MeterCreate(name, MeterFilter.NameEquals(eventName), MeterAggregation.Sum(sumProperty)), cancellationToken).ConfigureAwait(false);
        LogMeterCreated(created.Name, created.Id, eventName, sumProperty);
        return (created, true);
    }

    public async Task<CustomerMeter?> GetCustomerMeterAsync(Guid customerId, Guid meterId, CancellationToken cancellationToken = default)
    {
        var page = await client.ListCustomerMetersAsync(new CustomerMeterListQuery(CustomerId: customerId, MeterId: meterId, Limit: 10),
            cancellationToken).ConfigureAwait(false);
        return page.Items.Count > 0 ? page.Items[0] : null;
    }

    /// <inheritdoc />
    public async Task<CustomerMeter?> GetCustomerMeterAsync(string externalCustomerId, Guid meterId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(externalCustomerId);
        var page = await client.ListCustomerMetersAsync(new CustomerMeterListQuery(ExternalCustomerId: externalCustomerId, MeterId: meterId, Limit: 10),
            cancellationToken).ConfigureAwait(false);
        // Only the customer holding exactly this external id counts (never one Polar matched otherwise).
        return page.Items.FirstOrDefault(m => m.Customer is null || string.Equals(m.Customer.ExternalId, externalCustomerId, StringComparison.Ordinal));
    }

    /// <inheritdoc />
    public Task<PolarPage<RecordedEvent>> ListEventsAsync(EventListQuery query, CancellationToken cancellationToken = default) =>
        client.ListEventsAsync(query, cancellationToken);

    /// <inheritdoc />
    public Task<MeterQuantities> GetMeterQuantitiesAsync(Guid meterId, MeterQuantitiesQuery query, CancellationToken cancellationToken = default) =>
        client.GetMeterQuantitiesAsync(meterId, query, cancellationToken);

    public async Task<EventLookup> FindEventsByMetadataAsync(string key, IReadOnlyCollection<string> values,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(values);
        var found = new Dictionary<string, List<RecordedEvent>>(StringComparer.Ordinal);
        var requests = 0;
        foreach (var group in LookupGroups(key, values.Distinct(StringComparer.Ordinal)))
        {
            requests += await LookupAsync(key, group, found, cancellationToken).ConfigureAwait(false);
        }

        return new EventLookup(found.ToDictionary(p => p.Key, p => (IReadOnlyList<RecordedEvent>)p.Value, StringComparer.Ordinal), requests);
    }

    /// <inheritdoc />
    public async Task<EventLookup> FindIngestedEventsByMetadataAsync(string key, IReadOnlyCollection<string> values,
        CancellationToken cancellationToken = default)
    {
        var lookup = await FindEventsByMetadataAsync(key, values, cancellationToken).ConfigureAwait(false);
        var found = lookup.Events.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        var requests = lookup.Requests;
        var deadline = time.GetUtcNow().AddSeconds(options.Value.ReadBackPatienceSeconds);
        var pause = TimeSpan.FromMilliseconds(250);
        var missing = values.Distinct(StringComparer.Ordinal).Where(v => !found.ContainsKey(v)).ToList();
        while (missing.Count > 0 && time.GetUtcNow() + pause <= deadline)
        {
            LogReadBackLag(missing.Count, pause.TotalMilliseconds);
            await Task.Delay(pause, time, cancellationToken).ConfigureAwait(false);
            var again = await FindEventsByMetadataAsync(key, missing, cancellationToken).ConfigureAwait(false);
            requests += again.Requests;
            foreach (var (value, events) in again.Events)
            {
                found[value] = events;
            }

            missing = [.. missing.Where(v => !found.ContainsKey(v))];
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(4).Ticks));
        }

        return new EventLookup(found, requests);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Missing} events Polar holds are not listed yet (its event store lags); reading again in {PauseMs} ms")]
    private partial void LogReadBackLag(int missing, double pauseMs);

    /// <summary>Cuts values into requests under both the value count and the query length limits.</summary>
    private static IEnumerable<List<string>> LookupGroups(string key, IEnumerable<string> values)
    {
        var parameter = PolarClient.MetadataParameter(key).Length + 2;
        var group = new List<string>();
        var chars = 0;
        foreach (var value in values)
        {
            var length = parameter + Uri.EscapeDataString(value).Length;
            if (group.Count > 0 && (group.Count >= MaxValuesPerLookup || chars + length > MaxLookupQueryChars))
            {
                yield return group;
                group = [];
                chars = 0;
            }

            group.Add(value);
            chars += length;
        }

        if (group.Count > 0)
        {
            yield return group;
        }
    }

    /// <summary>Reads every page of one lookup; returns how many requests it took.</summary>
    private async Task<int> LookupAsync(string key, List<string> group, Dictionary<string, List<RecordedEvent>> found,
        CancellationToken cancellationToken)
    {
        if (group.Count > 1 && _oneValuePerLookup)
        {
            return await LookupEachAsync(key, group, found, cancellationToken).ConfigureAwait(false);
        }

        var wanted = group.ToHashSet(StringComparer.Ordinal);
        var filter = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal) { [key] = group };
        var requests = 0;
        for (var page = 1; page <= MaxPages; page++)
        {
            PolarPage<RecordedEvent> result;
            requests++;
            try
            {
                result = await client.ListEventsAsync(new EventListQuery(filter, Page: page), cancellationToken).ConfigureAwait(false);
            }
            catch (PolarException ex) when (ex.Kind == PolarErrorKind.Validation && group.Count > 1 && page == 1)
            {
                _oneValuePerLookup = true;
                LogLookupFallback(group.Count, ex.Message);
                return requests + await LookupEachAsync(key, group, found, cancellationToken).ConfigureAwait(false);
            }

            foreach (var item in result.Items)
            {
                // Only what was asked for counts, whatever the server's filter let through: a user event (Polar's own system
                // events, meter.credited and the like, are never a grant) holding one of the values.
                if (item.Source == "user"
                    && item.Metadata?.GetValueOrDefault(key) is { ValueKind: System.Text.Json.JsonValueKind.String } value
                    && wanted.Contains(value.GetString()!))
                {
                    ListFor(found, value.GetString()!).Add(item);
                }
            }

            if (page >= result.Pagination.MaxPage)
            {
                break;
            }
        }

        return requests;
    }

    private async Task<int> LookupEachAsync(string key, List<string> group, Dictionary<string, List<RecordedEvent>> found,
        CancellationToken cancellationToken)
    {
        var requests = 0;
        foreach (var value in group)
        {
            requests += await LookupAsync(key, [value], found, cancellationToken).ConfigureAwait(false);
        }

        return requests;
    }

    private static List<RecordedEvent> ListFor(Dictionary<string, List<RecordedEvent>> found, string value)
    {
        if (!found.TryGetValue(value, out var list))
        {
            found[value] = list = [];
        }

        return list;
    }

    public async Task<IngestReport> IngestAsync(IReadOnlyList<PolarEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var outcomes = new EventOutcome?[events.Count];
        var (pending, repeats) = Prepare(events, outcomes);
        int inserted = 0, duplicates = 0, requests = 0;
        foreach (var batch in Batches(pending))
        {
            var (batchInserted, batchDuplicates, batchRequests) = await SendAsync(batch, outcomes, cancellationToken).ConfigureAwait(false);
            inserted += batchInserted;
            duplicates += batchDuplicates;
            requests += batchRequests;
        }

        RejectRepeatsOfRejected(repeats, outcomes);
        var localDuplicates = outcomes.Count(o => o is { Status: IngestStatus.Duplicate, Reason: not null });
        return new IngestReport(outcomes.Select(o => o!).ToList(), inserted, duplicates + localDuplicates, requests);
    }

    /// <summary>A repeat of an event that ended rejected is no duplicate: Polar has nothing with that id, so it is rejected too.</summary>
    private static void RejectRepeatsOfRejected(List<(int Repeat, int Original)> repeats, EventOutcome?[] outcomes)
    {
        foreach (var (repeat, original) in repeats)
        {
            if (outcomes[original] is { Status: IngestStatus.Rejected } rejected)
            {
                outcomes[repeat] = new EventOutcome(repeat, IngestStatus.Rejected,
                    $"repeats the external_id of event {original}, which was rejected: {rejected.Reason}");
            }
        }
    }

    /// <summary>Checks each event against Polar's rules and serializes the ones that pass; the rest get their outcome now.</summary>
    private (List<(int Index, byte[] Json)> Pending, List<(int Repeat, int Original)> Repeats) Prepare(IReadOnlyList<PolarEvent> events,
        EventOutcome?[] outcomes)
    {
        var repeats = new List<(int, int)>();
        var now = time.GetUtcNow();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var pending = new List<(int, byte[])>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var polarEvent = events[i];
            if (PolarEventRules.Check(polarEvent, now) is { } problem)
            {
                outcomes[i] = new EventOutcome(i, IngestStatus.Rejected, problem);
                continue;
            }

            if (polarEvent.ExternalId is { } externalId && !seen.TryAdd(externalId, i))
            {
                outcomes[i] = new EventOutcome(i, IngestStatus.Duplicate, $"repeats the external_id of event {seen[externalId]} in the same list");
                repeats.Add((i, seen[externalId]));
                continue;
            }

            var json = EventBatchBody.Serialize(polarEvent);
            if (json.Length + EventBatchBody.Overhead(1) > MaxRequestBytes)
            {
                outcomes[i] = new EventOutcome(i, IngestStatus.Rejected,
                    $"the event is {json.Length:N0} bytes; Polar accepts request bodies of at most {MaxRequestBytes:N0} bytes");
                continue;
            }

            pending.Add((i, json));
        }

        return (pending, repeats);
    }

    /// <summary>Cuts events into requests under both the event count and the body size limits.</summary>
    private IEnumerable<List<(int Index, byte[] Json)>> Batches(List<(int Index, byte[] Json)> pending)
    {
        var maxEvents = options.Value.MaxEventsPerRequest;
        var batch = new List<(int, byte[])>();
        var bytes = 0;
        foreach (var item in pending)
        {
            if (batch.Count > 0 && (batch.Count >= maxEvents || bytes + item.Json.Length + EventBatchBody.Overhead(batch.Count + 1) > MaxRequestBytes))
            {
                yield return batch;
                batch = [];
                bytes = 0;
            }

            batch.Add(item);
            bytes += item.Json.Length;
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    /// <summary>Sends one batch; should Polar still refuse it with a 422, the events it names are rejected and the rest sent again.</summary>
    private async Task<(int Inserted, int Duplicates, int Requests)> SendAsync(List<(int Index, byte[] Json)> batch,
        EventOutcome?[] outcomes, CancellationToken cancellationToken)
    {
        var requests = 0;
        while (batch.Count > 0)
        {
            requests++;
            EventsIngestResponse response;
            try
            {
                response = await client.IngestSerializedAsync(EventBatchBody.Build(batch.Select(b => b.Json)), cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (PolarException ex) when (ex.Kind is PolarErrorKind.Validation or PolarErrorKind.Conflict)
            {
                batch = RejectNamed(batch, ex, outcomes);
                continue;
            }

            var status = response.Duplicates == 0 ? IngestStatus.Inserted
                : response.Inserted == 0 ? IngestStatus.Duplicate
                : IngestStatus.InsertedOrDuplicate;
            foreach (var (index, _) in batch)
            {
                outcomes[index] = new EventOutcome(index, status);
            }

            return (response.Inserted, response.Duplicates, requests);
        }

        return (0, 0, requests);
    }

    private List<(int Index, byte[] Json)> RejectNamed(List<(int Index, byte[] Json)> batch, PolarException refusal, EventOutcome?[] outcomes)
    {
        var named = refusal.Errors
            .Where(e => e.EventIndex is { } i && i >= 0 && i < batch.Count)
            .GroupBy(e => e.EventIndex!.Value)
            .ToDictionary(g => g.Key, g => string.Join("; ", g.Select(e => $"Polar refused {string.Join('.', e.Location.Skip(3).DefaultIfEmpty("the event"))}: {e.Message}")));
        if (named.Count == 0)
        {
            // Polar named no event: nothing can be told apart, so the whole request is reported with Polar's reason.
            foreach (var (index, _) in batch)
            {
                outcomes[index] = new EventOutcome(index, IngestStatus.Rejected, refusal.Message);
            }

            return [];
        }

        LogBatchRefused(named.Count, batch.Count);
        var rest = new List<(int, byte[])>(batch.Count - named.Count);
        for (var position = 0; position < batch.Count; position++)
        {
            var index = batch[position].Index;
            if (named.TryGetValue(position, out var reason))
            {
                outcomes[index] = new EventOutcome(index, IngestStatus.Rejected, reason);
            }
            else
            {
                rest.Add(batch[position]);
            }
        }

        return rest;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created meter {Meter} ({MeterId}): sum of {Property} over events named {EventName}")]
    private partial void LogMeterCreated(string meter, Guid meterId, string eventName, string property);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polar refused a lookup of {Count} metadata values in one request ({Reason}); looking each value up alone from now on")]
    private partial void LogLookupFallback(int count, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polar refused {Refused} of {Count} events in a batch; sending the rest again")]
    private partial void LogBatchRefused(int refused, int count);
}
