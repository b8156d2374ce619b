using System.Collections.Concurrent;
using CreditGrants.Grants;

namespace CreditGrants.Expiry;

/// <summary>
/// A grant that is to expire, as the expiry index holds it: the grant, whose it is (the reference it was granted with), its
/// meter and units, when it expires as asked (<see cref="ExpiresAt"/>) and when the index learnt of it. Only a hint of when to
/// look: the sweep reads the grant's own event in Polar, whose <c>grant_expires_at</c> is the truth.
/// </summary>
public sealed record DueExpiry(string GrantId, string? ExternalCustomerId, Guid? CustomerId, string Meter, decimal Units, DateTimeOffset ExpiresAt,
    DateTimeOffset RecordedAt)
{
    /// <summary>When the expiry takes effect: a whole UTC hour (<see cref="GrantExpiry.TakesEffectAt"/>).</summary>
    public DateTimeOffset TakesEffectAt => GrantExpiry.TakesEffectAt(ExpiresAt);

    /// <summary>The customer as a grant names it.</summary>
    public CustomerRef Customer => ExternalCustomerId is not null ? CustomerRef.External(ExternalCustomerId) : CustomerRef.Polar(CustomerId!.Value);

    /// <summary>The entry of a grant that expires (one with <see cref="CreditGrant.ExpiresAt"/>), recorded at <paramref name="now"/>.</summary>
    public static DueExpiry Of(CreditGrant grant, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(grant);
        var expiresAt = grant.ExpiresAt ?? throw new ArgumentException($"Grant {grant.GrantId.Value} does not expire.", nameof(grant));
        return new DueExpiry(grant.GrantId.Value, grant.Customer.ExternalId, grant.Customer.CustomerId, grant.Meter, grant.Units,
            expiresAt.ToUniversalTime(), now);
    }
}

/// <summary>
/// Where the app keeps the expiries to come (a table for the Functions app, a file in the data folder for the CLI), written
/// when a grant that expires is sent, so the sweep finds the grants due without ever scanning Polar. Written <b>before</b>
/// the grant's event is sent: an entry whose grant never reached Polar is dropped by the sweep; a grant sent without its
/// entry would never expire.
/// </summary>
public interface IExpiryIndex
{
    /// <summary>
    /// Records expiries, one entry per grant id and hour it takes effect at: the same grant may be held at two hours (a retried
    /// request with another <c>expiresIn</c>); each is checked against the grant's event when due, and expires it at most once.
    /// </summary>
    Task AddAsync(IReadOnlyCollection<DueExpiry> expiries, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="max"/> entries whose expiry takes effect at or before <paramref name="at"/>, soonest first.</summary>
    Task<IReadOnlyList<DueExpiry>> DueAsync(DateTimeOffset at, int max, CancellationToken cancellationToken = default);

    /// <summary>Forgets entries (their expiry is done, or there is nothing to expire); entries already gone are ignored.</summary>
    Task RemoveAsync(IReadOnlyCollection<DueExpiry> expiries, CancellationToken cancellationToken = default);
}

/// <summary>An index in memory: for tests and hosts without storage; lost with the process.</summary>
public sealed class InMemoryExpiryIndex : IExpiryIndex
{
    private readonly ConcurrentDictionary<(string, DateTimeOffset), DueExpiry> _entries = new();

    /// <summary>Every entry held, soonest first.</summary>
    public IReadOnlyList<DueExpiry> Entries => [.. _entries.Values.OrderBy(e => e.TakesEffectAt).ThenBy(e => e.GrantId, StringComparer.Ordinal)];

    public Task AddAsync(IReadOnlyCollection<DueExpiry> expiries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expiries);
        foreach (var expiry in expiries)
        {
            _entries[(expiry.GrantId, expiry.TakesEffectAt)] = expiry;
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<DueExpiry>> DueAsync(DateTimeOffset at, int max, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<DueExpiry>>([.. Entries.Where(e => e.TakesEffectAt <= at).Take(max)]);

    public Task RemoveAsync(IReadOnlyCollection<DueExpiry> expiries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expiries);
        foreach (var expiry in expiries)
        {
            _entries.TryRemove((expiry.GrantId, expiry.TakesEffectAt), out _);
        }

        return Task.CompletedTask;
    }
}
