using System.Text;
using CreditGrants.Bulk;
using CreditGrants.Customers;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Tests;

/// <summary>The customer directory (issue #12): sweeps, freshness, stale entries, storage failures and the requests it saves.</summary>
public sealed partial class CustomerDirectoryTests : IDisposable
{
    private static readonly TimeSpan TrustFor = TimeSpan.FromHours(1);
    private readonly FakePolarGateway _polar = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryCustomerDirectoryStore _store = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("directory-test-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private CustomerDirectory Directory_(IPolarGateway? polar = null, ICustomerDirectoryStore? store = null, TimeSpan? trustFor = null,
        TimeProvider? time = null, TimeSpan? sweepClaim = null, TimeSpan? sweepWait = null) =>
        new(store ?? _store, polar ?? _polar, time ?? _time, Options.Create(new CustomerDirectoryOptions
        {
            TrustFor = trustFor ?? TrustFor,
            SweepClaim = sweepClaim ?? TimeSpan.FromMinutes(5),
            SweepWait = sweepWait ?? TimeSpan.FromMinutes(10),
        }), NullLogger<CustomerDirectory>.Instance);

    private List<Customer> AddCustomers(int count) =>
        [.. Enumerable.Range(0, count).Select(i => _polar.AddCustomer($"user{i}@example.com", $"user-{i}"))];

    private GrantService Service(CustomerDirectory directory) => new(_polar, directory, _time, NullLogger<GrantService>.Instance);

    private static CreditGrant Grant(string grantId, string externalId, string? email = null) =>
        new(new GrantId(grantId), CustomerRef.External(externalId, email), 10, "API Calls", null, "test");

    private async Task<(BulkSummary Summary, string[] Results)> RunBulkAsync(CustomerDirectory directory, string csv, bool requireExisting = false,
        bool dryRun = false)
    {
        var processor = new BulkChunkProcessor(_polar, directory, _time, NullLogger<BulkChunkProcessor>.Instance);
        var runner = new BulkRunner(processor, new GrantValidator(new GrantOptions()), Options.Create(new BulkOptions { ChunkRows = 1000 }));
        var input = Path.Combine(_folder, Guid.NewGuid().ToString("N") + ".csv");
        var output = input + ".results.csv";
        await File.WriteAllTextAsync(input, csv, Encoding.UTF8);
        var summary = await runner.RunFileAsync(input, output, new BulkRun(new BulkDefaults(), "test", dryRun, requireExisting), progress: null);
        return (summary, await File.ReadAllLinesAsync(output));
    }

    /// <summary>Moves the fake clock on in the directory's two-second polls until the task ends.</summary>
    private async Task RunClockUntilAsync(Task task)
    {
        while (!task.IsCompleted)
        {
            _time.Advance(TimeSpan.FromSeconds(2));
            await Task.Delay(5);
        }
    }

    private void Delete(Customer customer)
    {
        _polar.Customers.Remove(customer);
    }

    // 1. Sweep

    [Fact]
    public async Task A_sweep_records_every_customer_with_its_polar_id_in_one_list_request_per_100_customers()
    {
        var customers = AddCustomers(250);
        var directory = Directory_();

        var sweep = await directory.SweepAsync();

        Assert.Equal((250L, 3), (sweep.Customers, sweep.Requests));
        Assert.Equal(3, _polar.ListCalls);
        Assert.Equal(250, _store.Count);
        var known = await directory.KnownAsync([.. customers.Select(c => c.ExternalId!)]);
        Assert.All(customers, c => Assert.Equal(c.Id, known[c.ExternalId!].CustomerId));
    }

    [Fact]
    public async Task A_sweep_chosen_because_it_is_cheaper_costs_one_list_request_per_100_customers()
    {
        AddCustomers(250);
        var directory = Directory_();

        Assert.Equal(SweepOutcome.Complete, await directory.SweepIfCheaperAsync(expectedLookups: 1000));

        Assert.Equal(250, _store.Count);
        Assert.Equal(3, _polar.ListCalls);
    }

    [Fact]
    public async Task The_list_is_swept_only_when_more_customers_are_unknown_than_it_has_pages()
    {
        AddCustomers(250);
        var directory = Directory_();

        Assert.Equal(SweepOutcome.NotNeeded, await directory.SweepIfCheaperAsync(expectedLookups: 3));
        var afterCount = _polar.ListCalls;
        Assert.Equal(SweepOutcome.NotNeeded, await directory.SweepIfCheaperAsync(expectedLookups: 2));
        Assert.Equal(SweepOutcome.Complete, await directory.SweepIfCheaperAsync(expectedLookups: 4));

        Assert.Equal(1, afterCount); // counting the organization reads the first page only
        Assert.Equal(250, _store.Count);
    }

