using System.Text;
using CreditGrants.Polar;
using CreditGrants.Storage.Bulk;
using PolarEmulator;

namespace CreditFunctions.Tests.Bulk;

/// <summary>
/// What cannot succeed is reported, not dropped: a chunk failing on its last delivery is recorded on the job before its
/// message goes to the poison queue, and <c>credits bulk retry</c> finishes the job once the cause is gone.
/// </summary>
public sealed class BulkFailureTests
{
    private static readonly EmulatorOptions Outage = new() { SeedMeter = true, Faults = new FaultOptions { Seed = 1, ErrorRate = 1.0 } };

    [Fact]
    public async Task The_queue_policy_is_host_json_s_max_dequeue_count()
    {
        await using var app = await BulkApp.StartAsync();

        Assert.Equal(5, app.MaxDequeueCount);
    }

    [Fact]
    public async Task A_failing_chunk_is_retried_without_a_trace_until_its_last_delivery_records_it_and_still_throws()
    {
        await using var app = await BulkApp.StartAsync(Outage);
        var submission = await app.SubmitAsync("external_customer_id,units\nuser-1,5\nuser-2,6\n");
        await app.DeliverAsync(Assert.Single(await app.ReceiveAsync()));
        var chunk = Assert.Single(await app.ReceiveAsync());

        await Assert.ThrowsAsync<PolarException>(() => app.QueueFunction.Run(BulkApp.Redelivery(chunk, app.MaxDequeueCount - 1), CancellationToken.None));
        var beforeLast = await app.StatusAsync(submission.JobId);
        // The host moves a message to the poison queue when the function throws on its maxDequeueCount-th delivery.
        var last = await Assert.ThrowsAsync<PolarException>(() => app.QueueFunction.Run(BulkApp.Redelivery(chunk, app.MaxDequeueCount), CancellationToken.None));
        var afterLast = await app.StatusAsync(submission.JobId);

        Assert.Equal(PolarErrorKind.Unavailable, last.Kind);
        Assert.Equal(BulkJobState.Running, beforeLast.Status);
        Assert.Empty(beforeLast.FailedChunks);
        Assert.Equal(2, beforeLast.Totals.Pending);
        Assert.Equal(BulkJobState.Failed, afterLast.Status);
        var failed = Assert.Single(afterLast.FailedChunks);
        Assert.Equal(0, failed.Index);
        Assert.Equal(2, failed.FirstLine);
        Assert.Equal(app.MaxDequeueCount, failed.Attempts);
        Assert.StartsWith("Polar: ", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(new BulkJobTotals(2, 0, 0, null, 0, 2, 0), afterLast.Totals);
        Assert.Equal(["failed", "failed"], Csv.Results(await app.ResultsAsync(afterLast)).Select(r => r["status"]));
        Assert.NotNull(afterLast.FinishedAt);
    }

    [Fact]
    public async Task A_chunk_that_always_fails_ends_in_the_poison_queue_and_retry_finishes_the_job_once_polar_is_back()
    {
        var (csv, expected) = Csv.Grants(rows: 2_000, customers: 20);
        await using var healthy = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = 20 });
        var submission = await healthy.SubmitAsync(csv);
        await healthy.DeliverAsync(Assert.Single(await healthy.ReceiveAsync()));
        var chunks = await healthy.ReceiveAsync();
        await healthy.DeliverAsync(chunks[0]);
        await healthy.ReleaseAsync(chunks[1..]);

        List<Delivery> failing;
        await using (var outage = await BulkApp.StartAsync(Outage, healthy.Names))
        {
            failing = await outage.DrainAsync();
        }

        var failed = await healthy.StatusAsync(submission.JobId);
        var failedResults = Csv.Results(await healthy.ResultsAsync(failed));
        var poisoned = await healthy.PoisonedAsync();
        var retry = await healthy.Jobs.RetryAsync(submission.JobId, CancellationToken.None);
        var retried = await healthy.DrainAsync();
        var finished = await healthy.StatusAsync(submission.JobId);

