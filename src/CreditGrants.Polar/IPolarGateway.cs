using CreditGrants.Polar.Events;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;

namespace CreditGrants.Polar;

/// <summary>Everything the app asks of Polar, in the domain's terms. The one way out to Polar.</summary>
public interface IPolarGateway
{
    Task<Customer?> FindCustomerByExternalIdAsync(string externalId, CancellationToken cancellationToken = default);

    Task<Customer?> FindCustomerByEmailAsync(string email, CancellationToken cancellationToken = default);

    Task<Customer> GetCustomerAsync(Guid customerId, CancellationToken cancellationToken = default);

    Task<Customer> CreateCustomerAsync(CustomerCreate customer, CancellationToken cancellationToken = default);

    /// <summary>The meter with exactly this name (case-sensitive), or null; two such meters is an error naming both.</summary>
    Task<Meter?> FindMeterAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The named meter as a grant target (cached briefly); throws <see cref="MeterNotGrantableException"/>.</summary>
    Task<GrantTarget> GetGrantTargetAsync(string meterName, CancellationToken cancellationToken = default);

    /// <summary>Creates the guide's meter (Sum of <paramref name="sumProperty"/> over events named <paramref name="eventName"/>) unless one of that name exists.</summary>
    Task<(Meter Meter, bool Created)> EnsureMeterAsync(string name, string eventName, string sumProperty, CancellationToken cancellationToken = default);

    /// <summary>Ingests any number of events in as few requests as Polar's limits allow; one outcome per event.</summary>
    Task<IngestReport> IngestAsync(IReadOnlyList<PolarEvent> events, CancellationToken cancellationToken = default);

    /// <summary>
    /// The user events whose metadata <paramref name="key"/> holds one of <paramref name="values"/> (strings, compared
    /// exactly), grouped by value, oldest first. Many values go in one <c>GET /v1/events/</c> request (repeated
    /// <c>metadata[key]</c>, up to <see cref="PolarGateway.MaxValuesPerLookup"/> values and
    /// <see cref="PolarGateway.MaxLookupQueryChars"/> query characters each), so N values cost about N/100 requests;
    /// should Polar refuse repeated values, it falls back to one value per request. Throws <see cref="PolarException"/>.
    /// </summary>
    Task<EventLookup> FindEventsByMetadataAsync(string key, IReadOnlyCollection<string> values, CancellationToken cancellationToken = default);

    /// <summary>
    /// As <see cref="FindEventsByMetadataAsync"/>, for events Polar said it holds (ids it reported as duplicates, events
    /// just ingested): Polar lists events from a store fed seconds behind ingest, so values not found yet are read again,
    /// with growing pauses, until found or the read-back patience is spent; what is still missing is then missing.
    /// </summary>
    Task<EventLookup> FindIngestedEventsByMetadataAsync(string key, IReadOnlyCollection<string> values, CancellationToken cancellationToken = default) =>
        FindEventsByMetadataAsync(key, values, cancellationToken);

    /// <summary>One page of customers matching the query (deleted ones left out), with Polar's pagination.</summary>
    Task<PolarPage<Customer>> ListCustomersAsync(CustomerListQuery query, CancellationToken cancellationToken = default);

    /// <summary>The customer's standing on a meter, or null when the customer has no events on it yet.</summary>
    Task<CustomerMeter?> GetCustomerMeterAsync(Guid customerId, Guid meterId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The standing on a meter of the customer with this external id (one <c>GET /v1/customer-meters/</c>, the id in the
    /// query, never in a path), or null when no such customer has events on it yet. Throws <see cref="PolarException"/>.
    /// </summary>
    Task<CustomerMeter?> GetCustomerMeterAsync(string externalCustomerId, Guid meterId, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This gateway does not read customer meters by external id.");

    /// <summary>
    /// One page of <c>GET /v1/events/</c> as asked (customer, filter, source, sorting, page of at most 100): for readers that
    /// page through a customer's own events, such as the ledger. Throws <see cref="PolarException"/>.
    /// </summary>
    Task<PolarPage<RecordedEvent>> ListEventsAsync(EventListQuery query, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This gateway does not list events.");

    /// <summary>
    /// A meter's quantities (one <c>GET /v1/meters/{id}/quantities</c>): net of every event the meter counts, grants and
    /// compensations included, per interval. Throws <see cref="PolarException"/>.
    /// </summary>
    Task<MeterQuantities> GetMeterQuantitiesAsync(Guid meterId, MeterQuantitiesQuery query, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This gateway does not read meter quantities.");
}
