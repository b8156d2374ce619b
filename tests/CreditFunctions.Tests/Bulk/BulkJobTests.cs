using System.Text;
using CreditGrants.Bulk;
using CreditGrants.Storage.Bulk;
using PolarEmulator;

namespace CreditFunctions.Tests.Bulk;

/// <summary>A bulk job from upload to results file, against Azurite and the Polar emulator.</summary>
public sealed class BulkJobTests : IAsyncLifetime
{
    private const int Customers = 100;
    private BulkApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = Customers });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_10000_row_file_ends_with_exact_balances()
    {
        var (csv, expected) = Csv.Grants(rows: 10_000, customers: Customers);

        var submission = await _app.SubmitAsync(csv);
        var deliveries = await _app.DrainAsync();

        Assert.True(submission.Created);
        Assert.All(deliveries, d => Assert.Null(d.Error));
        Assert.Equal(1 + 10, deliveries.Count);
        var status = await _app.StatusAsync(submission.JobId);
        Assert.Equal(BulkJobState.Completed, status.Status);
        Assert.Equal(new BulkJobTotals(10_000, 10_000, 0, null, 0, 0, 0), status.Totals);
        Assert.Equal(expected.Values.Sum(), status.UnitsGranted);
        Assert.Equal(10, status.ChunksDone);
        foreach (var (customer, units) in expected)
        {
            Assert.Equal(units, await _app.BalanceAsync(customer));
        }
    }

    [Fact]
    public async Task The_results_file_has_the_header_once_and_every_row_in_file_order()
    {
        var (csv, _) = Csv.Grants(rows: 2_500, customers: Customers);
        var submission = await _app.SubmitAsync(csv);
        await _app.DrainAsync();

        var status = await _app.StatusAsync(submission.JobId);
        var results = Csv.Results(await _app.ResultsAsync(status));

        Assert.Equal(BulkStore.ResultsBlobName(submission.JobId), status.Results!.Blob);
        Assert.Equal(_app.Names.Results, status.Results.Container);
        Assert.Equal(Enumerable.Range(2, 2_500).Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)), results.Select(r => r["line"]));
        Assert.All(results, r => Assert.Equal("granted", r["status"]));
    }

    [Fact]
    public async Task The_same_file_again_is_the_same_job_and_starts_nothing()
    {
        var (csv, expected) = Csv.Grants(rows: 1_500, customers: Customers);
        var first = await _app.SubmitAsync(csv);
        await _app.DrainAsync();
        var requests = _app.Emulator.RequestCount;

        var second = await _app.SubmitAsync(csv);
        var deliveries = await _app.DrainAsync();

        Assert.Equal(first.JobId, second.JobId);
        Assert.False(second.Created);
        Assert.Equal(BulkJobState.Completed, second.Status);
        Assert.Empty(deliveries);
        Assert.Equal(requests, _app.Emulator.RequestCount);
        Assert.Equal(expected["user-1"], await _app.BalanceAsync("user-1"));
    }

    [Fact]
    public async Task The_same_file_with_other_defaults_is_another_job_whose_rows_are_all_duplicates()
    {
        var (csv, expected) = Csv.Grants(rows: 1_500, customers: Customers);
        var first = await _app.SubmitAsync(csv, new BulkDefaults(Reason: "spring promotion"));
        await _app.DrainAsync();

        var second = await _app.SubmitAsync(csv, new BulkDefaults(Reason: "spring promotion, again"));
        await _app.DrainAsync();

        Assert.NotEqual(first.JobId, second.JobId);
        var status = await _app.StatusAsync(second.JobId);
        Assert.Equal(new BulkJobTotals(1_500, 0, 1_500, null, 0, 0, 0), status.Totals);
        Assert.Equal(0m, status.UnitsGranted);
        foreach (var customer in new[] { "user-1", "user-50", "user-100" })
        {
            Assert.Equal(expected[customer], await _app.BalanceAsync(customer));
        }
    }

    [Fact]
    public async Task Bad_rows_are_rejected_with_line_column_and_value_and_the_others_granted()
    {
        const string csv = """
            external_customer_id,units,email
            user-1,10,
            user-2,ten,
            ,5,
            user-3,0,
            user-4,7,not-an-email
            user-5,3,
            """;

        var submission = await _app.SubmitAsync(csv);
        await _app.DrainAsync();

        var status = await _app.StatusAsync(submission.JobId);
        Assert.Equal(BulkJobState.CompletedWithErrors, status.Status);
        Assert.Equal(new BulkJobTotals(6, 2, 0, null, 4, 0, 0), status.Totals);
        var results = Csv.Results(await _app.ResultsAsync(status)).ToDictionary(r => r["line"]);
        Assert.Equal("granted", results["2"]["status"]);
        Assert.Equal("granted", results["7"]["status"]);
        Assert.All(new[] { "3", "4", "5", "6" }, line => Assert.Equal("rejected", results[line]["status"]));
        Assert.StartsWith("line 3, column units, value 'ten':", results["3"]["reason"], StringComparison.Ordinal);
        Assert.StartsWith("line 4, column external_customer_id/customer_id:", results["4"]["reason"], StringComparison.Ordinal);
        Assert.StartsWith("line 5, column units, value '0':", results["5"]["reason"], StringComparison.Ordinal);
        Assert.StartsWith("line 6, column email, value 'not-an-email':", results["6"]["reason"], StringComparison.Ordinal);
        Assert.Equal(10m, await _app.BalanceAsync("user-1"));
        Assert.Equal(0m, await _app.BalanceAsync("user-2"));
    }

    [Theory]
    [InlineData("=HYPERLINK(\"\"http://x\"\")")]
    [InlineData("+SUM(A1)")]
    [InlineData("-SUM(A1)")]
    [InlineData("@SUM(A1)")]
    public async Task Results_cells_a_spreadsheet_would_run_are_neutralized(string customer)
    {
        var submission = await _app.SubmitAsync($"external_customer_id,units\n\"{customer}\",5\n");
        await _app.DrainAsync();

        var results = Csv.Results(await _app.ResultsAsync(await _app.StatusAsync(submission.JobId)));

        Assert.Equal("'" + customer.Replace("\"\"", "\"", StringComparison.Ordinal), Assert.Single(results)["external_customer_id"]);
    }

    [Fact]
    public async Task A_file_with_a_header_and_no_rows_is_refused_at_upload_and_starts_no_job()
    {
        var error = await Assert.ThrowsAsync<BulkFileException>(() => _app.SubmitAsync("external_customer_id,units\n,\n\n"));

        Assert.Contains("no rows to grant", error.Message, StringComparison.Ordinal);
        var queued = await _app.Store.Queue.PeekMessagesAsync(maxMessages: 32);
        Assert.Empty(queued.Value);
    }

    [Fact]
    public async Task Messages_carry_byte_ranges_not_rows()
    {
        // 3,000 rows whose grant ids all repeat one earlier row's: every chunk lists 1,000 duplicate lines.
        var csv = new StringBuilder("external_customer_id,units,grant_id\nuser-1,1,same-id\n");
        for (var i = 0; i < 3_000; i++)
        {
            csv.Append("user-2,1,same-id\n");
        }

        var submission = await _app.SubmitAsync(csv.ToString());
        await _app.DrainAsync();

        var chunks = _app.Received.Select(m => BulkMessage.Parse(m.Body)).Where(m => m.Kind == BulkMessage.ChunkKind).ToList();
        Assert.Equal(4, chunks.Count);
        Assert.All(_app.Received, m => Assert.True(m.Body.ToArray().Length < 16 * 1024, $"a message of {m.Body.ToArray().Length} bytes"));
        Assert.All(chunks, m => Assert.Equal(submission.JobId, m.JobId));
        Assert.Equal(3_000, chunks.Sum(m => m.Chunk!.DuplicateLines.Count));
        var status = await _app.StatusAsync(submission.JobId);
        Assert.Equal(3_000, status.Totals.Rejected);
    }

    [Fact]
    public async Task An_unknown_job_has_no_status()
    {
        Assert.Null(await _app.Jobs.GetStatusAsync(new string('a', 32), CancellationToken.None));
        Assert.Null(await _app.Jobs.GetStatusAsync("../not-a-job-id", CancellationToken.None));
    }
}
