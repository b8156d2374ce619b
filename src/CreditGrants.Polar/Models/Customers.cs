using System.Text.Json;

namespace CreditGrants.Polar.Models;

/// <summary>A Polar customer, as Polar returns it (only the fields this app reads).</summary>
public sealed record Customer(
    Guid Id,
    string? Email,
    string? Name,
    string? ExternalId,
    string? Type,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DeletedAt,
    IReadOnlyDictionary<string, JsonElement>? Metadata);

/// <summary>The body of <c>POST /v1/customers/</c>.</summary>
public sealed record CustomerCreate(
    string Email,
    string? Name = null,
    string? ExternalId = null,
    IReadOnlyDictionary<string, JsonElement>? Metadata = null);

/// <summary>Filters for listing customers: <paramref name="Metadata"/> as <c>metadata[key]=value</c>, <paramref name="Active"/> (has a
/// trialing, active or past-due subscription), <paramref name="Sorting"/> such as <c>-created_at</c> (Polar's default).</summary>
public sealed record CustomerListQuery(string? Email = null, string? Query = null, int Page = 1, int Limit = 100,
    IReadOnlyDictionary<string, string>? Metadata = null, bool? Active = null, string? Sorting = null);

/// <summary>A page of a Polar list endpoint.</summary>
public sealed record PolarPage<T>(IReadOnlyList<T> Items, PolarPagination Pagination);

/// <summary>Polar's pagination block.</summary>
public sealed record PolarPagination(int TotalCount, int MaxPage);