        // Its first delivery was the one received and released above; the other four fail.
        Assert.Equal([2, 3, 4, 5], failing.Select(d => d.DequeueCount));
        Assert.All(failing, d => Assert.IsType<PolarException>(d.Error));
        var message = BulkMessage.Parse(BinaryData.FromString(Assert.Single(poisoned)));
        Assert.Equal(BulkMessage.ChunkKind, message.Kind);
        Assert.Equal(BulkJobState.CompletedWithErrors, failed.Status);
        Assert.Equal(new BulkJobTotals(2_000, 1_000, 0, null, 0, 1_000, 0), failed.Totals);
        Assert.Equal(message.Chunk!.Index, Assert.Single(failed.FailedChunks).Index);
        Assert.Equal(2_000, failedResults.Count);
        Assert.Equal(1_000, failedResults.Count(r => r["status"] == "granted"));
        Assert.All(failedResults.Where(r => r["status"] != "granted"), r =>
        {
            Assert.Equal("failed", r["status"]);
            Assert.Contains($"credits bulk retry {submission.JobId}", r["reason"], StringComparison.Ordinal);
            Assert.StartsWith("d_", r["grant_id"], StringComparison.Ordinal);
        });
        Assert.Equal([message.Chunk.Index], retry!.Chunks);
        Assert.Single(retried, d => d.Error is null);
        Assert.Equal(BulkJobState.Completed, finished.Status);
        Assert.Equal(new BulkJobTotals(2_000, 2_000, 0, null, 0, 0, 0), finished.Totals);
        Assert.Empty(finished.FailedChunks);
        Assert.Equal(2_000, Csv.Results(await healthy.ResultsAsync(finished)).Count);
        foreach (var (customer, units) in expected)
        {
            Assert.Equal(units, await healthy.BalanceAsync(customer));
        }
    }

    [Fact]
    public async Task Retry_of_a_job_with_nothing_failed_enqueues_nothing()
    {
        await using var app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = 2 });
        var submission = await app.SubmitAsync("external_customer_id,units\nuser-1,5\n");
        await app.DrainAsync();

        var retry = await app.Jobs.RetryAsync(submission.JobId, CancellationToken.None);

        Assert.True(retry!.Nothing);
        Assert.Empty(await app.DrainAsync());
        Assert.Null(await app.Jobs.RetryAsync(new string('0', 32), CancellationToken.None));
    }

    [Fact]
    public async Task A_file_changed_after_its_upload_fails_the_job_at_once_with_the_reason()
    {
        await using var app = await BulkApp.StartAsync();
        var submission = await app.SubmitAsync("external_customer_id,units\nuser-1,5\n");
        await app.Store.Uploads.GetBlobClient(BulkStore.UploadBlobName(submission.JobId))
            .UploadAsync(BinaryData.FromString("external_customer_id,units\nuser-1,500\n"), overwrite: true);

        var deliveries = await app.DrainAsync();

        var status = await app.StatusAsync(submission.JobId);
        Assert.Null(Assert.Single(deliveries).Error);
        Assert.Equal(BulkJobState.Failed, status.Status);
        Assert.Contains("changed after it was submitted", status.Error, StringComparison.Ordinal);
        Assert.Empty(await app.PoisonedAsync());
    }

    [Fact]
    public async Task A_plan_that_fails_on_every_delivery_is_recorded_and_retry_plans_it_again()
    {
        await using var app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = 2 });
        var csv = Encoding.UTF8.GetBytes("external_customer_id,units\nuser-1,5\n");
        var submission = await app.SubmitAsync(Encoding.UTF8.GetString(csv));
        var upload = app.Store.Uploads.GetBlobClient(BulkStore.UploadBlobName(submission.JobId));
        await upload.DeleteAsync();

        var failing = await app.DrainAsync();
        var failed = await app.StatusAsync(submission.JobId);
        await upload.UploadAsync(BinaryData.FromBytes(csv));
        var retry = await app.Jobs.RetryAsync(submission.JobId, CancellationToken.None);
        await app.DrainAsync();
        var finished = await app.StatusAsync(submission.JobId);

        Assert.Equal(app.MaxDequeueCount, failing.Count);
        Assert.Equal(BulkJobState.Failed, failed.Status);
        Assert.Contains("BlobNotFound", failed.Error, StringComparison.Ordinal);
        Assert.True(retry!.Plan);
        Assert.Equal(BulkJobState.Completed, finished.Status);
        Assert.Equal(5m, await app.BalanceAsync("user-1"));
    }
}
