using System.Text.Json;
using CreditGrants.Polar;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;

namespace CreditGrants.Tests;

/// <summary>An in-memory gateway for the domain's unit tests: customers, one meter, and the events it was sent.</summary>
internal sealed class FakePolarGateway : IPolarGateway
{
    public List<Customer> Customers { get; } = [];

    public List<Meter> Meters { get; } = [Meter("API Calls", MeterFilter.NameEquals("api_usage"), MeterAggregation.Sum("units"))];

    public List<PolarEvent> Ingested { get; } = [];

    public HashSet<string> EventIds { get; } = new(StringComparer.Ordinal);

    /// <summary>Runs before a create; lets a test make another create win the race.</summary>
    public Action<CustomerCreate>? BeforeCreate { get; set; }

    public int CreateCalls { get; private set; }

    public int FindCalls { get; private set; }

    /// <summary>How many ingest calls succeed before every later one fails as Polar being unavailable; null: never.</summary>
    public int? IngestCallsBeforeOutage { get; set; }

    private int _ingestCalls;

    public static Meter Meter(string name, MeterFilter filter, MeterAggregation aggregation) =>
        new(Guid.NewGuid(), name, filter, aggregation, DateTimeOffset.UnixEpoch);

    public Customer AddCustomer(string email, string? externalId)
    {
        var customer = new Customer(Guid.NewGuid(), email, null, externalId, "individual", DateTimeOffset.UnixEpoch, null, null);
        Customers.Add(customer);
        return customer;
    }

    public Task<Customer?> FindCustomerByExternalIdAsync(string externalId, CancellationToken cancellationToken = default)
    {
        FindCalls++;
        return Task.FromResult(Customers.FirstOrDefault(c => c.ExternalId == externalId));
    }

    public Task<Customer?> FindCustomerByEmailAsync(string email, CancellationToken cancellationToken = default) =>
        Task.FromResult(Customers.FirstOrDefault(c => string.Equals(c.Email, email, StringComparison.OrdinalIgnoreCase)));

    private int _listCalls;

    /// <summary>List requests so far (sweeps read pages in parallel, so counted atomically).</summary>
    public int ListCalls => _listCalls;