    [Fact]
    public async Task A_complete_sweep_is_not_repeated_while_it_is_trusted_and_is_repeated_after()
    {
        AddCustomers(150);
        var directory = Directory_();
        await directory.SweepAsync();
        var calls = _polar.ListCalls;

        _time.Advance(TrustFor - TimeSpan.FromMinutes(1));
        Assert.Equal(SweepOutcome.NotNeeded, await directory.SweepIfCheaperAsync(expectedLookups: 1000));
        Assert.Equal(calls, _polar.ListCalls);

        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(SweepOutcome.Complete, await directory.SweepIfCheaperAsync(expectedLookups: 1000));
        Assert.True(_polar.ListCalls >= calls + 2);
    }

    [Fact]
    public async Task A_second_instance_waits_for_a_running_sweep_instead_of_sweeping_too()
    {
        AddCustomers(250);
        var slow = new GatedGateway(_polar) { GateFromPage = 2 };
        var watched = new WatchedStore(_store);
        var first = Directory_(slow, time: TimeProvider.System);
        var secondGateway = new GatedGateway(_polar);
        var second = Directory_(secondGateway, watched, time: TimeProvider.System);

        var sweeping = first.SweepIfCheaperAsync(expectedLookups: 1000);
        await slow.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var waiting = second.SweepIfCheaperAsync(expectedLookups: 1000);
        await watched.ReadsAtLeast(2).WaitAsync(TimeSpan.FromSeconds(30)); // it saw the claim, in its waiting loop
        slow.Open.SetResult();

        Assert.Equal(SweepOutcome.Complete, await sweeping);
        Assert.Equal(SweepOutcome.Complete, await waiting);
        Assert.Equal(0, secondGateway.ListCalls);
        Assert.Equal(250, _store.Count);
        Assert.Equal(3, slow.ListCalls); // the count's page is the sweep's first
    }

    [Fact]
    public async Task A_crashed_sweepers_claim_lapses_and_another_instance_sweeps()
    {
        AddCustomers(150);
        var crashed = await _store.ReadSweepAsync();
        Assert.True(await _store.TryWriteSweepAsync(crashed with { SweepingUntil = _time.GetUtcNow() + TimeSpan.FromMinutes(1) }, crashed.Version));
        var directory = Directory_(sweepClaim: TimeSpan.FromMinutes(1));

        var sweeping = directory.SweepIfCheaperAsync(expectedLookups: 1000);
        await RunClockUntilAsync(sweeping);

        Assert.Equal(SweepOutcome.Complete, await sweeping);
        Assert.Equal(150, _store.Count);
        Assert.NotNull((await _store.ReadSweepAsync()).CompletedAt);
    }

    [Fact]
    public async Task An_instance_stops_waiting_for_a_sweep_that_outlasts_its_wait_and_sweeps_nothing()
    {
        AddCustomers(150);
        var other = await _store.ReadSweepAsync();
        Assert.True(await _store.TryWriteSweepAsync(other with { SweepingUntil = _time.GetUtcNow() + TimeSpan.FromHours(1) }, other.Version));
        var directory = Directory_(sweepWait: TimeSpan.FromMinutes(1));

        var sweeping = directory.SweepIfCheaperAsync(expectedLookups: 1000);
        await RunClockUntilAsync(sweeping);

        Assert.Equal(SweepOutcome.InProgress, await sweeping); // worth it, but another instance holds the sweep
        Assert.Equal(1, _polar.ListCalls); // the count only
    }

    // 2. Freshness

    [Fact]
    public async Task An_entry_is_trusted_until_TrustFor_then_read_again_once_and_refreshed()
    {
        var customer = _polar.AddCustomer("ada@example.com", "ada");
        var directory = Directory_();
        var service = Service(directory);
        await service.GrantAsync(Grant("g-1", "ada"));
        Assert.Equal(1, _polar.FindCalls);

        _time.Advance(TrustFor - TimeSpan.FromSeconds(1));
        await service.GrantAsync(Grant("g-2", "ada"));
        Assert.Equal(1, _polar.FindCalls);

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Empty(await directory.KnownAsync(["ada"]));
        await service.GrantAsync(Grant("g-3", "ada"));
        Assert.Equal(2, _polar.FindCalls);
        var refreshed = Assert.Single(await directory.KnownAsync(["ada"])).Value;
        Assert.Equal((customer.Id, _time.GetUtcNow()), (refreshed.CustomerId, refreshed.ConfirmedAt));
        await service.GrantAsync(Grant("g-4", "ada"));
        Assert.Equal(2, _polar.FindCalls);
    }

