using System.Text.Json;
using CreditGrants.Storage.Bulk;
using Microsoft.Extensions.Configuration;

namespace CreditFunctions;

/// <summary>
/// The queue host's retry policy as the worker must know it: host.json's <c>extensions.queues.maxDequeueCount</c>, which an
/// app setting <c>AzureFunctionsJobHost__extensions__queues__maxDequeueCount</c> overrides (as it does for the host).
/// </summary>
public static class HostQueueSettings
{
    public const string OverrideKey = "AzureFunctionsJobHost:extensions:queues:maxDequeueCount";

    public static BulkQueuePolicy Read(IConfiguration configuration, string hostJsonPath)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (int.TryParse(configuration[OverrideKey], out var configured) && configured > 0)
        {
            return new BulkQueuePolicy(configured);
        }

        if (!File.Exists(hostJsonPath))
        {
            return BulkQueuePolicy.Default;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(hostJsonPath), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        return document.RootElement.TryGetProperty("extensions", out var extensions)
            && extensions.TryGetProperty("queues", out var queues)
            && queues.TryGetProperty("maxDequeueCount", out var count)
            && count.TryGetInt32(out var fromFile) && fromFile > 0
                ? new BulkQueuePolicy(fromFile)
                : BulkQueuePolicy.Default;
    }
}
