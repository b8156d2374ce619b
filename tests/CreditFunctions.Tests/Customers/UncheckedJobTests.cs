using CreditFunctions.Tests.Bulk;
using CreditGrants.Storage.Bulk;
using PolarEmulator;

namespace CreditFunctions.Tests.Customers;

/// <summary>
/// Issue #19 in the app: a job's rows to customers the directory does not know are granted unchecked at no lookup; the job
/// then sweeps the customer list in the background, a slice per queue message, and settles them (counts and results file)
/// without granting anything again. Rows that need lookups wait for a sweep that is cheaper instead of creating one by one.
/// </summary>
public sealed class UncheckedJobTests : IAsyncLifetime
{
    /// <summary>26 pages of customers: over the 24 learned inline.</summary>
    private const int Customers = 2_600;

    private readonly string _table = "directory" + Guid.NewGuid().ToString("N")[..12];
    private BulkApp _app = null!;

    public async Task InitializeAsync() => _app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = Customers },
        settings: new Dictionary<string, string?>
        {
            ["CustomerDirectory:Table"] = _table,
            ["CustomerDirectory:MaxSweepPages"] = "10",
            ["CustomerDirectory:SweepRecheck"] = "00:00:00",
        });

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await new Azure.Data.Tables.TableClient(BulkApp.StorageConnection, _table).DeleteAsync();
    }

    [Fact]
    public async Task Unchecked_rows_are_settled_after_a_background_sweep_in_slices_and_nothing_is_granted_twice()
    {
        var csv = "external_customer_id,units\n" + string.Concat(Enumerable.Range(2001, 50).Select(i => $"user-{i},5\n")) + "typo-user-2007,5\n";
        var submission = await _app.SubmitAsync(csv);
        var customerReads = _app.Emulator.RequestCountOf("GET /v1/customers/external");
        // Customers past the first page: the count's page (the oldest 100) does not vouch for them.

        var deliveries = await _app.DrainAsync();

        var status = await _app.StatusAsync(submission.JobId);
        Assert.Equal(BulkJobState.Completed, status.Status);
        Assert.Equal(51L, status.Totals.Granted);
        Assert.Equal((0L, 1L), (status.Totals.Unchecked, status.Totals.AwaitingCustomer));
        Assert.NotNull(status.UncheckedSettledAt);
        Assert.True(status.UncheckedSettledAt >= status.FinishedAt);
        Assert.Equal(51, _app.Emulator.EventCount);
        Assert.Equal(customerReads, _app.Emulator.RequestCountOf("GET /v1/customers/external"));
        // 26 pages, 10 a message: three settle messages, no failure.
        Assert.Equal(3, deliveries.Count(d => d.Kind == "settle"));
        Assert.All(deliveries, d => Assert.Null(d.Error));

        var results = Csv.Results(await _app.ResultsAsync(status));
        Assert.Equal(51, results.Count);
        Assert.DoesNotContain(results, r => r["status"] == "unchecked");
        var typo = Assert.Single(results, r => r["external_customer_id"] == "typo-user-2007");
        Assert.Equal("granted", typo["status"]);
        Assert.Contains("no Polar customer has external id 'typo-user-2007' yet", typo["reason"], StringComparison.Ordinal);
        Assert.Equal("", Assert.Single(results, r => r["external_customer_id"] == "user-2007")["reason"]);
    }

    [Fact]
    public async Task Before_the_sweep_ends_the_status_shows_the_rows_unchecked_and_how_far_the_sweep_got()
    {
        // More unknown ids than are read inline (10), past the count's page.
        var submission = await _app.SubmitAsync("external_customer_id,units\n" + string.Concat(Enumerable.Range(2001, 20).Select(i => $"user-{i},5\n")) + "nobody,5\n");
        // Plan, chunk, then the first settle message only.
        for (var i = 0; i < 3; i++)
        {
            foreach (var message in await _app.ReceiveAsync())
            {
                await _app.DeliverAsync(message);
            }
        }

        var status = await _app.StatusAsync(submission.JobId);
        Assert.Equal(21L, status.Totals.Unchecked);
        Assert.Null(status.UncheckedSettledAt);
        Assert.NotNull(status.CustomerSweep);
        Assert.Equal((11, 26), (status.CustomerSweep!.PagesRead, status.CustomerSweep.Pages)); // the count's page, then a slice of 10
        var results = Csv.Results(await _app.ResultsAsync(status));
        Assert.All(results, r => Assert.Equal("unchecked", r["status"]));
    }

    [Fact]
    public async Task A_chunk_whose_customers_need_a_cheaper_sweep_waits_for_it_and_creates_only_new_customers()
    {
        var csv = "external_customer_id,email,units\n" + string.Concat(Enumerable.Range(2001, 60).Select(i => $"user-{i},user-{i}@bench.dev,5\n"))
            + "brand-new,new@lovelace.dev,5\n";
        var submission = await _app.SubmitAsync(csv);

        var deliveries = await _app.DrainAsync();

        var status = await _app.StatusAsync(submission.JobId);
        Assert.Empty(Csv.Results(await _app.ResultsAsync(status)).Where(r => r["status"] != "granted").Select(r => r["line"] + ": " + r["reason"]));
        Assert.Equal((61L, 0L, (long?)null), (status.Totals.Granted, status.Totals.Rejected, status.Totals.Unchecked));
        Assert.True(deliveries.Count(d => d.Kind == "chunk") >= 3, "the chunk was taken up again while the sweep went on");
        Assert.All(deliveries, d => Assert.Null(d.Error));
        Assert.Equal(1, _app.Emulator.RequestCountOf("POST /v1/customers"));
        Assert.Equal(61, _app.Emulator.EventCount);
    }
}