    [Fact]
    public async Task TrustFor_zero_turns_the_directory_off()
    {
        var customer = _polar.AddCustomer("ada@example.com", "ada");
        var directory = Directory_(trustFor: TimeSpan.Zero);
        var service = Service(directory);

        await directory.RememberAsync([customer]);
        await service.GrantAsync(Grant("g-1", "ada"));
        await service.GrantAsync(Grant("g-2", "ada"));

        Assert.False(directory.Enabled);
        Assert.Equal(0, _store.Count);
        Assert.Empty(await directory.KnownAsync(["ada"]));
        Assert.Equal(2, _polar.FindCalls);
        Assert.Equal(SweepOutcome.NotNeeded, await directory.SweepIfCheaperAsync(expectedLookups: 1000));
        Assert.Equal(0, _polar.ListCalls);
    }

    // 3. Stale entries

    [Fact]
    public async Task A_trusted_entry_of_a_deleted_customer_never_sends_a_grant_to_it()
    {
        var deleted = _polar.AddCustomer("old@example.com", "x");
        var directory = Directory_();
        await directory.RememberAsync([deleted]);
        Delete(deleted);
        var holder = _polar.AddCustomer("new@example.com", "x");

        var outcome = await Service(directory).GrantAsync(Grant("g-http", "x"));
        var (summary, _) = await RunBulkAsync(directory, "external_customer_id,grant_id,units\nx,g-bulk,5\n");

        Assert.Equal(1L, summary.Granted);
        Assert.Equal(2, _polar.Ingested.Count);
        Assert.All(_polar.Ingested, e => Assert.Equal(("x", (Guid?)null), (e.ExternalCustomerId, e.CustomerId)));
        Assert.NotEqual(deleted.Id, outcome.CustomerId); // the response never names the deleted customer as the one credited
        Assert.True(outcome.CustomerExists);
        Assert.Equal(0, _polar.FindCalls + _polar.CreateCalls);
        _ = holder;
    }

    [Fact]
    public async Task After_TrustFor_a_deleted_customers_id_is_checked_again_and_its_rows_are_flagged_or_rejected()
    {
        var deleted = _polar.AddCustomer("old@example.com", "gone");
        _polar.AddCustomer("kept@example.com", "kept");
        var directory = Directory_();
        await directory.RememberAsync([.. _polar.Customers]);
        Delete(deleted);
        _time.Advance(TrustFor + TimeSpan.FromSeconds(1));
        const string Csv = "external_customer_id,grant_id,units\ngone,g-1,5\nkept,g-2,5\n";

        var (dry, dryResults) = await RunBulkAsync(directory, Csv.Replace("g-", "d-", StringComparison.Ordinal), dryRun: true);
        var (flagged, flaggedResults) = await RunBulkAsync(directory, Csv);
        var (strict, strictResults) = await RunBulkAsync(directory, Csv.Replace("g-", "s-", StringComparison.Ordinal), requireExisting: true);

        Assert.Equal(1L, dry.AwaitingCustomer);
        Assert.Contains("no Polar customer has external id 'gone' yet", dryResults[1], StringComparison.Ordinal);
        Assert.Equal((2L, 1L), (flagged.Granted, flagged.AwaitingCustomer));
        Assert.Contains(",granted,no Polar customer has external id 'gone' yet", flaggedResults[1], StringComparison.Ordinal);
        Assert.Contains("within 180 minutes", flaggedResults[1], StringComparison.Ordinal);
        Assert.EndsWith(",granted,", flaggedResults[2], StringComparison.Ordinal);
        Assert.Equal((1L, 1L, 0L), (strict.Granted, strict.Rejected, strict.AwaitingCustomer));
        Assert.Contains(",rejected,", strictResults[1], StringComparison.Ordinal);
        Assert.Contains("create the customer first", strictResults[1], StringComparison.Ordinal);
        Assert.DoesNotContain(_polar.Ingested, e => e.Metadata!["grant_id"].GetString() == "s-1");
        Assert.Contains(_polar.Ingested, e => e.Metadata!["grant_id"].GetString() == "s-2");
        Assert.Empty(await directory.KnownAsync(["gone"]));
    }

