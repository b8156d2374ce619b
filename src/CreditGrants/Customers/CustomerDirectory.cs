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
    /// The pages (of 100 customers) one function invocation sweeps before it hands the rest on: a sweep of any size runs in
    /// such slices, each continuing from the last one's checkpoint, so that no invocation runs past the host's timeout.
    /// 1,000 pages take about 2.5 minutes at 400 requests a minute. The CLI sweeps to the end in one run.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxSweepPages { get; set; } = 1_000;

    /// <summary>
    /// The largest customer list (in pages of 100) learned inline, by the bulk chunk or campaign that meets customers the
    /// directory does not know: at most this many requests plus one to count. Larger organizations are swept in the
    /// background, and rows to customers the directory does not know are granted unchecked meanwhile. Zero: never inline.
    /// </summary>
    [Range(0, 1_000)]
    public int InlineSweepPages { get; set; } = 24;

    /// <summary>
    /// In the app, how long work that waits for a sweep (a chunk whose customers need one, a job's unchecked rows while another
    /// instance sweeps) stays on the queue before it looks again.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan SweepRecheck { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a sweeper's claim lasts before another instance may take over; it is renewed while the sweep runs.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "01:00:00")]
    public TimeSpan SweepClaim { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an instance waits for another instance's sweep before it reads customers one by one instead.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SweepWait { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>What a sweep call did: customers recorded and Polar requests spent (pages read) in this call, and where the sweep stands.</summary>
public sealed record CustomerSweep(long Customers, int Requests, DateTimeOffset StartedAt)
{
    /// <summary>Whether the sweep reached the list's last page (else it continues from its checkpoint next time).</summary>
    public bool Complete { get; init; } = true;

    /// <summary>Pages of the whole sweep read so far, including those read before a resume.</summary>
    public int PagesRead { get; init; }

    /// <summary>Pages of the customer list (100 customers each) as last seen.</summary>
    public int Pages { get; init; }
}

/// <summary>How far a sweep got: pages read (including before a resume) of the pages the list has.</summary>
public sealed record CustomerSweepProgress(int PagesRead, int Pages);

/// <summary>What <see cref="CustomerDirectory.SweepIfCheaperAsync"/> did.</summary>
public enum SweepOutcome
{
    /// <summary>No sweep: a trusted one exists, it would not be cheaper, or the directory is off.</summary>
    NotNeeded,
    /// <summary>The directory holds a complete, trusted sweep now.</summary>
    Complete,
    /// <summary>A sweep is worth it and under way, but did not end within this call's pages (or another instance is sweeping).</summary>
    InProgress,
}

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

    /// <summary>The pages one function invocation sweeps at most (<see cref="CustomerDirectoryOptions.MaxSweepPages"/>).</summary>
    public int SlicePages => Options.MaxSweepPages;

    /// <summary>How long an entry and a complete sweep are trusted (<see cref="CustomerDirectoryOptions.TrustFor"/>).</summary>
    public TimeSpan TrustFor => Options.TrustFor;

    /// <summary>How long work waiting for a sweep stays on the queue before it looks again (<see cref="CustomerDirectoryOptions.SweepRecheck"/>).</summary>
    public TimeSpan SweepRecheck => Options.SweepRecheck;

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
    public Task RememberAsync(IEnumerable<Customer> customers, CancellationToken cancellationToken = default) =>
        RememberAsync(customers, time.GetUtcNow(), cancellationToken);

    /// <summary>
    /// Records customers as Polar showed them at <paramref name="confirmedAt"/> (a webhook's event time: a delivery that
    /// arrives late, after Polar's retries, vouches for the customer only as of when it happened, so its entry's trust
    /// lapses that much sooner). A time in the future counts as now.
    /// </summary>
    public Task RememberAsync(IEnumerable<Customer> customers, DateTimeOffset confirmedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(customers);
        var now = time.GetUtcNow();
        var at = confirmedAt > now ? now : confirmedAt;
        return SaveAsync([.. customers.Where(c => c is { ExternalId: not null, DeletedAt: null }).Select(c => new CustomerDirectoryEntry(c.ExternalId!, c.Id, at))],
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
    /// When the last complete sweep that is still trusted started (every customer Polar had then is in the directory, so an
    /// external id missing from it had no customer then); null when there is none, or the directory is off or unreachable.
    /// </summary>
    public async Task<DateTimeOffset?> SweptAtAsync(CancellationToken cancellationToken = default)
    {
        if (!Enabled)
        {
            return null;
        }

        var state = await Guarded<CustomerSweepState?>(async () => await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false), null, "read").ConfigureAwait(false);
        return state?.CompletedAt is { } at && IsTrusted(at) ? at : null;
    }

    /// <summary>
    /// Learns a small organization whole, inline: when no trusted sweep exists, the customer list has at most
    /// <see cref="CustomerDirectoryOptions.InlineSweepPages"/> pages, and they are fewer than the
    /// <paramref name="expectedUnknown"/> customers the work ahead names that the directory does not know, sweeps it (at most 1 +
    /// that many requests; the count is the first page, read once per <see cref="CustomerDirectoryOptions.TrustFor"/>). Larger
    /// organizations are left to a background sweep, so that rows to customers the directory does not know cost nothing inline
    /// (they are unchecked). True when the directory was swept now. Throws <see cref="PolarException"/> when Polar fails.
    /// </summary>
    public async Task<bool> SweepIfSmallAsync(long expectedUnknown, CancellationToken cancellationToken = default) =>
        Options.InlineSweepPages > 0 && expectedUnknown > 1
        && await SweepIfAsync(pages => pages <= Options.InlineSweepPages && pages < expectedUnknown, null, "small organization", cancellationToken)
            .ConfigureAwait(false) == SweepOutcome.Complete;

    /// <summary>
    /// Sweeps the organization's customer list into the directory when that is cheaper than the per-customer requests it
    /// would save: when about <paramref name="expectedLookups"/> customers are still to be read or created one by one and
    /// that is more than the sweep's pages (one request per 100 customers), at any organization size. Nothing happens when a
    /// complete sweep is still trusted (customers missing from it are new since, or do not exist), or the directory is off.
    /// A sweep reads at most <paramref name="maxPages"/> pages in this call (null: to its end), continuing from the checkpoint
    /// of a stopped one; when another instance is sweeping, waits for it (up to <see cref="CustomerDirectoryOptions.SweepWait"/>).
    /// Throws <see cref="PolarException"/> when Polar fails; what was listed stays recorded and the checkpoint stands.
    /// </summary>
    /// <returns><see cref="SweepOutcome.Complete"/> when the directory was swept (by this call or the instance it waited for);
    /// <see cref="SweepOutcome.InProgress"/> when a sweep is worth it but did not end within <paramref name="maxPages"/> or the wait;
    /// <see cref="SweepOutcome.NotNeeded"/> otherwise.</returns>
    public Task<SweepOutcome> SweepIfCheaperAsync(long expectedLookups, int? maxPages = null, CancellationToken cancellationToken = default) =>
        expectedLookups <= 0 ? Task.FromResult(SweepOutcome.NotNeeded)
            : SweepIfAsync(pages => expectedLookups > pages, maxPages, $"about {expectedLookups} customers to look up one by one", cancellationToken);

    private async Task<SweepOutcome> SweepIfAsync(Func<long, bool> worthIt, int? maxPages, string why, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return SweepOutcome.NotNeeded;
        }

        // Counting and sweeping serve no waiting caller: background traffic, whoever asked.
        using var background = CreditGrants.Polar.Budget.PolarTraffic.Background();

        var state = await Guarded<CustomerSweepState?>(async () => await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false), null, "read").ConfigureAwait(false);
        if (state is null || IsTrusted(state.CompletedAt))
        {
            // No sweep with the directory's storage away: what it records would be lost anyway.
            return SweepOutcome.NotNeeded;
        }

        // The page read to count the organization is the sweep's first page when this call starts one: it is not read twice.
        (PolarPage<Customer> Page, DateTimeOffset ReadAt)? counted = null;
        if (!IsTrusted(state.CountedAt) || state.CustomerCount is null)
        {
            var readAt = time.GetUtcNow();
            counted = (await CountAsync(state, cancellationToken).ConfigureAwait(false), readAt);
        }

        var count = counted?.Page.Pagination.TotalCount ?? state.CustomerCount!.Value;
        var pages = Math.Max(1, (count + PageSize - 1) / PageSize);
        if (!worthIt(pages))
        {
            return SweepOutcome.NotNeeded;
        }

        LogSweepChosen(why, pages);
        try
        {
            return await ClaimOrWaitAsync(counted, maxPages, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not PolarException and not OperationCanceledException)
        {
            // The directory's storage failed mid-way: go on without the sweep, at the cost of per-customer requests.
            LogStoreFailed("sweep", ex.GetType().Name, ex.Message);
            return SweepOutcome.NotNeeded;
        }
    }

    /// <summary>Sweeps if no other instance is sweeping (taking the claim), else waits for that sweep.</summary>
    private async Task<SweepOutcome> ClaimOrWaitAsync((PolarPage<Customer> Page, DateTimeOffset ReadAt)? counted, int? maxPages, CancellationToken cancellationToken)
    {
        var waitUntil = time.GetUtcNow() + Options.SweepWait;
        while (true)
        {
            var state = await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);
            if (IsTrusted(state.CompletedAt))
            {
                return SweepOutcome.Complete;
            }

            if (await TryClaimAsync(state, cancellationToken).ConfigureAwait(false))
            {
                var sweep = await SweepClaimedAsync(counted, maxPages, null, cancellationToken).ConfigureAwait(false);
                return sweep.Complete ? SweepOutcome.Complete : SweepOutcome.InProgress;
            }

            if (time.GetUtcNow() >= waitUntil || maxPages is not null && state.SweepingUntil is not null)
            {
                // A bounded caller does not wait out another instance's sweep: it comes back later (the app defers its work).
                if (maxPages is null)
                {
                    LogSweepWaitOver(Options.SweepWait);
                }

                return SweepOutcome.InProgress;
            }

            await Task.Delay(SweepPoll, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the sweeper's claim unless another instance holds one that has not lapsed; false when it does (or won the race).</summary>
    private async Task<bool> TryClaimAsync(CustomerSweepState state, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return (state.SweepingUntil is not { } until || until <= now)
            && await store.TryWriteSweepAsync(state with { SweepingUntil = now + Options.SweepClaim }, state.Version, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lists the organization's customers into the directory now (<c>credits customers sync</c>), oldest first so that
    /// customers created meanwhile land on later pages instead of shifting earlier ones, continuing from the checkpoint of a
    /// stopped sweep. A customer deleted during the sweep can shift one customer past a page boundary: that customer is then
    /// read or created when a grant needs it, never misrouted. Takes the sweeper's claim even from another sweeper (an operator
    /// asked); reads at most <paramref name="maxPages"/> pages (null: to the end). Throws <see cref="PolarException"/> when Polar
    /// fails; what was listed stays recorded, and the next sweep continues from the last checkpoint.
    /// </summary>
    /// <param name="maxPages">Pages to read in this call at most; null to the end.</param>
    /// <param name="progress">Told after every few pages: pages read (of the whole sweep, including before a resume) and pages in all.</param>
    /// <param name="cancellationToken">Stops the sweep at the next checkpoint.</param>
    public async Task<CustomerSweep> SweepAsync(int? maxPages = null, IProgress<CustomerSweepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var state = await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);
        await store.TryWriteSweepAsync(state with { SweepingUntil = time.GetUtcNow() + Options.SweepClaim }, state.Version, cancellationToken)
            .ConfigureAwait(false);
        return await SweepClaimedAsync(null, maxPages, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Background work: continues (or starts) a sweep for at most <paramref name="maxPages"/> pages when no trusted sweep exists
    /// and no other instance is sweeping. Null when nothing was done: a trusted sweep exists, another instance holds the claim,
    /// or the directory is off.
    /// </summary>
    public async Task<CustomerSweep?> ContinueSweepAsync(int maxPages, CancellationToken cancellationToken = default)
    {
        if (!Enabled)
        {
            return null;
        }

        var state = await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);
        if (IsTrusted(state.CompletedAt) || !await TryClaimAsync(state, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return await SweepClaimedAsync(null, maxPages, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Where the sweep stands: the checkpoint of one under way, and the last complete one.</summary>
    public async Task<CustomerSweepState> SweepStateAsync(CancellationToken cancellationToken = default) =>
        await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);

    /// <param name="counted">The first page when it was just read (to count the organization), and when it was read.</param>
    /// <param name="maxPages">Pages to read in this call at most; null to the end.</param>
    /// <param name="progress">Told after each checkpoint.</param>
    /// <param name="cancellationToken">Stops the sweep; what was listed stays recorded, the checkpoint stands.</param>
    private async Task<CustomerSweep> SweepClaimedAsync((PolarPage<Customer> Page, DateTimeOffset ReadAt)? counted, int? maxPages,
        IProgress<CustomerSweepProgress>? progress, CancellationToken cancellationToken)
    {
        // A sweep serves no waiting caller: its requests stay within the budget's background share, whoever started it.
        using var background = CreditGrants.Polar.Budget.PolarTraffic.Background();
        try
        {
            return await SweepFromCheckpointAsync(counted, maxPages, progress, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Give the claim back, so that the next sweeper continues from the checkpoint without waiting for the claim to lapse.
            await ReleaseClaimAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<CustomerSweep> SweepFromCheckpointAsync((PolarPage<Customer> Page, DateTimeOffset ReadAt)? counted, int? maxPages,
        IProgress<CustomerSweepProgress>? progress, CancellationToken cancellationToken)
    {
        var state = await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);
        var resumed = state is { ResumeFromPage: > 1, ResumeStartedAt: not null };
        var started = resumed ? state.ResumeStartedAt!.Value : counted?.ReadAt ?? time.GetUtcNow();
        var next = resumed ? state.ResumeFromPage!.Value : 1;
        long total = state.CustomerCount ?? 0;
        var lastPage = resumed ? (int)Math.Max(next, (total + PageSize - 1) / PageSize) : 1;
        long customers = 0;
        var requests = 0;
        var budget = maxPages ?? int.MaxValue;
        if (resumed)
        {
            LogSweepResumed(next, lastPage);
        }
        else if (counted is null && IsTrusted(state.CountedAt) && state.CustomerCount is { } known && known > PageSize)
        {
            // The first page was read (and its customers recorded) when the organization was counted: the sweep starts then.
            started = state.CountedAt!.Value;
            lastPage = (int)((known + PageSize - 1) / PageSize);
            next = 2;
            await CheckpointAsync(next, started, total, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var first = counted?.Page ?? await ListPageAsync(1, cancellationToken).ConfigureAwait(false);
            customers = first.Items.Count;
            requests = 1;
            total = first.Pagination.TotalCount;
            lastPage = Math.Max(1, first.Pagination.MaxPage);
            next = 2;
            await CheckpointAsync(next, started, total, cancellationToken).ConfigureAwait(false);
        }

        progress?.Report(new CustomerSweepProgress(next - 1, lastPage));
        while (next <= lastPage && requests < budget)
        {
            var batch = Enumerable.Range(next, Math.Min(Math.Min(Options.SweepConcurrency, lastPage - next + 1), budget - requests)).ToList();
            var seenLast = lastPage;
            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = Options.SweepConcurrency, CancellationToken = cancellationToken },
                async (page, ct) =>
                {
                    var result = await ListPageAsync(page, ct).ConfigureAwait(false);
                    Interlocked.Add(ref customers, result.Items.Count);
                    Interlocked.Increment(ref requests);
                    // Customers created meanwhile lengthen the list: their pages are read too.
                    InterlockedMax(ref seenLast, result.Pagination.MaxPage);
                }).ConfigureAwait(false);
            next += batch.Count;
            lastPage = seenLast;
            await CheckpointAsync(next, started, total, cancellationToken).ConfigureAwait(false);
            progress?.Report(new CustomerSweepProgress(next - 1, lastPage));
        }

        if (next <= lastPage)
        {
            await ReleaseClaimAsync().ConfigureAwait(false);
            LogSweepPaused(next - 1, lastPage, requests);
            return new CustomerSweep(customers, requests, started) { Complete = false, PagesRead = next - 1, Pages = lastPage };
        }

        await FinishSweepAsync(started, total, cancellationToken).ConfigureAwait(false);
        LogSwept(customers, requests);
        return new CustomerSweep(customers, requests, started) { Complete = true, PagesRead = lastPage, Pages = lastPage };
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
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
            await UpdateSweepAsync(s => s with { SweepingUntil = null }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Best effort: the claim lapses by itself.
            LogStoreFailed("update", ex.GetType().Name, ex.Message);
        }
    }

    /// <summary>Records how far the sweep got (the next page to read) and renews the claim.</summary>
    private Task CheckpointAsync(int nextPage, DateTimeOffset started, long count, CancellationToken cancellationToken) =>
        UpdateSweepAsync(s => s with
        {
            ResumeFromPage = nextPage,
            ResumeStartedAt = started,
            CustomerCount = count,
            CountedAt = s.CountedAt ?? started,
            SweepingUntil = time.GetUtcNow() + Options.SweepClaim,
        }, cancellationToken);

    private Task FinishSweepAsync(DateTimeOffset started, long count, CancellationToken cancellationToken) =>
        UpdateSweepAsync(s => new CustomerSweepState(s.CompletedAt is { } earlier && earlier > started ? earlier : started, count, started, null, s.Version)
        {
            FinishedAt = time.GetUtcNow(),
        }, cancellationToken);

    /// <summary>Applies a change to the sweep bookkeeping against the version it read, reading again when another writer was first.</summary>
    private async Task UpdateSweepAsync(Func<CustomerSweepState, CustomerSweepState> change, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var state = await store.ReadSweepAsync(cancellationToken).ConfigureAwait(false);
            if (await store.TryWriteSweepAsync(change(state), state.Version, cancellationToken).ConfigureAwait(false))
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Sweeping the customer list ({Why}); the list has {Pages} pages")]
    private partial void LogSweepChosen(string why, long pages);

    [LoggerMessage(Level = LogLevel.Information, Message = "Customer sweep resumed at page {Page} of {Pages}")]
    private partial void LogSweepResumed(int page, int pages);

    [LoggerMessage(Level = LogLevel.Information, Message = "Customer sweep paused after page {Page} of {Pages} ({Requests} requests in this call); it continues from there")]
    private partial void LogSweepPaused(int page, int pages, int requests);

    [LoggerMessage(Level = LogLevel.Information, Message = "Customer directory swept: {Customers} customers in {Requests} requests")]
    private partial void LogSwept(long customers, int requests);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Another instance's customer sweep did not finish within {Wait}; looking customers up one by one")]
    private partial void LogSweepWaitOver(TimeSpan wait);
}
