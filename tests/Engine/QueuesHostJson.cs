using System.Text.Json;
using Azure.Storage.Queues;

namespace CreditGrants.Testing;

/// <summary>The <c>extensions.queues</c> section of the app's host.json, with the host's defaults for what it leaves out.</summary>
internal sealed record QueuesHostJson(int BatchSize, int NewBatchThreshold, TimeSpan MaxPollingInterval, TimeSpan VisibilityTimeout,
    int MaxDequeueCount, QueueMessageEncoding MessageEncoding)
{
    /// <summary>Sets the WebJobs queue extension's options as the host sets them from this section; a test may shorten
    /// <paramref name="visibilityTimeout"/> (the delay before a failed message is delivered again), and says so.</summary>
    public void ApplyTo(Microsoft.Azure.WebJobs.Host.QueuesOptions options, TimeSpan? visibilityTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.BatchSize = BatchSize;
        options.NewBatchThreshold = NewBatchThreshold;
        options.MaxPollingInterval = MaxPollingInterval;
        options.VisibilityTimeout = visibilityTimeout ?? VisibilityTimeout;
        options.MaxDequeueCount = MaxDequeueCount;
        options.MessageEncoding = MessageEncoding;
    }

    public static QueuesHostJson Read(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        var queues = document.RootElement.GetProperty("extensions").GetProperty("queues");
        int Int(string name, int fallback) => queues.TryGetProperty(name, out var v) ? v.GetInt32() : fallback;
        TimeSpan Time(string name, TimeSpan fallback) =>
            queues.TryGetProperty(name, out var v) ? TimeSpan.Parse(v.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : fallback;
        var encoding = queues.TryGetProperty("messageEncoding", out var e) && e.GetString() is "none"
            ? QueueMessageEncoding.None
            : QueueMessageEncoding.Base64;
        return new QueuesHostJson(Int("batchSize", 16), Int("newBatchThreshold", 8), Time("maxPollingInterval", TimeSpan.FromMinutes(1)),
            Time("visibilityTimeout", TimeSpan.Zero), Int("maxDequeueCount", 5), encoding);
    }
}