    // 6. Request economy

    [Fact]
    public async Task Bulk_rows_with_emails_to_customers_the_directory_knows_cost_no_customer_request()
    {
        var customers = AddCustomers(5);
        var directory = Directory_();
        await directory.RememberAsync(customers);
        var csv = "external_customer_id,email,units\n" + string.Concat(customers.Select(c => $"{c.ExternalId},{c.Email},3\n"));

        var (summary, _) = await RunBulkAsync(directory, csv);

        Assert.Equal(5L, summary.Granted);
        Assert.Equal((0, 0, 0), (_polar.CreateCalls, _polar.FindCalls, _polar.ListCalls));
    }

    [Fact]
    public async Task A_grant_to_a_known_customer_costs_no_customer_request_and_the_first_one_does()
    {
        _polar.AddCustomer("ada@example.com", "ada");
        var service = Service(Directory_());

        await service.GrantAsync(Grant("g-1", "ada", "ada@example.com"));
        var first = _polar.FindCalls + _polar.CreateCalls;
        await service.GrantAsync(Grant("g-2", "ada", "ada@example.com"));

        Assert.Equal(1, first);
        Assert.Equal(first, _polar.FindCalls + _polar.CreateCalls);
        Assert.Equal(2, _polar.Ingested.Count);
    }

    // 7. Storage failure

    [Fact]
    public async Task A_directory_whose_storage_fails_still_lets_grants_and_bulk_rows_succeed()
    {
        var customers = AddCustomers(3);
        var directory = Directory_(store: new FailingStore());
        var service = Service(directory);

        var outcome = await service.GrantAsync(Grant("g-1", "user-0"));
        await service.GrantAsync(Grant("g-2", "user-0"));
        var (summary, _) = await RunBulkAsync(directory, "external_customer_id,units\nuser-1,5\nuser-2,5\nnobody,5\n");

        Assert.Equal(GrantStatus.Granted, outcome.Status);
        Assert.Equal(customers[0].Id, outcome.CustomerId);
        // A few unknown ids are read (a request each), so the typo is told apart even without the directory.
        Assert.Equal((3L, 1L, 0L), (summary.Granted, summary.AwaitingCustomer, summary.Unchecked));
        Assert.Equal(5, _polar.FindCalls);
        Assert.Equal(SweepOutcome.NotNeeded, await directory.SweepIfCheaperAsync(expectedLookups: 1000));
        Assert.Equal(0, _polar.ListCalls);
    }

    /// <summary>Delegates to the fake gateway; list requests for pages from <see cref="GateFromPage"/> wait for <see cref="Open"/>.</summary>
    private sealed class GatedGateway(IPolarGateway inner) : IPolarGateway
    {
        public int GateFromPage { get; init; } = int.MaxValue;

        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Open { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private int _listCalls;

        public int ListCalls => _listCalls;

        /// <summary>The page whose list request fails (once), as a network failure or a stopped process would.</summary>
        public int FailAtPage { get; set; } = int.MaxValue;

        private int _backgroundListCalls;

        /// <summary>List requests made outside an interactive flow (what the request budget holds to its background share).</summary>
        public int BackgroundListCalls => _backgroundListCalls;

        public async Task<PolarPage<Customer>> ListCustomersAsync(CustomerListQuery query, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _listCalls);
            if (!CreditGrants.Polar.Budget.PolarTraffic.IsInteractive)
            {
                Interlocked.Increment(ref _backgroundListCalls);
            }

            if (query.Page == FailAtPage)
            {
                FailAtPage = int.MaxValue;
                throw new IOException($"page {query.Page} failed");
            }

            if (query.Page >= GateFromPage)
            {
                Reached.TrySetResult();
                await Open.Task.WaitAsync(cancellationToken);
            }

            return await inner.ListCustomersAsync(query, cancellationToken);
        }

        public Task<Customer?> FindCustomerByExternalIdAsync(string externalId, CancellationToken cancellationToken = default) =>
            inner.FindCustomerByExternalIdAsync(externalId, cancellationToken);

        public Task<Customer?> FindCustomerByEmailAsync(string email, CancellationToken cancellationToken = default) =>
            inner.FindCustomerByEmailAsync(email, cancellationToken);

