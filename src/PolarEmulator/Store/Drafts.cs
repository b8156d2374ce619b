using System.Text.Json;
using CreditGrants.Polar.Models;
using PolarEmulator.Wire;

namespace PolarEmulator.Store;

/// <summary>A value a PATCH body may set (including to null) or leave alone.</summary>
internal readonly record struct Optional<T>(bool IsSet, T Value)
{
    public static Optional<T> Unset => default;

    public static Optional<T> Of(T value) => new(true, value);

    /// <summary>The value when set, else <paramref name="current"/>: how a PATCH leaves fields it does not name.</summary>
    public T Or(T current) => IsSet ? Value : current;
}

/// <summary>A validated customer create body.</summary>
internal sealed record CustomerDraft(
    string? Email,
    string? Name,
    string? ExternalId,
    string Type,
    IReadOnlyDictionary<string, JsonElement> Metadata,
    AddressResource? BillingAddress,
    IReadOnlyList<string>? TaxId,
    string? Locale);

/// <summary>A validated customer update body.</summary>
internal sealed record CustomerPatch(
    Optional<string?> Email,
    Optional<string?> Name,
    Optional<string?> ExternalId,
    Optional<string> Type,
    Optional<IReadOnlyDictionary<string, JsonElement>> Metadata,
    Optional<AddressResource?> BillingAddress,
    Optional<IReadOnlyList<string>?> TaxId,
    Optional<string?> Locale);

/// <summary>One schema-valid event of an ingest request; <see cref="Index"/> is its place in the request.</summary>
internal sealed record EventDraft(
    int Index,
    string Name,
    Guid? CustomerId,
    string? ExternalCustomerId,
    string? ExternalId,
    string? ParentId,
    DateTimeOffset Timestamp,
    JsonElement Metadata,
    Guid? OrganizationId);

/// <summary>A validated meter create body.</summary>
internal sealed record MeterDraft(
    string Name,
    MeterFilter Filter,
    MeterAggregation Aggregation,
    string Unit,
    string? CustomLabel,
    long? CustomMultiplier,
    IReadOnlyDictionary<string, JsonElement> Metadata);

/// <summary>A validated meter update body.</summary>
internal sealed record MeterPatch(
    Optional<string> Name,
    Optional<MeterFilter> Filter,
    Optional<MeterAggregation> Aggregation,
    Optional<bool> IsArchived,
    Optional<string> Unit,
    Optional<string?> CustomLabel,
    Optional<long?> CustomMultiplier,
    Optional<IReadOnlyDictionary<string, JsonElement>> Metadata);

/// <summary>One <c>sorting</c> criterion: a property and its direction.</summary>
internal sealed record SortKey(string Property, bool Descending)
{
    public static SortKey Parse(string text) => text.StartsWith('-') ? new(text[1..], true) : new(text, false);
}

/// <summary>Page and page size, already capped.</summary>
internal sealed record PageRequest(int Page, int Limit)
{
    public (IReadOnlyList<T> Items, int TotalCount) Slice<T>(IReadOnlyList<T> all) =>
        ([.. all.Skip((int)Math.Min((long)(Page - 1) * Limit, int.MaxValue)).Take(Limit)], all.Count);
}

/// <summary>Filters of <c>GET /v1/customers/</c>.</summary>
internal sealed record CustomerQuery(
    string? Email,
    string? Query,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Metadata,
    IReadOnlyList<SortKey> Sorting,
    PageRequest Page,
    bool? Active = null);

/// <summary>Filters of <c>GET /v1/meters/</c>.</summary>
internal sealed record MeterQuery(
    string? Query,
    bool? IsArchived,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Metadata,
    IReadOnlyList<SortKey> Sorting,
    PageRequest Page);

/// <summary>Filters of <c>GET /v1/customer-meters/</c>.</summary>
internal sealed record CustomerMeterQuery(
    IReadOnlyList<Guid> CustomerIds,
    IReadOnlyList<string> ExternalCustomerIds,
    IReadOnlyList<Guid> MeterIds,
    IReadOnlyList<SortKey> Sorting,
    PageRequest Page);

/// <summary>Filters of <c>GET /v1/events/</c>; list filters match any of their values, and all filters apply together.</summary>
internal sealed record EventQuery(
    MeterFilter? Filter,
    DateTimeOffset? Start,
    DateTimeOffset? End,
    IReadOnlyList<Guid> OrganizationIds,
    IReadOnlyList<Guid> CustomerIds,
    IReadOnlyList<string> ExternalCustomerIds,
    Guid? MeterId,
    IReadOnlyList<string> Names,
    IReadOnlyList<string> Sources,
    string? Query,
    Guid? ParentId,
    int? Depth,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Metadata,
    IReadOnlyList<SortKey> Sorting,
    PageRequest Page);

/// <summary>A request refused with a 422 by Polar's own code (<c>PolarRequestValidationError</c>).</summary>
internal sealed record Refusal(IReadOnlyList<ValidationIssue> Issues);

/// <summary>The state to persist: everything else (indexes, balances) is derived from it.</summary>
internal sealed record StateSnapshot(
    Guid OrganizationId,
    IReadOnlyList<CustomerResource> Customers,
    IReadOnlyList<MeterResource> Meters,
    IReadOnlyList<EventRecord> Events,
    IReadOnlyList<Guid>? ActiveSubscriptionCustomers = null);

/// <summary>What <c>GET /v1/meters/{id}/quantities</c> asks for: the period, its interval and zone, and the events counted.</summary>
internal sealed record QuantityQuery(
    DateTimeOffset Start,
    DateTimeOffset End,
    string Interval,
    TimeZoneInfo Zone,
    IReadOnlyList<Guid> CustomerIds,
    IReadOnlyList<string> ExternalCustomerIds,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Metadata,
    string? CustomerAggregation);
