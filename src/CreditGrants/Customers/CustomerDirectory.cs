using System.ComponentModel.DataAnnotations;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CreditGrants.Customers;

/// <summary>How long the directory trusts what Polar said, and how it lists the organization; the <c>CustomerDirectory</c> section.</summary>
public sealed class CustomerDirectoryOptions
{
    public const string SectionName = "CustomerDirectory";

    /// <summary>The app's table of entries (the CLI keeps its directory in its data folder instead).</summary>
    [Required]
    public string Table { get; set; } = "customerdirectory";

    /// <summary>
    /// How long an entry (and a complete sweep) is trusted after Polar last confirmed it; older entries are confirmed again
    /// before a grant relies on them. Zero turns the directory off: every customer is read or created as if never seen.
    /// Default one hour. The trade-off: a customer deleted in Polar within this time still counts as known, so a grant to its
    /// external id is reported granted although no customer holds it (see docs/customer-directory.md).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan TrustFor { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Pages of Polar's customer list read at once during a sweep (each page is one request of 100 customers).</summary>
    [Range(1, 16)]
    public int SweepConcurrency { get; set; } = 4;

    /// <summary>
    /// The largest list (in pages of 100 customers) a bulk chunk or campaign sweeps on its own. A sweep runs inside one
    /// function invocation, so it must end well within the host's timeout: 5,000 pages (500,000 customers) take about
    /// 12.5 minutes at 400 requests a minute. Larger organizations look customers up one by one.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxSweepPages { get; set; } = 5_000;