        public Task<Customer> GetCustomerAsync(Guid customerId, CancellationToken cancellationToken = default) => inner.GetCustomerAsync(customerId, cancellationToken);

        public Task<Customer> CreateCustomerAsync(CustomerCreate customer, CancellationToken cancellationToken = default) =>
            inner.CreateCustomerAsync(customer, cancellationToken);

        public Task<Meter?> FindMeterAsync(string name, CancellationToken cancellationToken = default) => inner.FindMeterAsync(name, cancellationToken);

        public Task<GrantTarget> GetGrantTargetAsync(string meterName, CancellationToken cancellationToken = default) =>
            inner.GetGrantTargetAsync(meterName, cancellationToken);

        public Task<(Meter Meter, bool Created)> EnsureMeterAsync(string name, string eventName, string sumProperty, CancellationToken cancellationToken = default) =>
            inner.EnsureMeterAsync(name, eventName, sumProperty, cancellationToken);

        public Task<IngestReport> IngestAsync(IReadOnlyList<PolarEvent> events, CancellationToken cancellationToken = default) =>
            inner.IngestAsync(events, cancellationToken);

        public Task<EventLookup> FindEventsByMetadataAsync(string key, IReadOnlyCollection<string> values, CancellationToken cancellationToken = default) =>
            inner.FindEventsByMetadataAsync(key, values, cancellationToken);

        public Task<CustomerMeter?> GetCustomerMeterAsync(Guid customerId, Guid meterId, CancellationToken cancellationToken = default) =>
            inner.GetCustomerMeterAsync(customerId, meterId, cancellationToken);
    }

    /// <summary>The shared store, telling a test when its instance has read the sweep state a number of times.</summary>
    private sealed class WatchedStore(ICustomerDirectoryStore inner) : ICustomerDirectoryStore
    {
        private readonly Lock _lock = new();
        private readonly List<(int Reads, TaskCompletionSource Signal)> _waiters = [];
        private int _reads;

        public Task ReadsAtLeast(int reads)
        {
            lock (_lock)
            {
                var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_reads >= reads)
                {
                    signal.SetResult();
                }
                else
                {
                    _waiters.Add((reads, signal));
                }

                return signal.Task;
            }
        }

        public async Task<CustomerSweepState> ReadSweepAsync(CancellationToken cancellationToken = default)
        {
            var state = await inner.ReadSweepAsync(cancellationToken);
            lock (_lock)
            {
                _reads++;
                foreach (var waiter in _waiters.Where(w => w.Reads <= _reads))
                {
                    waiter.Signal.TrySetResult();
                }
            }

            return state;
        }

        public Task<IReadOnlyDictionary<string, CustomerDirectoryEntry>> FindAsync(IReadOnlyCollection<string> externalIds, CancellationToken cancellationToken = default) =>
            inner.FindAsync(externalIds, cancellationToken);

        public Task SaveAsync(IReadOnlyCollection<CustomerDirectoryEntry> entries, CancellationToken cancellationToken = default) =>
            inner.SaveAsync(entries, cancellationToken);

        public Task ForgetAsync(string externalId, CancellationToken cancellationToken = default) => inner.ForgetAsync(externalId, cancellationToken);

        public Task<bool> TryWriteSweepAsync(CustomerSweepState state, string? expectedVersion, CancellationToken cancellationToken = default) =>
            inner.TryWriteSweepAsync(state, expectedVersion, cancellationToken);
    }

    /// <summary>A store whose storage is unreachable: every call throws.</summary>
    private sealed class FailingStore : ICustomerDirectoryStore
    {
        private static InvalidOperationException Down() => new("storage unreachable");

        public Task<IReadOnlyDictionary<string, CustomerDirectoryEntry>> FindAsync(IReadOnlyCollection<string> externalIds, CancellationToken cancellationToken = default) =>
            throw Down();

        public Task SaveAsync(IReadOnlyCollection<CustomerDirectoryEntry> entries, CancellationToken cancellationToken = default) => throw Down();

        public Task ForgetAsync(string externalId, CancellationToken cancellationToken = default) => throw Down();

        public Task<CustomerSweepState> ReadSweepAsync(CancellationToken cancellationToken = default) => throw Down();

        public Task<bool> TryWriteSweepAsync(CustomerSweepState state, string? expectedVersion, CancellationToken cancellationToken = default) => throw Down();
    }
}
