using System.Text;
using CreditGrants.Bulk;
using CreditGrants.Grants;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CreditGrants.Tests.Bulk;

public sealed class BulkChunkProcessorTests : IDisposable
{
    private readonly FakePolarGateway _polar = new();
    private readonly BulkRunner _runner;
    private readonly string _folder = Directory.CreateTempSubdirectory("bulk-test-").FullName;

    public BulkChunkProcessorTests()
    {
        var processor = new BulkChunkProcessor(_polar, TestDirectory.Create(_polar), TimeProvider.System, NullLogger<BulkChunkProcessor>.Instance);
        _runner = new BulkRunner(processor, new GrantValidator(new GrantOptions()), Options.Create(new BulkOptions { ChunkRows = 3 }));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private async Task<(BulkSummary Summary, string[] Results)> RunAsync(string csv)
    {
        var input = Path.Combine(_folder, "grants.csv");
        var output = Path.Combine(_folder, "grants.results.csv");
        await File.WriteAllTextAsync(input, csv, Encoding.UTF8);
        var summary = await _runner.RunFileAsync(input, output, new BulkRun(new BulkDefaults(), "test"), progress: null);
        return (summary, await File.ReadAllLinesAsync(output));
    }

    [Fact]
    public async Task Every_row_ends_in_exactly_one_outcome_in_the_results_file()
    {
        var (summary, results) = await RunAsync("external_customer_id,units\nu1,5\nu2,-1\nu3,7\nu4,x\nu5,1\n");

        Assert.Equal("line,grant_id,external_customer_id,customer_id,units,meter,status,reason", results[0]);
        Assert.Equal(6, results.Length);
        Assert.Equal((5L, 3L, 2L), (summary.Rows, summary.Granted, summary.Rejected));
        Assert.Equal(13m, summary.UnitsGranted);
        Assert.Equal(["granted", "rejected", "granted", "rejected", "granted"], results.Skip(1).Select(l => l.Split(',')[6]).ToArray());
    }

    [Fact]
    public async Task The_same_file_again_grants_nothing_new()
    {
        const string Csv = "external_customer_id,units\nu1,5\nu2,6\nu3,7\nu4,8\n";
        await RunAsync(Csv);

        var (summary, _) = await RunAsync(Csv);

        Assert.Equal((0L, 4L), (summary.Granted, summary.Duplicates));
        Assert.Equal(4, _polar.Ingested.Count);
    }

    [Fact]
    public async Task Existing_customers_cost_one_ingest_request_per_chunk()
    {
        var (summary, _) = await RunAsync("external_customer_id,units\nu1,5\nu2,6\nu3,7\nu4,8\nu5,9\nu6,1\n");

        Assert.Equal(2, summary.IngestRequests);
    }

    [Fact]
    public async Task A_customer_with_an_email_is_created_once_for_all_its_rows()
    {
        await RunAsync("external_customer_id,email,units\nu1,ada@lovelace.dev,5\nu1,ada@lovelace.dev,6\n");

        Assert.Equal(1, _polar.CreateCalls);
        Assert.Equal(2, _polar.Ingested.Count(e => e.CustomerId == _polar.Customers[0].Id));
    }

    [Fact]
    public async Task An_existing_customer_with_an_email_costs_one_request_and_is_granted_by_external_id()
    {
        _polar.AddCustomer("ada@lovelace.dev", "u1");

        var (summary, _) = await RunAsync("external_customer_id,email,units\nu1,ada@lovelace.dev,5\n");

        Assert.Equal(1L, summary.Granted);
        Assert.Equal((1, 0), (_polar.CreateCalls, _polar.FindCalls));
        Assert.Equal("u1", Assert.Single(_polar.Ingested).ExternalCustomerId);
        Assert.Single(_polar.Customers);
    }

    [Fact]
    public async Task An_email_owned_by_another_customer_rejects_only_that_row()
    {
        _polar.AddCustomer("ada@lovelace.dev", "someone-else");

        var (summary, results) = await RunAsync("external_customer_id,email,units\nu1,ada@lovelace.dev,5\nu2,,6\n");

        Assert.Equal((1L, 1L), (summary.Granted, summary.Rejected));
        Assert.Contains("belongs to customer", results[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rows_for_an_unknown_meter_are_rejected_with_the_reason()
    {
        var (summary, results) = await RunAsync("external_customer_id,units,meter\nu1,5,Nope\nu2,6,\n");

        Assert.Equal((1L, 1L), (summary.Granted, summary.Rejected));
        Assert.Contains("No meter is named 'Nope'", results[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_stopped_by_an_outage_still_writes_one_outcome_per_row()
    {
        _polar.IngestCallsBeforeOutage = 1;
        var input = Path.Combine(_folder, "grants.csv");
        var output = Path.Combine(_folder, "grants.results.csv");
        await File.WriteAllTextAsync(input, "external_customer_id,units\nu1,1\nu2,2\nu3,3\nu4,4\nu5,5\nu6,6\nu7,7\n");

        var error = await Assert.ThrowsAsync<CreditGrants.Polar.PolarException>(() => _runner.RunFileAsync(input, output, new BulkRun(new BulkDefaults(), "test"), null));

        var statuses = (await File.ReadAllLinesAsync(output)).Skip(1).Select(l => l.Split(',')[6]).ToArray();
        Assert.Equal(CreditGrants.Polar.PolarErrorKind.Unavailable, error.Kind);
        Assert.Equal(["granted", "granted", "granted", "failed", "failed", "failed", "failed"], statuses);
    }

    [Theory]
    [InlineData("=SUM(A1)")]
    [InlineData("+1")]
    [InlineData("@cmd")]
    [InlineData("-2")]
    public async Task Results_cells_a_spreadsheet_would_run_are_neutralized(string value)
    {
        var (_, results) = await RunAsync($"external_customer_id,units\n\"{value}\",1\n");

        Assert.Contains($"'{value}", results[1], StringComparison.Ordinal);
    }
}