    /// <summary>How long a sweeper's claim lasts before another instance may take over; it is renewed while the sweep runs.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "01:00:00")]
    public TimeSpan SweepClaim { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an instance waits for another instance's sweep before it reads customers one by one instead.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SweepWait { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>What a sweep did: customers recorded and Polar requests spent (pages read).</summary>
public sealed record CustomerSweep(long Customers, int Requests, DateTimeOffset StartedAt);

/// <summary>
/// What the app knows of the organization's customers: which external ids a Polar customer holds (and its Polar id), so
/// that a grant to a known customer goes straight to ingest instead of costing a customer read or create.
/// <para>
/// Entries come from every customer Polar returns (reads, creates, listings) and from sweeps of Polar's customer list
/// (100 customers a request), taken when a sweep costs fewer requests than the per-customer requests it saves. An entry
/// is trusted for <see cref="CustomerDirectoryOptions.TrustFor"/>; older ones are confirmed again. An entry never decides
/// where a grant goes: grants to known customers are addressed by external id, which Polar links to whichever customer
/// holds it, so a stale entry can cost a lost grant (a deleted customer) but never a grant to the wrong customer.
/// </para>
/// </summary>
public sealed partial class CustomerDirectory(ICustomerDirectoryStore store, IPolarGateway polar, TimeProvider time,
    IOptions<CustomerDirectoryOptions> options, ILogger<CustomerDirectory> logger)
{
    /// <summary>Polar's largest page of customers.</summary>
    public const int PageSize = 100;

    private static readonly TimeSpan SweepPoll = TimeSpan.FromSeconds(2);

    private CustomerDirectoryOptions Options => options.Value;

    /// <summary>Whether the directory is on (<see cref="CustomerDirectoryOptions.TrustFor"/> above zero).</summary>
    public bool Enabled => Options.TrustFor > TimeSpan.Zero;

    /// <summary>The entries of these external ids that are still trusted (confirmed within <see cref="CustomerDirectoryOptions.TrustFor"/>).</summary>
    /// <exception cref="Exception">Whatever the store throws when it is unreachable.</exception>
    public async Task<IReadOnlyDictionary<string, CustomerDirectoryEntry>> KnownAsync(IReadOnlyCollection<string> externalIds,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(externalIds);
        if (!Enabled || externalIds.Count == 0)
        {
            return new Dictionary<string, CustomerDirectoryEntry>(StringComparer.Ordinal);
        }

        var found = await Guarded(() => store.FindAsync(externalIds, cancellationToken), EmptyEntries, "read").ConfigureAwait(false);
        var since = time.GetUtcNow() - Options.TrustFor;
        return found.Values.Where(e => e.ConfirmedAt > since).ToDictionary(e => e.ExternalId, StringComparer.Ordinal);
    }

    /// <summary>Records customers Polar just returned (those with an external id and not deleted).</summary>
    public Task RememberAsync(IEnumerable<Customer> customers, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(customers);
        var now = time.GetUtcNow();
        return SaveAsync([.. customers.Where(c => c is { ExternalId: not null, DeletedAt: null }).Select(c => new CustomerDirectoryEntry(c.ExternalId!, c.Id, now))],
            cancellationToken);
    }

    /// <summary>Records that Polar said a customer holds this external id without naming the customer (a refused create).</summary>
    public Task RememberExistsAsync(string externalId, CancellationToken cancellationToken = default) =>
        SaveAsync([new CustomerDirectoryEntry(externalId, null, time.GetUtcNow())], cancellationToken);

    /// <summary>Drops what the directory knows of an external id that Polar says no customer holds.</summary>
    public Task ForgetAsync(string externalId, CancellationToken cancellationToken = default) =>
        Enabled ? Guarded(async () => { await store.ForgetAsync(externalId, cancellationToken).ConfigureAwait(false); return true; }, false, "update")
            : Task.CompletedTask;

    /// <summary>
    /// Reads the customer holding an external id from Polar (one request) and records the answer: the customer, or the
    /// entry dropped when none holds it. Throws <see cref="PolarException"/> when Polar fails.
    /// </summary>
    public async Task<Customer?> CheckAsync(string externalId, CancellationToken cancellationToken = default)
    {
        var customer = await polar.FindCustomerByExternalIdAsync(externalId, cancellationToken).ConfigureAwait(false);
        if (customer is { DeletedAt: null })
        {
            await RememberAsync([customer], cancellationToken).ConfigureAwait(false);
            return customer;
        }

        await ForgetAsync(externalId, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// Sweeps the organization's customer list into the directory when that is cheaper than the per-customer requests it
    /// would save: when about <paramref name="expectedUnknown"/> customers are still to be read or created one by one and
    /// that is more than the sweep's pages (one request per 100 customers), and the list has at most
    /// <see cref="CustomerDirectoryOptions.MaxSweepPages"/> pages. Nothing happens when a complete sweep is still
    /// trusted (customers missing from it are new since, or do not exist), or the directory is off. When another instance is
    /// sweeping, waits for it (up to <see cref="CustomerDirectoryOptions.SweepWait"/>). True when the directory was swept
    /// (by this call or by the instance it waited for). Throws <see cref="PolarException"/> when Polar fails.
    /// </summary>
    public async Task<bool> SweepIfCheaperAsync(long expectedUnknown, CancellationToken cancellationToken = default)
    {
        if (!Enabled || expectedUnknown <= 0)
        {
            return false;
        }

        var state = await Guarded<CustomerSweepState?>(async () => await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false), null, "read").ConfigureAwait(false);
        if (state is null || IsTrusted(state.CompletedAt))
        {
            // No sweep with the directory's storage away: what it records would be lost anyway.
            return false;
        }

        // The page read to count the organization is the sweep's first page when this call sweeps: it is not read twice.
        (PolarPage<Customer> Page, DateTimeOffset ReadAt)? counted = null;
        if (!IsTrusted(state.CountedAt) || state.CustomerCount is null)
        {
            var readAt = time.GetUtcNow();
            counted = (await CountAsync(state, cancellationToken).ConfigureAwait(false), readAt);
        }

        var count = counted?.Page.Pagination.TotalCount ?? state.CustomerCount!.Value;
        var pages = (count + PageSize - 1) / PageSize;
        if (expectedUnknown <= pages || pages > Options.MaxSweepPages)
        {
            return false;
        }

        LogSweepChosen(expectedUnknown, pages);
        try
        {
            return await ClaimOrWaitAsync(counted, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not PolarException and not OperationCanceledException)
        {
            // The directory's storage failed mid-way: go on without the sweep, at the cost of per-customer requests.
            LogStoreFailed("sweep", ex.GetType().Name, ex.Message);
            return false;
        }
    }

    /// <summary>Sweeps if no other instance is sweeping (taking the claim), else waits for that sweep; true when one completed.</summary>
    private async Task<bool> ClaimOrWaitAsync((PolarPage<Customer> Page, DateTimeOffset ReadAt)? counted, CancellationToken cancellationToken)
    {
        var waitUntil = time.GetUtcNow() + Options.SweepWait;
        while (true)
        {
            var state = await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);
            if (IsTrusted(state.CompletedAt))
            {
                return true;
            }

            var now = time.GetUtcNow();
            if (state.SweepingUntil is not { } until || until <= now)
            {
                var claim = state with { SweepingUntil = now + Options.SweepClaim };
                if (await store.TryWriteSweepAsync(claim, state.Version, cancellationToken).ConfigureAwait(false))
                {
                    try
                    {
                        await SweepClaimedAsync(counted, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        // Give the claim back, so that instances waiting for this sweep need not wait for it to lapse.
                        await ReleaseClaimAsync().ConfigureAwait(false);
                        throw;
                    }

                    return true;
                }

                continue;
            }

            if (now >= waitUntil)
            {
                LogSweepWaitOver(Options.SweepWait);
                return false;
            }

            await Task.Delay(SweepPoll, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Lists every customer of the organization into the directory now (<c>credits customers sync</c>), oldest
    /// first so that customers created meanwhile land on later pages instead of shifting earlier ones. A customer deleted
    /// during the sweep can shift one customer past a page boundary: that customer is then read or created when a grant
    /// needs it, never misrouted. Throws <see cref="PolarException"/> when Polar fails; what was listed stays recorded.
    /// </summary>
    public async Task<CustomerSweep> SweepAsync(CancellationToken cancellationToken = default)
    {
        var state = await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);
        await store.TryWriteSweepAsync(state with { SweepingUntil = time.GetUtcNow() + Options.SweepClaim }, state.Version, cancellationToken)
            .ConfigureAwait(false);
        return await SweepClaimedAsync(null, cancellationToken).ConfigureAwait(false);
    }

    /// <param name="counted">The first page when it was just read (to count the organization), and when it was read.</param>
    /// <param name="cancellationToken">Stops the sweep; what was listed stays recorded.</param>
    private async Task<CustomerSweep> SweepClaimedAsync((PolarPage<Customer> Page, DateTimeOffset ReadAt)? counted, CancellationToken cancellationToken)
    {
        var started = counted?.ReadAt ?? time.GetUtcNow();
        var first = counted?.Page ?? await ListPageAsync(1, cancellationToken).ConfigureAwait(false);
        long customers = first.Items.Count;
        var requests = 1;
        var pages = Enumerable.Range(2, Math.Max(0, first.Pagination.MaxPage - 1)).ToList();
        var renewEvery = Math.Max(1, Options.SweepConcurrency * 25);
        foreach (var batch in pages.Chunk(renewEvery))
        {
            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = Options.SweepConcurrency, CancellationToken = cancellationToken },
                async (page, ct) =>
                {
                    var result = await ListPageAsync(page, ct).ConfigureAwait(false);
                    Interlocked.Add(ref customers, result.Items.Count);
                    Interlocked.Increment(ref requests);
                }).ConfigureAwait(false);
            await RenewClaimAsync(cancellationToken).ConfigureAwait(false);
        }

        await FinishSweepAsync(started, first.Pagination.TotalCount, cancellationToken).ConfigureAwait(false);
        LogSwept(customers, requests);
        return new CustomerSweep(customers, requests, started);
    }

    private async Task<PolarPage<Customer>> ListPageAsync(int page, CancellationToken cancellationToken)
    {
        var result = await polar.ListCustomersAsync(new CustomerListQuery(Page: page, Limit: PageSize, Sorting: "created_at"), cancellationToken)
            .ConfigureAwait(false);
        await RememberAsync(result.Items, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>The first page of the organization's customer list, its total recorded as the count (and its customers recorded too).</summary>
    private async Task<PolarPage<Customer>> CountAsync(CustomerSweepState state, CancellationToken cancellationToken)
    {
        var first = await ListPageAsync(1, cancellationToken).ConfigureAwait(false);
        // Best effort: another writer's newer state wins, and the count is read again next time.
        await store.TryWriteSweepAsync(state with { CustomerCount = first.Pagination.TotalCount, CountedAt = time.GetUtcNow() }, state.Version,
            cancellationToken).ConfigureAwait(false);
        return first;
    }

    private async Task ReleaseClaimAsync()
    {
        try
        {
            var state = await store.ReadSweepAsync(CancellationToken.None).ConfigureAwait(false);
            await store.TryWriteSweepAsync(state with { SweepingUntil = null }, state.Version, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Best effort: the claim lapses by itself.
            LogStoreFailed("update", ex.GetType().Name, ex.Message);
        }
    }

    private async Task RenewClaimAsync(CancellationToken cancellationToken)
    {
        var state = await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);
        await store.TryWriteSweepAsync(state with { SweepingUntil = time.GetUtcNow() + Options.SweepClaim }, state.Version, cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task FinishSweepAsync(DateTimeOffset started, long count, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var state = await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);
            var done = new CustomerSweepState(state.CompletedAt is { } earlier && earlier > started ? earlier : started, count, started, null, state.Version);
            if (await store.TryWriteSweepAsync(done, state.Version, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private Task SaveAsync(IReadOnlyCollection<CustomerDirectoryEntry> entries, CancellationToken cancellationToken) =>
        Enabled && entries.Count > 0
            ? Guarded(async () => { await store.SaveAsync(entries, cancellationToken).ConfigureAwait(false); return true; }, false, "update")
            : Task.CompletedTask;

    private static readonly IReadOnlyDictionary<string, CustomerDirectoryEntry> EmptyEntries = new Dictionary<string, CustomerDirectoryEntry>();

    /// <summary>
    /// The directory only saves requests: when its storage fails (unreachable, not configured), a lookup knows nothing and
    /// an update is dropped, so grants go on at the cost of the customer requests the directory would have saved.
    /// </summary>
    private async Task<T> Guarded<T>(Func<Task<T>> action, T fallback, string what)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreFailed(what, ex.GetType().Name, ex.Message);
            return fallback;
        }
    }

    private bool IsTrusted(DateTimeOffset? at) => at is { } value && value > time.GetUtcNow() - Options.TrustFor;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Customer directory {What} failed ({Error}: {Reason}); going on without it, at the cost of customer requests")]
    private partial void LogStoreFailed(string what, string error, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sweeping the customer list: about {Unknown} customers to look up one by one, the list has {Pages} pages")]
    private partial void LogSweepChosen(long unknown, long pages);

    [LoggerMessage(Level = LogLevel.Information, Message = "Customer directory swept: {Customers} customers in {Requests} requests")]
    private partial void LogSwept(long customers, int requests);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Another instance's customer sweep did not finish within {Wait}; looking customers up one by one")]
    private partial void LogSweepWaitOver(TimeSpan wait);
}
