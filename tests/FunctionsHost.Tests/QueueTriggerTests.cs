using System.Net;
using System.Text;
using FunctionsHost.Tests.Host;

namespace FunctionsHost.Tests;

/// <summary>
/// A bulk upload granted end to end through the worker: the HTTP upload, then the plan and chunk messages delivered by
/// the host's queue engine as ModelBindingData to the worker's <c>ProcessGrantWork</c>, then status and results over HTTP.
/// </summary>
[Collection(SharedWorker.Name)]
public sealed class QueueTriggerTests(AppUnderHost app)
{
    private static readonly TimeSpan JobLimit = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_bulk_upload_is_granted_through_the_queue_function()
    {
        await using var queue = await QueueTriggerEngine.StartAsync(app.Host, "ProcessGrantWork");
        var csv = new StringBuilder("external_customer_id,email,units,reason\n");
        for (var i = 1; i <= 5; i++)
        {
            csv.Append(CultureInfo($"bulk-{app.Run}-{i},bulk-{app.Run}-{i}@credits.dev,{i * 10},worker protocol\n"));
        }

        csv.Append(CultureInfo($"bulk-{app.Run}-bad,,-3,negative units\n"));

        var upload = await app.Host.PostAsync($"api/bulk-grants?batch=host-{app.Run}", csv.ToString(), "text/csv");
        Assert.True(upload.Status == HttpStatusCode.Accepted, upload.ToString());
        var jobId = (string)upload.Json["jobId"]!;

        var status = await WaitForEndAsync(jobId);

        Assert.Equal("completed_with_errors", (string?)status.Json["status"]);
        Assert.Equal(5, (int)status.Json["totals"]!["granted"]!);
        Assert.Equal(1, (int)status.Json["totals"]!["rejected"]!);
        Assert.Equal(150m, (decimal)status.Json["unitsGranted"]!);
        for (var i = 1; i <= 5; i++)
        {
            var balance = await app.Host.GetAsync($"api/customers/bulk-{app.Run}-{i}/balance");
            Assert.Equal(i * 10m, (decimal)balance.Json["balance"]!);
        }

        var results = await app.Host.GetAsync($"api/bulk-grants/{jobId}/results");
        Assert.True(results.Status == HttpStatusCode.OK, results.ToString());
        Assert.StartsWith("text/csv", results.Header("Content-Type"));
        Assert.Equal(7, results.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        // The host's deliveries: a plan message and one chunk, each as the queue extension's ModelBindingData.
        var deliveries = queue.Forwarder.Deliveries;
        Assert.Equal(2, deliveries.Count);
        Assert.All(deliveries, d =>
        {
            Assert.True(d.Succeeded, d.Error);
            Assert.Equal("AzureStorageQueues", d.Source);
            Assert.Equal("application/json", d.ContentType);
            Assert.Equal(d.MessageId, d.Content.GetProperty("MessageId").GetString());
            Assert.Equal(1, d.DequeueCount);
        });
    }

    private async Task<HostHttpResponse> WaitForEndAsync(string jobId)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var status = await app.Host.GetAsync($"api/bulk-grants/{jobId}");
            Assert.True(status.Status == HttpStatusCode.OK, status.ToString());
            if (status.Json["finishedAt"] is not null)
            {
                return status;
            }

            Assert.True(clock.Elapsed < JobLimit, $"The job did not end within {JobLimit}: {status}");
            await Task.Delay(250);
        }
    }

    private static string CultureInfo(FormattableString text) => FormattableString.Invariant(text);
}
