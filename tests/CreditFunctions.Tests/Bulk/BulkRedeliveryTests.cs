using CreditGrants.Storage.Bulk;
using PolarEmulator;

namespace CreditFunctions.Tests.Bulk;

/// <summary>
/// Queue messages come at least once: a message processed again grants nothing twice and counts nothing twice, also while
/// the emulator's event store lags behind ingest as Polar's does (read-backs wait for it).
/// </summary>
public sealed class BulkRedeliveryTests : IAsyncLifetime
{
    private const int Customers = 30;
    private BulkApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = Customers, EventStoreLag = TimeSpan.FromSeconds(1) });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_redelivered_chunk_message_grants_and_counts_nothing_twice()
    {
        var (csv, expected) = Csv.Grants(rows: 3_000, customers: Customers);
        var submission = await _app.SubmitAsync(csv);
        await _app.DrainAsync();
        var before = await _app.StatusAsync(submission.JobId);
        var requests = _app.Emulator.RequestCount;
        var chunk = _app.Received.First(m => BulkApp.KindOf(m) == BulkMessage.ChunkKind);

        // The host hands the same message over again (say its deletion was lost).
        await _app.QueueFunction.Run(BulkApp.Redelivery(chunk, dequeueCount: 2), CancellationToken.None);

        var after = await _app.StatusAsync(submission.JobId);
        Assert.Equal(before.Totals, after.Totals);
        Assert.Equal(before.UnitsGranted, after.UnitsGranted);
        Assert.Equal(requests, _app.Emulator.RequestCount);
        Assert.Equal(3_000, Csv.Results(await _app.ResultsAsync(after)).Count);
        Assert.Equal(expected["user-1"], await _app.BalanceAsync("user-1"));
    }

    [Fact]
    public async Task A_chunk_whose_grants_were_sent_by_a_delivery_that_stopped_before_recording_them_counts_them_granted()
    {
        var (csv, expected) = Csv.Grants(rows: 1_000, customers: Customers);
        var submission = await _app.SubmitAsync(csv);
        await _app.DrainAsync();
        var chunk = _app.Received.First(m => BulkApp.KindOf(m) == BulkMessage.ChunkKind);

        // The worker sent the grants and stopped before its record of the chunk was written: the chunk is still pending,
        // the job unfinished.
        var entity = (await _app.Store.Jobs.GetEntityAsync<Azure.Data.Tables.TableEntity>(submission.JobId, "chunk-000000")).Value;
        entity["State"] = "pending";
        entity["Granted"] = 0;
        entity.Remove("ResultsBlob");
        await _app.Store.Jobs.UpdateEntityAsync(entity, entity.ETag, Azure.Data.Tables.TableUpdateMode.Replace);
        var job = (await _app.Store.Jobs.GetEntityAsync<Azure.Data.Tables.TableEntity>(submission.JobId, "job")).Value;
        job.Remove("FinishedAt");
        job.Remove("ResultsBlob");
        await _app.Store.Jobs.UpdateEntityAsync(job, job.ETag, Azure.Data.Tables.TableUpdateMode.Replace);
        Assert.Equal(BulkJobState.Running, (await _app.StatusAsync(submission.JobId)).Status);
        var events = _app.Emulator.EventCount;
        await _app.QueueFunction.Run(BulkApp.Redelivery(chunk, dequeueCount: 2), CancellationToken.None);

        var status = await _app.StatusAsync(submission.JobId);
        Assert.Equal(BulkJobState.Completed, status.Status);
        Assert.Equal(events, _app.Emulator.EventCount);
        Assert.Equal((1_000L, 0L, (long?)null), (status.Totals.Granted, status.Totals.Duplicates, status.Totals.GrantedOrDuplicate));
        Assert.All(Csv.Results(await _app.ResultsAsync(status)), row => Assert.Equal("granted", row["status"]));
        Assert.Equal(expected["user-1"], await _app.BalanceAsync("user-1"));
    }

    [Fact]
    public async Task Two_deliveries_of_each_chunk_at_once_count_its_rows_once_and_grant_them_once()
    {
        var (csv, expected) = Csv.Grants(rows: 3_000, customers: Customers);
        var submission = await _app.SubmitAsync(csv);
        var plan = Assert.Single(await _app.ReceiveAsync());
        await _app.DeliverAsync(plan);
        var chunks = await _app.ReceiveAsync();

        // A second copy of every chunk message (a plan enqueued twice, say) runs alongside the first.
        await Task.WhenAll(chunks.SelectMany(m => new[]
        {
            _app.DeliverAsync(m),
            _app.QueueFunction.Run(BulkApp.Redelivery(m, dequeueCount: 1, messageId: "copy-" + m.MessageId), CancellationToken.None),
        }));

        var status = await _app.StatusAsync(submission.JobId);
        Assert.Equal(3, chunks.Length);
        Assert.Equal(BulkJobState.Completed, status.Status);
        Assert.Equal(3_000, status.Totals.Granted + status.Totals.Duplicates + (status.Totals.GrantedOrDuplicate ?? 0));
        Assert.Equal(0, status.Totals.Pending);
        Assert.Equal(3_000, Csv.Results(await _app.ResultsAsync(status)).Count);
        // One results blob per chunk and the job's: a delivery that lost the race removed its own.
        var blobs = new List<string>();
        await foreach (var blob in _app.Store.Results.GetBlobsAsync())
        {
            blobs.Add(blob.Name);
        }

        Assert.Equal(3 + 1, blobs.Count);
        foreach (var (customer, units) in expected)
        {
            Assert.Equal(units, await _app.BalanceAsync(customer));
        }
    }

    [Fact]
    public async Task A_redelivered_plan_enqueues_only_the_chunks_not_done()
    {
        var (csv, expected) = Csv.Grants(rows: 3_000, customers: Customers);
        var submission = await _app.SubmitAsync(csv);
        var plan = Assert.Single(await _app.ReceiveAsync());
        await _app.DeliverAsync(plan);
        var chunks = await _app.ReceiveAsync();
        await _app.DeliverAsync(chunks[0]);
        await _app.ReleaseAsync(chunks[1..]);

        await _app.QueueFunction.Run(BulkApp.Redelivery(plan, dequeueCount: 2), CancellationToken.None);
        var deliveries = await _app.DrainAsync();

        Assert.Equal(2 * 2, deliveries.Count);
        Assert.All(deliveries, d => Assert.Null(d.Error));
        var status = await _app.StatusAsync(submission.JobId);
        Assert.Equal(new BulkJobTotals(3_000, 3_000, 0, null, 0, 0, 0), status.Totals);
        Assert.Equal(expected["user-7"], await _app.BalanceAsync("user-7"));
    }
}
