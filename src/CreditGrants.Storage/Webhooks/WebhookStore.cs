using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Options;

namespace CreditGrants.Storage.Webhooks;

/// <summary>A message on the webhook queue: a claim check naming one recorded delivery (its body stays in its blob).</summary>
public sealed record WebhookMessage(string Key, string WebhookId)
{
    public string ToJson() => JsonSerializer.Serialize(this, WebhookJsonContext.Default.WebhookMessage);

    /// <summary>Reads a message; anything else is a <see cref="WebhookMessageException"/> (it can never succeed).</summary>
    public static WebhookMessage Parse(BinaryData body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return JsonSerializer.Deserialize(body, WebhookJsonContext.Default.WebhookMessage) is { Key.Length: > 0, WebhookId.Length: > 0 } message
                ? message
                : throw new WebhookMessageException("The queue message names no webhook delivery.");
        }
        catch (JsonException ex)
        {
            throw new WebhookMessageException($"The queue message is not a webhook message: {ex.Message}", ex);
        }
    }
}

/// <summary>A queue message that no retry can process.</summary>
public sealed class WebhookMessageException : Exception
{
    public WebhookMessageException(string message) : base(message) { }

    public WebhookMessageException() { }

    public WebhookMessageException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>camelCase JSON for webhook queue messages and receipts.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WebhookMessage))]
[JsonSerializable(typeof(WebhookReceipt))]
public sealed partial class WebhookJsonContext : JsonSerializerContext;

/// <summary>
/// Where webhook deliveries live in the app's storage account: the deliveries table (a row per <c>webhook-id</c>, and a row
/// per Polar object with the last version applied), the container of bodies as received, and the queue of deliveries to
/// process (with its poison queue).
/// </summary>
public sealed class WebhookStore
{
    private readonly Lazy<StorageAccount> _account;
    private readonly WebhookOptions _options;
    private volatile bool _created;

    public WebhookStore(Func<StorageAccount> account, IOptions<WebhookOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _account = new Lazy<StorageAccount>(account);
        _options = options.Value;
    }

    public WebhookOptions Options => _options;

    public QueueClient Queue => _account.Value.Queues.GetQueueClient(_options.QueueName);

    /// <summary>Where the Functions host moves a message after its last failed attempt.</summary>
    public QueueClient PoisonQueue => _account.Value.Queues.GetQueueClient(_options.QueueName + "-poison");

    public BlobContainerClient Bodies => _account.Value.Blobs.GetBlobContainerClient(_options.Container);

    internal TableClient Table => _account.Value.Tables.GetTableClient(_options.Table);

    /// <summary>Creates the table, container and queues unless they exist (the Bicep creates them in Azure; Azurite starts empty).</summary>
    public async Task EnsureCreatedAsync(CancellationToken cancellationToken)
    {
        if (_created)
        {
            return;
        }

        await Table.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
        await Bodies.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await Queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await PoisonQueue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        _created = true;
    }

    public Task SendAsync(WebhookMessage message, CancellationToken cancellationToken) =>
        Queue.SendMessageAsync(message.ToJson(), cancellationToken);

    internal async Task<WebhookDeliveryEntity?> GetDeliveryAsync(string key, CancellationToken cancellationToken)
    {
        var found = await Table.GetEntityIfExistsAsync<WebhookDeliveryEntity>(key, WebhookDeliveryEntity.Row, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    /// <summary>Adds a delivery's row; false when one with its key exists.</summary>
    internal async Task<bool> TryAddDeliveryAsync(WebhookDeliveryEntity delivery, CancellationToken cancellationToken)
    {
        try
        {
            var response = await Table.AddEntityAsync(delivery, cancellationToken).ConfigureAwait(false);
            delivery.ETag = response.Headers.ETag ?? default;
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>Writes a delivery read earlier; false when another writer changed it since. Its ETag is the new one after.</summary>
    internal async Task<bool> TryReplaceDeliveryAsync(WebhookDeliveryEntity delivery, CancellationToken cancellationToken)
    {
        try
        {
            var response = await Table.UpdateEntityAsync(delivery, delivery.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            delivery.ETag = response.Headers.ETag ?? default;
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 412 or 404)
        {
            return false;
        }
    }

    /// <summary>Keeps a body exactly as received (overwriting the same delivery's earlier copy, which holds the same bytes).</summary>
    internal Task UploadBodyAsync(string blobName, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        Bodies.GetBlobClient(blobName).UploadAsync(BinaryData.FromBytes(body), new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
        }, cancellationToken);

    internal async Task<BinaryData> DownloadBodyAsync(string blobName, CancellationToken cancellationToken)
    {
        var download = await Bodies.GetBlobClient(blobName).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
        return download.Value.Content;
    }

    internal async Task<WebhookObjectEntity?> GetObjectAsync(string kind, string id, CancellationToken cancellationToken)
    {
        var (partition, row) = WebhookObjectEntity.KeysOf(kind, id);
        var found = await Table.GetEntityIfExistsAsync<WebhookObjectEntity>(partition, row, cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    /// <summary>
    /// Records <paramref name="version"/> as the object's last applied version unless a later one is recorded; retried
    /// against concurrent writers, so the row only ever moves forward.
    /// </summary>
    internal async Task AdvanceObjectAsync(string kind, string id, DateTimeOffset version, string webhookId, string type, CancellationToken cancellationToken)
    {
        var (partition, row) = WebhookObjectEntity.KeysOf(kind, id);
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var current = await GetObjectAsync(kind, id, cancellationToken).ConfigureAwait(false);
            if (current is not null && current.Version >= version)
            {
                return;
            }

            var next = new WebhookObjectEntity { PartitionKey = partition, RowKey = row, Version = version, WebhookId = webhookId, Type = type };
            try
            {
                if (current is null)
                {
                    await Table.AddEntityAsync(next, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await Table.UpdateEntityAsync(next, current.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }

                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another delivery of the same object wrote first: read it again.
            }
        }
    }
}
