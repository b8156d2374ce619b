using System.Collections.Concurrent;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Storage.Bulk;
using PolarEmulator;

namespace CreditFunctions.Tests.Engine;

/// <summary>
/// What only the host's trigger engine can show, shown with the engine itself (the WebJobs SDK's queue listener) running the
/// app's queue function on Azurite: the <c>%Setting%</c> queue name resolves, the message encoding the app writes is the one
/// the trigger reads, a message that always fails ends in the poison queue after exactly host.json's
/// <c>maxDequeueCount</c> deliveries with its chunk marked failed, and a message delivered again after the function failed
/// half-way grants nothing twice. Failed messages come back after a <c>visibilityTimeout</c> of one second here instead of
/// host.json's minute, so that a test of five deliveries takes seconds.
/// </summary>
public sealed class QueueEngineTests
{
    private static readonly TimeSpan ShortRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private static async Task<BulkJobStatus> WaitForEndAsync(BulkApp app, string jobId)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            var status = await app.StatusAsync(jobId);
            if (status.FinishedAt is not null)
            {
                return status;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token);
        }
    }

    [Fact]
    public async Task The_engine_reads_the_apps_queue_from_its_attribute_and_settings_and_decodes_what_the_app_writes()
    {
        await using var app = await BulkApp.StartAsync();
        var deliveries = new ConcurrentBag<string>();
        await using var engine = await QueueEngine.StartAsync(app.Services, app.Settings, (message, run) =>
        {
            deliveries.Add(message.Body.ToString());
            return run();
        });

        var submission = await app.SubmitAsync("external_customer_id,email,units\nuser-1,ada@lovelace.dev,5\nuser-2,grace@hopper.dev,7\n");
        var status = await WaitForEndAsync(app, submission.JobId);

        Assert.Equal(app.Names.Queue, engine.Queue);
        Assert.Equal(QueueMessageEncoding.Base64, engine.Options.MessageEncoding);
        Assert.Equal(BulkJobState.Completed, status.Status);
        Assert.Equal((5m, 7m), (await app.BalanceAsync("user-1"), await app.BalanceAsync("user-2")));
        Assert.Contains(deliveries, body => body.Contains("\"kind\":\"plan\"", StringComparison.Ordinal));
        Assert.Contains(deliveries, body => body.Contains("\"kind\":\"chunk\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_message_that_always_fails_is_poisoned_after_exactly_max_dequeue_count_deliveries_and_its_chunk_is_failed()
    {
        // Polar answers every request with a 5xx: the plan (which needs no Polar) succeeds, the chunk never does.
        await using var app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, Faults = new FaultOptions { Seed = 1, ErrorRate = 1.0 } });
        var chunkDeliveries = new ConcurrentBag<long>();
        await using var engine = await QueueEngine.StartAsync(app.Services, app.Settings, (message, run) =>
        {
            if (message.Body.ToString().Contains("\"kind\":\"chunk\"", StringComparison.Ordinal))
            {
                chunkDeliveries.Add(message.DequeueCount);
            }

            return run();
        }, ShortRetry);

        var submission = await app.SubmitAsync("external_customer_id,units\nuser-1,5\n");
        var status = await WaitForEndAsync(app, submission.JobId);

        Assert.Equal(engine.Options.MaxDequeueCount, chunkDeliveries.Count);
        Assert.Equal(Enumerable.Range(1, engine.Options.MaxDequeueCount).Select(i => (long)i), chunkDeliveries.Order());
        Assert.Equal(BulkJobState.Failed, status.Status);
        Assert.Equal(engine.Options.MaxDequeueCount, Assert.Single(status.FailedChunks).Attempts);
        var poison = new QueueClient(BulkApp.StorageConnection, engine.Queue + "-poison", CreditGrants.Storage.StorageAccount.QueueOptions);
        using var timeout = new CancellationTokenSource(Patience);
        QueueMessage[] poisoned;
        while ((poisoned = (await poison.ReceiveMessagesAsync(maxMessages: 32)).Value).Length == 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token);
        }

        Assert.Equal(BulkMessage.ChunkKind, BulkMessage.Parse(Assert.Single(poisoned).Body).Kind);
        await poison.DeleteIfExistsAsync();
    }

    [Fact]
    public async Task A_chunk_delivered_again_after_the_function_failed_half_way_grants_nothing_twice()
    {
        await using var app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = 7 });
        var failedOnce = 0;
        var chunkDeliveries = 0;
        await using var engine = await QueueEngine.StartAsync(app.Services, app.Settings, async (message, run) =>
        {
            await run();
            var isChunk = message.Body.ToString().Contains("\"kind\":\"chunk\"", StringComparison.Ordinal);
            if (isChunk)
            {
                Interlocked.Increment(ref chunkDeliveries);
            }

            // The grants are sent and recorded; the process dies before the host deletes the message.
            if (isChunk && Interlocked.Exchange(ref failedOnce, 1) == 0)
            {
                throw new InvalidOperationException("worker crashed after granting, before the message was deleted");
            }
        }, ShortRetry);

        var (csv, expected) = Csv.Grants(rows: 30, customers: 7);
        var submission = await app.SubmitAsync(csv);
        var status = await WaitForEndAsync(app, submission.JobId);
        using var timeout = new CancellationTokenSource(Patience);
        while (Volatile.Read(ref chunkDeliveries) < 2)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token);
        }

        Assert.Equal(BulkJobState.Completed, status.Status);
        Assert.Equal(30, status.Totals.Granted);
        foreach (var (customer, units) in expected)
        {
            Assert.Equal(units, await app.BalanceAsync(customer));
        }
    }
}
