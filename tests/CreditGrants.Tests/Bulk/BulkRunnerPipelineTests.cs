using System.Text;
using CreditGrants.Bulk;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CreditGrants.Tests.Bulk;

/// <summary>
/// <see cref="BulkRunner.RunFileAsync"/> reads and validates the next chunk while the current one is granted: the results
/// file must still hold one outcome per row, in file order, however the run ends.
/// </summary>
public sealed class BulkRunnerPipelineTests : IDisposable
{
    private const int ChunkRows = 3;

    private readonly FakePolarGateway _fake = new();
    private readonly IngestHookGateway _polar;
    private readonly BulkRunner _runner;
    private readonly string _folder = Directory.CreateTempSubdirectory("bulk-pipeline-test-").FullName;
    private readonly string _input;
    private readonly string _output;

    public BulkRunnerPipelineTests()
    {
        _polar = new IngestHookGateway(_fake);
        var processor = new BulkChunkProcessor(_polar, TestDirectory.Create(_polar), TimeProvider.System, NullLogger<BulkChunkProcessor>.Instance);
        _runner = new BulkRunner(processor, new GrantValidator(new GrantOptions()), Options.Create(new BulkOptions { ChunkRows = ChunkRows }));
        _input = Path.Combine(_folder, "grants.csv");
        _output = Path.Combine(_folder, "grants.results.csv");
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A file of <paramref name="rows"/> rows for customers u1, u2, …; every fifth row has units "x" (rejected).</summary>
    private async Task WriteFileAsync(int rows)
    {
        var csv = new StringBuilder("external_customer_id,units\n");
        for (var i = 1; i <= rows; i++)
        {
            csv.Append('u').Append(i).Append(',').Append(i % 5 == 0 ? "x" : i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }

        await File.WriteAllTextAsync(_input, csv.ToString(), Encoding.UTF8);
    }

    private async Task<(long Line, string Customer, string Status, string Reason)[]> ResultsAsync() =>
        (await File.ReadAllLinesAsync(_output)).Skip(1).Select(l => l.Split(','))
            .Select(c => (long.Parse(c[0], System.Globalization.CultureInfo.InvariantCulture), c[2], c[6], c[7])).ToArray();

    private static string ExpectedStatus(int row) => row % 5 == 0 ? "rejected" : "granted";

    [Fact]
    public async Task Results_are_written_in_file_order_while_the_next_chunk_is_read_during_each_ingest()
    {
        await WriteFileAsync(20);
        // Each ingest yields for a while, so that the next chunk's read finishes before the current chunk is written.
        _polar.BeforeIngest = static (_, token) => Task.Delay(20, token);

        var summary = await _runner.RunFileAsync(_input, _output, new BulkRun(new BulkDefaults(), "test"), progress: null);

        var results = await ResultsAsync();
        Assert.Equal(Enumerable.Range(2, 20).Select(l => (long)l), results.Select(r => r.Line));
        Assert.Equal(Enumerable.Range(1, 20).Select(i => $"u{i}"), results.Select(r => r.Customer));
        Assert.Equal(Enumerable.Range(1, 20).Select(ExpectedStatus), results.Select(r => r.Status));
        Assert.Equal((20L, 16L, 4L, 0L), (summary.Rows, summary.Granted, summary.Rejected, summary.Failed));
        Assert.Equal(7, summary.IngestRequests);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_run_cancelled_mid_file_writes_every_processed_row_and_marks_every_other_row_failed(bool ingestAborted)
    {
        await WriteFileAsync(14);
        using var stop = new CancellationTokenSource();
        // Stopped during the second chunk's ingest; either Polar took that request, or the request was aborted.
        _polar.BeforeIngest = (call, token) =>
        {
            if (call == 1)
            {
                stop.Cancel();
                if (ingestAborted)
                {
                    token.ThrowIfCancellationRequested();
                }
            }

            return Task.CompletedTask;
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            _runner.RunFileAsync(_input, _output, new BulkRun(new BulkDefaults(), "test"), progress: null, stop.Token));

        var results = await ResultsAsync();
        var processedRows = ingestAborted ? ChunkRows : 2 * ChunkRows;
        Assert.Equal(Enumerable.Range(2, 14).Select(l => (long)l), results.Select(r => r.Line));
        Assert.Equal(Enumerable.Range(1, processedRows).Select(ExpectedStatus), results.Take(processedRows).Select(r => r.Status));
        Assert.All(results.Skip(processedRows), r => Assert.Equal("failed", r.Status));
        Assert.All(results.Skip(processedRows), r => Assert.Contains("the run was stopped", r.Reason, StringComparison.Ordinal));
        // Nothing after the stop was sent: the granted rows are exactly the events Polar holds.
        Assert.Equal(results.Where(r => r.Status == "granted").Select(r => r.Customer), _fake.Ingested.Select(e => e.ExternalCustomerId));
    }

    [Theory]
    [InlineData(PolarErrorKind.Unavailable)]
    [InlineData(PolarErrorKind.RateLimited)]
    public async Task A_chunk_stopped_by_Polar_marks_its_rows_the_read_ahead_chunk_and_every_later_row_failed(PolarErrorKind kind)
    {
        await WriteFileAsync(14);
        _polar.BeforeIngest = (call, _) => call == 2
            ? Task.FromException(new PolarException(kind, "Polar is not answering."))
            : Task.CompletedTask;

        var error = await Assert.ThrowsAsync<PolarException>(() =>
            _runner.RunFileAsync(_input, _output, new BulkRun(new BulkDefaults(), "test"), progress: null));

        var results = await ResultsAsync();
        Assert.Equal(kind, error.Kind);
        Assert.Equal(Enumerable.Range(2, 14).Select(l => (long)l), results.Select(r => r.Line));
        Assert.Equal(Enumerable.Range(1, 2 * ChunkRows).Select(ExpectedStatus), results.Take(2 * ChunkRows).Select(r => r.Status));
        // The failing chunk (rows 7–9), the chunk read ahead while it ran (rows 10–12) and the last one (rows 13–14).
        Assert.Equal(14 - (2 * ChunkRows), results.Skip(2 * ChunkRows).Count(r => r.Status == "failed"
            && r.Reason.Contains("Polar is not answering.", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_chunk_failing_for_another_reason_ends_the_run_with_the_chunks_before_it_written()
    {
        await WriteFileAsync(14);
        _polar.BeforeIngest = static (call, _) => call == 1
            ? Task.FromException(new InvalidOperationException("a defect"))
            : Task.CompletedTask;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            _runner.RunFileAsync(_input, _output, new BulkRun(new BulkDefaults(), "test"), progress: null));

        var results = await ResultsAsync();
        Assert.Equal("a defect", error.Message);
        Assert.Equal(Enumerable.Range(1, ChunkRows).Select(ExpectedStatus), results.Select(r => r.Status));
    }

    /// <summary>The fake gateway, with a hook that runs before each ingest call (numbered from 0) and may throw.</summary>
    private sealed class IngestHookGateway(FakePolarGateway inner) : IPolarGateway
    {
        private int _ingestCalls;

        public Func<int, CancellationToken, Task>? BeforeIngest { get; set; }

        public async Task<IngestReport> IngestAsync(IReadOnlyList<PolarEvent> events, CancellationToken cancellationToken = default)
        {
            if (BeforeIngest is { } hook)
            {
                await hook(Interlocked.Increment(ref _ingestCalls) - 1, cancellationToken);
            }

            return await inner.IngestAsync(events, cancellationToken);
        }

        public Task<Customer?> FindCustomerByExternalIdAsync(string externalId, CancellationToken cancellationToken = default) =>
            inner.FindCustomerByExternalIdAsync(externalId, cancellationToken);

        public Task<Customer?> FindCustomerByEmailAsync(string email, CancellationToken cancellationToken = default) =>
            inner.FindCustomerByEmailAsync(email, cancellationToken);

        public Task<Customer> GetCustomerAsync(Guid customerId, CancellationToken cancellationToken = default) =>
            inner.GetCustomerAsync(customerId, cancellationToken);

        public Task<Customer> CreateCustomerAsync(CustomerCreate customer, CancellationToken cancellationToken = default) =>
            inner.CreateCustomerAsync(customer, cancellationToken);

        public Task<Meter?> FindMeterAsync(string name, CancellationToken cancellationToken = default) => inner.FindMeterAsync(name, cancellationToken);

        public Task<GrantTarget> GetGrantTargetAsync(string meterName, CancellationToken cancellationToken = default) =>
            inner.GetGrantTargetAsync(meterName, cancellationToken);

        public Task<(Meter Meter, bool Created)> EnsureMeterAsync(string name, string eventName, string sumProperty,
            CancellationToken cancellationToken = default) => inner.EnsureMeterAsync(name, eventName, sumProperty, cancellationToken);

        public Task<EventLookup> FindEventsByMetadataAsync(string key, IReadOnlyCollection<string> values, CancellationToken cancellationToken = default) =>
            inner.FindEventsByMetadataAsync(key, values, cancellationToken);

        public Task<PolarPage<Customer>> ListCustomersAsync(CustomerListQuery query, CancellationToken cancellationToken = default) =>
            inner.ListCustomersAsync(query, cancellationToken);

        public Task<CustomerMeter?> GetCustomerMeterAsync(Guid customerId, Guid meterId, CancellationToken cancellationToken = default) =>
            inner.GetCustomerMeterAsync(customerId, meterId, cancellationToken);
    }
}
