using System.Collections.Concurrent;

namespace CreditGrants.Customers;

/// <summary>
/// One fact the directory holds: Polar had a customer (not deleted) with this external id at <paramref name="ConfirmedAt"/>.
/// External ids are write-once in Polar, so the pair stays true until that customer is deleted.
/// </summary>
/// <param name="ExternalId">The customer's external id (the app's own user id), case-sensitive as Polar compares it.</param>
/// <param name="CustomerId">Polar's id of the customer, when the answer that confirmed it named it (a create refused with
/// "external ID already exists" confirms the customer without naming it).</param>
/// <param name="ConfirmedAt">When a Polar answer last showed the customer (a read, a create, a listing), UTC.</param>
public sealed record CustomerDirectoryEntry(string ExternalId, Guid? CustomerId, DateTimeOffset ConfirmedAt);

/// <summary>
/// Where the directory keeps its bookkeeping about listing the whole organization (a sweep): the last complete one, the
/// organization's size as last counted, and who is sweeping now. <paramref name="Version"/> is the store's concurrency token
/// (an ETag, a row version); a claim succeeds only against the version it read.
/// </summary>
/// <param name="CompletedAt">When the last complete sweep started (every customer Polar had then is in the directory).</param>
/// <param name="CustomerCount">The organization's customers (not deleted), as the last listing counted them.</param>
/// <param name="CountedAt">When <paramref name="CustomerCount"/> was read.</param>
/// <param name="SweepingUntil">While a sweep runs: when its claim lapses (a crashed sweeper's claim ends by itself).</param>
/// <param name="Version">The store's concurrency token for this state; null when no state was stored yet.</param>
public sealed record CustomerSweepState(DateTimeOffset? CompletedAt, long? CustomerCount, DateTimeOffset? CountedAt,
    DateTimeOffset? SweepingUntil, string? Version)
{
    /// <summary>No sweep yet, nothing counted.</summary>
    public static CustomerSweepState None { get; } = new(null, null, null, null, null);

    /// <summary>
    /// The checkpoint of a sweep under way: the next page of the customer list to read (from 2; pages before it are in the
    /// directory). Null when no sweep is under way. A stopped sweep continues from here in the next invocation or run.
    /// </summary>
    public int? ResumeFromPage { get; init; }

    /// <summary>When the sweep under way read its first page: what <see cref="CompletedAt"/> becomes when it ends.</summary>
    public DateTimeOffset? ResumeStartedAt { get; init; }

    /// <summary>When the last complete sweep read its last page, UTC.</summary>
    public DateTimeOffset? FinishedAt { get; init; }
}

/// <summary>
/// The storage behind <see cref="CustomerDirectory"/>: a table for the app (shared by its instances), a SQLite file in the
/// data folder for the CLI, memory for tests. Writers may race: saving an entry is an upsert of a fact that was true when
/// read, so the last writer wins and no writer's entry can name another customer.
/// </summary>
public interface ICustomerDirectoryStore
{
    /// <summary>The stored entries for these external ids (whatever their age); ids without an entry are left out.</summary>
    Task<IReadOnlyDictionary<string, CustomerDirectoryEntry>> FindAsync(IReadOnlyCollection<string> externalIds, CancellationToken cancellationToken = default);

    /// <summary>Adds or replaces entries (by external id).</summary>
    Task SaveAsync(IReadOnlyCollection<CustomerDirectoryEntry> entries, CancellationToken cancellationToken = default);

    /// <summary>Removes the entry of an external id that Polar says no customer has; no entry is not an error.</summary>
    Task ForgetAsync(string externalId, CancellationToken cancellationToken = default);

    /// <summary>The sweep bookkeeping, or <see cref="CustomerSweepState.None"/>.</summary>
    Task<CustomerSweepState> ReadSweepAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the sweep bookkeeping if it is still at <paramref name="expectedVersion"/> (null: nothing stored yet).
    /// False when another writer changed it first.
    /// </summary>
    Task<bool> TryWriteSweepAsync(CustomerSweepState state, string? expectedVersion, CancellationToken cancellationToken = default);
}

/// <summary>A directory kept in memory: for tests, and for hosts that keep no state between runs.</summary>
public sealed class InMemoryCustomerDirectoryStore : ICustomerDirectoryStore
{
    private readonly ConcurrentDictionary<string, CustomerDirectoryEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _sweepLock = new();
    private CustomerSweepState _sweep = CustomerSweepState.None;
    private long _version;

    /// <summary>How many entries are stored.</summary>
    public int Count => _entries.Count;

    public Task<IReadOnlyDictionary<string, CustomerDirectoryEntry>> FindAsync(IReadOnlyCollection<string> externalIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(externalIds);
        var found = new Dictionary<string, CustomerDirectoryEntry>(StringComparer.Ordinal);
        foreach (var id in externalIds)
        {
            if (_entries.TryGetValue(id, out var entry))
            {
                found[id] = entry;
            }
        }

        return Task.FromResult<IReadOnlyDictionary<string, CustomerDirectoryEntry>>(found);
    }

    public Task SaveAsync(IReadOnlyCollection<CustomerDirectoryEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var entry in entries)
        {
            _entries[entry.ExternalId] = entry;
        }

        return Task.CompletedTask;
    }

    public Task ForgetAsync(string externalId, CancellationToken cancellationToken = default)
    {
        _entries.TryRemove(externalId, out _);
        return Task.CompletedTask;
    }

    public Task<CustomerSweepState> ReadSweepAsync(CancellationToken cancellationToken = default)
    {
        lock (_sweepLock)
        {
            return Task.FromResult(_sweep);
        }
    }

    public Task<bool> TryWriteSweepAsync(CustomerSweepState state, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_sweepLock)
        {
            if (!string.Equals(_sweep.Version, expectedVersion, StringComparison.Ordinal))
            {
                return Task.FromResult(false);
            }

            _sweep = state with { Version = (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture) };
            return Task.FromResult(true);
        }
    }
}