    /// <summary>Like Polar: metadata and page filters, newest first unless sorted by <c>created_at</c>; <c>active</c> is not modelled here.</summary>
    public Task<PolarPage<Customer>> ListCustomersAsync(CustomerListQuery query, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _listCalls);
        IEnumerable<Customer> matches = Customers.Where(c => (query.Metadata ?? new Dictionary<string, string>()).All(m =>
            c.Metadata is { } metadata && metadata.TryGetValue(m.Key, out var value) && (value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText()) == m.Value));
        matches = query.Sorting == "created_at" ? matches.OrderBy(c => c.CreatedAt) : matches.OrderByDescending(c => c.CreatedAt);
        var all = matches.ToList();
        var items = all.Skip((query.Page - 1) * query.Limit).Take(query.Limit).ToList();
        return Task.FromResult(new PolarPage<Customer>(items, new PolarPagination(all.Count, Math.Max(1, (all.Count + query.Limit - 1) / query.Limit))));
    }

    public Task<Customer> GetCustomerAsync(Guid customerId, CancellationToken cancellationToken = default) =>
        Customers.FirstOrDefault(c => c.Id == customerId) is { } found
            ? Task.FromResult(found)
            : Task.FromException<Customer>(new PolarException(PolarErrorKind.NotFound, "Polar found nothing."));

    public Task<Customer> CreateCustomerAsync(CustomerCreate customer, CancellationToken cancellationToken = default)
    {
        CreateCalls++;
        BeforeCreate?.Invoke(customer);
        // Like Polar: a 422 naming each field that clashes.
        var clashes = new List<PolarFieldError>();
        if (Customers.Any(c => string.Equals(c.Email, customer.Email, StringComparison.OrdinalIgnoreCase)))
        {
            clashes.Add(new PolarFieldError(["body", "email"], "A customer with this email address already exists.", "value_error", customer.Email));
        }

        if (customer.ExternalId is not null && Customers.Any(c => c.ExternalId == customer.ExternalId))
        {
            clashes.Add(new PolarFieldError(["body", "external_id"], "A customer with this external ID already exists.", "value_error", customer.ExternalId));
        }

        if (clashes.Count > 0)
        {
            return Task.FromException<Customer>(new PolarException(PolarErrorKind.Conflict, string.Join("; ", clashes),
                System.Net.HttpStatusCode.UnprocessableEntity, "PolarRequestValidationError", clashes));
        }

        return Task.FromResult(AddCustomer(customer.Email, customer.ExternalId));
    }

    public Task<Meter?> FindMeterAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult(Meters.FirstOrDefault(m => m.Name == name));

    public Task<GrantTarget> GetGrantTargetAsync(string meterName, CancellationToken cancellationToken = default) =>
        Meters.FirstOrDefault(m => m.Name == meterName) is { } meter
            ? Task.FromResult(GrantTarget.From(meter))
            : Task.FromException<GrantTarget>(new MeterNotGrantableException(meterName, MeterProblem.NotFound, $"No meter is named '{meterName}'."));

    public Task<(Meter Meter, bool Created)> EnsureMeterAsync(string name, string eventName, string sumProperty,
        CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<IngestReport> IngestAsync(IReadOnlyList<PolarEvent> events, CancellationToken cancellationToken = default)
    {
        // Two runs may ingest at once (overlapping campaign runs): one at a time, as Polar's unique index would.
        lock (EventIds)
        {
            return Ingest(events);
        }
    }

    private Task<IngestReport> Ingest(IReadOnlyList<PolarEvent> events)
    {
        if (_ingestCalls++ >= IngestCallsBeforeOutage)
        {
            return Task.FromException<IngestReport>(new PolarException(PolarErrorKind.Unavailable, "Polar could not be reached."));
        }

        var outcomes = new List<EventOutcome>();
        int inserted = 0, duplicates = 0;
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].ExternalId is { } id && !EventIds.Add(id))
            {
                duplicates++;
                outcomes.Add(new EventOutcome(i, IngestStatus.Duplicate));
                continue;
            }

            inserted++;
            Ingested.Add(events[i]);
            outcomes.Add(new EventOutcome(i, IngestStatus.Inserted));
        }

        return Task.FromResult(new IngestReport(outcomes, inserted, duplicates, 1));
    }

    /// <summary>The values of each metadata lookup, in call order.</summary>
    public List<IReadOnlyCollection<string>> Lookups { get; } = [];

    public Task<EventLookup> FindEventsByMetadataAsync(string key, IReadOnlyCollection<string> values, CancellationToken cancellationToken = default)
    {
        Lookups.Add([.. values]);
        var wanted = values.ToHashSet(StringComparer.Ordinal);
        var found = Ingested
            .Select((e, i) => (Event: e, Order: i))
            .Where(p => p.Event.Metadata?.GetValueOrDefault(key) is { ValueKind: JsonValueKind.String } v && wanted.Contains(v.GetString()!))
            .GroupBy(p => p.Event.Metadata![key].GetString()!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<RecordedEvent>)[.. g.Select(p => Recorded(p.Event, p.Order))], StringComparer.Ordinal);
        return Task.FromResult(new EventLookup(found, 1));
    }

    /// <summary>An ingested event as Polar lists it: the ids it was sent with, and the customer it counts for.</summary>
    private RecordedEvent Recorded(PolarEvent sent, int order) => new(
        Guid.NewGuid(), DateTimeOffset.UnixEpoch.AddSeconds(order), sent.Name, "user", sent.CustomerId, sent.ExternalCustomerId,
        Customers.FirstOrDefault(c => c.Id == sent.CustomerId || (sent.ExternalCustomerId is not null && c.ExternalId == sent.ExternalCustomerId)),
        sent.Metadata);

    public Task<CustomerMeter?> GetCustomerMeterAsync(Guid customerId, Guid meterId, CancellationToken cancellationToken = default)
    {
        var consumed = Ingested
            .Where(e => e.CustomerId == customerId)
            .Sum(e => e.Metadata is { } m && m.TryGetValue("units", out var u) && u.ValueKind == JsonValueKind.Number ? u.GetDecimal() : 0);
        return Task.FromResult<CustomerMeter?>(new CustomerMeter(Guid.NewGuid(), customerId, meterId, consumed, 0, -consumed, null, null, null));
    }
}
