using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;
using CreditGrants.Bulk;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using CreditGrants.Storage.Bulk;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests.Bulk;

/// <summary>
/// Undoing a job of more customers than one request revokes (issue #20): <c>POST /api/bulk-grants/{jobId}/revoke</c> answers
/// 202 and the revocation runs on the bulk queue in slices of customers, shown on the job's status under <c>revocation</c>,
/// with a results file; redelivered messages revoke and count nothing twice; asking again changes nothing.
/// </summary>
public sealed class BulkQueuedRevokeTests : IAsyncLifetime
{
    private const int Customers = 250;
    private const int Rows = 2_500;
    private BulkApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = Customers });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private BulkRevokeApi Api => _app.Services.GetRequiredService<BulkRevokeApi>();

    private async Task<(string JobId, Dictionary<string, decimal> Granted)> GrantJobAsync()
    {
        var (csv, expected) = Csv.Grants(Rows, Customers);
        var submission = await _app.SubmitAsync(csv);
        await _app.DrainAsync();
        _app.Received.Clear();
        return (submission.JobId, expected);
    }

    private async Task UseAsync(string customer, decimal units)
    {
        var report = await _app.Services.GetRequiredService<IPolarGateway>().IngestAsync(
            [new PolarEvent("api_usage", null, customer, null, null, new Dictionary<string, JsonElement> { ["units"] = PolarMetadata.Number(units) })]);
        Assert.Equal(0, report.Rejected);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body, IReadOnlyDictionary<string, string> Headers)> RevokeAsync(string jobId, string body)
    {
        var answer = await Api.RevokeAsync(jobId, new MemoryStream(Encoding.UTF8.GetBytes(body)), new Uri($"https://app.example/api/bulk-grants/{jobId}/revoke"),
            CancellationToken.None);
        using var document = JsonDocument.Parse(answer.Body);
        return (answer.Status, document.RootElement.Clone(), answer.Headers);
    }

    private async Task<BulkRevocationProgress> RevocationAsync(string jobId) =>
        (await _app.StatusAsync(jobId)).Revocation ?? throw new InvalidOperationException($"job {jobId} shows no revocation");

    private async Task<List<Dictionary<string, string>>> RevocationResultsAsync(BulkRevocationProgress progress)
    {
        Assert.NotNull(progress.Results);
        var text = (await _app.Store.Results.GetBlobClient(progress.Results.Blob).DownloadContentAsync()).Value.Content.ToString();
        var rows = Csv.Parse(text);
        Assert.Equal(BulkRevocationFile.Columns, rows[0]);
        return [.. rows.Skip(1).Select(r => BulkRevocationFile.Columns.Zip(r).ToDictionary(p => p.First, p => p.Second))];
    }

    [Fact]
    public async Task A_job_over_the_inline_limit_is_revoked_on_the_queue_taking_back_only_what_each_customer_left_unspent()
    {
        var (jobId, granted) = await GrantJobAsync();
        var used = new Dictionary<string, decimal> { ["user-1"] = 5, ["user-120"] = 12.5m, ["user-250"] = 1 };
        foreach (var (customer, units) in used)
        {
            await UseAsync(customer, units);
        }

        var (status, accepted, headers) = await RevokeAsync(jobId, """{"reason":"wrong file"}""");
        var queued = await RevocationAsync(jobId);
        var deliveries = await _app.DrainAsync();

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal($"https://app.example/api/bulk-grants/{jobId}", headers["Location"]);
        Assert.True(accepted.GetProperty("started").GetBoolean());
        Assert.Equal(BulkJobState.Queued, accepted.GetProperty("revocation").GetProperty("state").GetString());
        Assert.Equal(BulkJobState.Queued, queued.State);
        Assert.All(deliveries, d => Assert.Null(d.Error));
        // One plan, then one message per slice of 100 customers: 250 customers are 3 slices.
        Assert.Equal(4, deliveries.Count(d => d.Kind == BulkMessage.RevokeKind));
        var done = await RevocationAsync(jobId);
        Assert.Equal(BulkJobState.Completed, done.State);
        Assert.Equal((Customers, Customers, 3, 3), (done.Customers, done.CustomersDone, done.Slices, done.SlicesDone));
        // Blocks the customers' usage spent whole have nothing unspent; every other row is revoked.
        Assert.Equal(((long?)Rows, (long)Rows, (long)Rows, 0L), (done.Rows, done.RowsDone, done.Revoked + done.NothingUnspent, done.Failed));
        Assert.InRange(done.NothingUnspent, 1, 10);
        Assert.Equal(granted.Values.Sum() - used.Values.Sum(), done.UnitsRevoked);
        Assert.Equal(jobId + ".revocation.csv", done.Results!.Blob);
        var results = await RevocationResultsAsync(done);
        Assert.Equal(Rows, results.Count);
        Assert.Equal(Enumerable.Range(2, Rows).Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order(),
            results.Select(r => r["line"]).Order());
        Assert.Equal(done.Revoked, results.Count(r => r["status"] == "revoked"));
        Assert.Equal(done.NothingUnspent, results.Count(r => r["status"] == "nothing_unspent"));
        foreach (var customer in new[] { "user-1", "user-2", "user-120", "user-250" })
        {
            Assert.Equal(granted[customer] - used.GetValueOrDefault(customer),
                results.Where(r => r["external_customer_id"] == customer).Sum(r => decimal.Parse(r["units_revoked"], System.Globalization.CultureInfo.InvariantCulture)));
            Assert.Equal(0m, await _app.BalanceAsync(customer));
        }
    }

    [Fact]
    public async Task Redelivered_revoke_messages_revoke_nothing_twice_and_count_nothing_twice()
    {
        var (jobId, _) = await GrantJobAsync();
        await RevokeAsync(jobId, """{"reason":"wrong file"}""");
        await _app.DrainAsync();
        var before = await RevocationAsync(jobId);
        var events = _app.Emulator.EventCount;

        // The host hands every message over again (say their deletions were lost), the plan too.
        foreach (var message in _app.Received.Where(m => BulkApp.KindOf(m) == BulkMessage.RevokeKind).ToList())
        {
            await _app.QueueFunction.Run(BulkApp.Redelivery(message, dequeueCount: 2), CancellationToken.None);
        }

        await _app.DrainAsync();
        var after = await RevocationAsync(jobId);
        Assert.Equal(events, _app.Emulator.EventCount);
        Assert.Equal(before with { Results = null }, after with { Results = null });
        Assert.Equal(Rows, (await RevocationResultsAsync(after)).Count);
    }

    [Fact]
    public async Task A_slice_delivered_twice_before_either_recorded_it_counts_its_rows_once()
    {
        var (jobId, _) = await GrantJobAsync();
        await RevokeAsync(jobId, """{"reason":"wrong file"}""");
        var plan = Assert.Single(await _app.ReceiveAsync());
        await _app.DeliverAsync(plan);
        var slices = await _app.ReceiveAsync();
        Assert.Equal(3, slices.Length);

        // Each slice's message runs twice at once, as two instances would after a visibility timeout ran out.
        await Task.WhenAll(slices.SelectMany(m => new[]
        {
            _app.QueueFunction.Run(BulkApp.Redelivery(m, 1), CancellationToken.None),
            _app.QueueFunction.Run(BulkApp.Redelivery(m, 2, m.MessageId + "x"), CancellationToken.None),
        }));

        var done = await RevocationAsync(jobId);
        Assert.Equal(BulkJobState.Completed, done.State);
        Assert.Equal((long)Rows, done.Revoked + done.AlreadyRevoked);
        Assert.Equal(Rows, (await RevocationResultsAsync(done)).Count);
        Assert.Equal(0m, await _app.BalanceAsync("user-7"));
    }

    [Fact]
    public async Task A_dry_run_on_the_queue_writes_what_each_row_would_take_back_and_sends_nothing()
    {
        var (jobId, granted) = await GrantJobAsync();
        await UseAsync("user-3", 2);
        var events = _app.Emulator.EventCount;

        var (status, _, _) = await RevokeAsync(jobId, """{"reason":"checking","dryRun":true}""");
        await _app.DrainAsync();

        var done = await RevocationAsync(jobId);
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(events, _app.Emulator.EventCount);
        Assert.True(done.DryRun);
        Assert.Equal(((long)Rows, 0L, 0m), (done.WouldRevoke, done.Revoked, done.UnitsRevoked));
        Assert.Equal(granted.Values.Sum() - 2, done.UnitsWouldRevoke);
        Assert.Equal(jobId + ".revocation-dry-run.csv", done.Results!.Blob);
        Assert.All(await RevocationResultsAsync(done), r => Assert.Equal("would_revoke", r["status"]));
        Assert.Equal(granted["user-4"], await _app.BalanceAsync("user-4"));
    }

    [Fact]
    public async Task Asking_while_a_run_is_under_way_starts_nothing_and_asking_after_it_ended_sends_nothing_new()
    {
        var (jobId, granted) = await GrantJobAsync();
        await RevokeAsync(jobId, """{"reason":"wrong file"}""");
        var (_, again, _) = await RevokeAsync(jobId, """{"reason":"wrong file"}""");
        Assert.False(again.GetProperty("started").GetBoolean());
        Assert.Equal(1, again.GetProperty("revocation").GetProperty("run").GetInt32());
        await _app.DrainAsync();
        Assert.Equal(4, _app.Received.Count(m => BulkApp.KindOf(m) == BulkMessage.RevokeKind));
        var events = _app.Emulator.EventCount;

        var (status, second, _) = await RevokeAsync(jobId, """{"reason":"wrong file"}""");
        await _app.DrainAsync();

        var done = await RevocationAsync(jobId);
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.True(second.GetProperty("started").GetBoolean());
        Assert.Equal(2, done.Run);
        Assert.Equal(events, _app.Emulator.EventCount);
        Assert.Equal(((long)Rows, 0L, 0m), (done.AlreadyRevoked, done.Revoked, done.UnitsRevoked));
        Assert.Equal(granted["user-9"],
            (await RevocationResultsAsync(done)).Where(r => r["external_customer_id"] == "user-9").Sum(r => decimal.Parse(r["units_revoked"], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task A_plan_that_fails_on_its_last_delivery_fails_the_run_with_the_reason_and_asking_again_starts_a_new_one()
    {
        var (jobId, _) = await GrantJobAsync();
        await RevokeAsync(jobId, """{"reason":"wrong file"}""");
        var plan = Assert.Single(await _app.ReceiveAsync());
        var results = (await _app.StatusAsync(jobId)).Results!.Blob;
        var saved = (await _app.Store.Results.GetBlobClient(results).DownloadContentAsync()).Value.Content;
        await _app.Store.Results.GetBlobClient(results).DeleteAsync();

        await Assert.ThrowsAsync<Azure.RequestFailedException>(() =>
            _app.QueueFunction.Run(BulkApp.Redelivery(plan, _app.MaxDequeueCount), CancellationToken.None));

        var failed = await RevocationAsync(jobId);
        Assert.Equal(BulkJobState.Failed, failed.State);
        Assert.Contains("Azure Storage answered 404", failed.Error, StringComparison.Ordinal);
        Assert.NotNull(failed.FinishedAt);
        await _app.Store.Results.GetBlobClient(results).UploadAsync(saved);
        await _app.ReleaseAsync([plan]);
        await _app.DrainAsync();
        var (status, again, _) = await RevokeAsync(jobId, """{"reason":"wrong file"}""");
        await _app.DrainAsync();
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.True(again.GetProperty("started").GetBoolean());
        var done = await RevocationAsync(jobId);
        Assert.Equal((2, BulkJobState.Completed, (long)Rows), (done.Run, done.State, done.Revoked));
    }

    [Fact]
    public void Slices_hold_every_row_of_a_customer_and_at_most_the_slice_size_of_customers()
    {
        var rows = Enumerable.Range(0, 1_000)
            .Select(i => new BulkGrantedRow(i + 2, $"g{i}", $"c{i % 250}", null, "1", "API Calls", i % 7 == 0 ? "rejected" : "granted"))
            .Append(new BulkGrantedRow(1_002, null, null, null, "x", null, "rejected"))
            .ToList();

        var slices = BulkRevocationRuns.Slice(rows, 100);

        Assert.Equal(3, slices.Count);
        Assert.Equal(rows.Count, slices.Sum(s => s.Count));
        Assert.All(slices, s => Assert.InRange(BulkRevocation.CustomersOf(s), 1, 100));
        Assert.Equal(250, slices.Sum(BulkRevocation.CustomersOf));
        Assert.Contains(slices[0], r => r.ExternalCustomerId is null);
    }
}
