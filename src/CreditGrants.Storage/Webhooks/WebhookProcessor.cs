using System.Globalization;
using System.Text.Json;
using CreditGrants.Storage.Bulk;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Storage.Webhooks;

/// <summary>
/// Processes the webhook queue: each message names a recorded delivery, which is dispatched to every
/// <see cref="IPolarWebhookHandler"/> that takes its type, once. Copies of a message (a delivery received again before it was
/// processed, a redelivered message) find it processed, or claimed by the message processing it, and do nothing; an update
/// older than the version of its Polar object applied before (<see cref="PolarObjectVersion"/>) is recorded as superseded
/// and not dispatched. A failure is thrown back to the host, which retries the message (host.json's
/// <c>maxDequeueCount</c>, the same policy as the bulk queue); on the last attempt the delivery is recorded as failed first.
/// </summary>
public sealed partial class WebhookProcessor(WebhookStore store, IEnumerable<IPolarWebhookHandler> handlers, BulkQueuePolicy policy,
    TimeProvider time, ILogger<WebhookProcessor> logger)
{
    /// <summary>
    /// How long a message's claim on a delivery keeps other messages off it. Long, as only copies are kept off (the message
    /// holding the claim is redelivered by the queue if its worker dies, and takes its own claim back); released on failure.
    /// </summary>
    public static readonly TimeSpan Claim = TimeSpan.FromMinutes(10);

    private const int MaxReasonLength = 1000;
    private readonly IPolarWebhookHandler[] _handlers = [.. handlers];

    /// <param name="body">The message body, as the queue trigger hands it over (decoded).</param>
    /// <param name="dequeueCount">Which delivery of the message this is, from 1; at the policy's maximum it is the last.</param>
    /// <param name="messageId">The queue message's id: the claim's owner, the same on every redelivery of the message.</param>
    /// <param name="cancellationToken">The host's shutdown signal.</param>
    public async Task HandleAsync(BinaryData body, long dequeueCount, string messageId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        var message = WebhookMessage.Parse(body);
        await store.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        var delivery = await ClaimAsync(message, messageId, cancellationToken).ConfigureAwait(false);
        if (delivery is null)
        {
            return;
        }

        try
        {
            await ProcessAsync(delivery, messageId, cancellationToken).ConfigureAwait(false);
        }
        catch (PolarWebhookRejectedException ex)
        {
            await FinishAsync(delivery, messageId, WebhookDeliveryState.Rejected, Shorten(ex.Message), cancellationToken).ConfigureAwait(false);
            LogRejected(delivery.WebhookId, delivery.Type ?? "", ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var last = dequeueCount >= policy.MaxDequeueCount;
            LogAttemptFailed(delivery.WebhookId, delivery.Type ?? "", dequeueCount, policy.MaxDequeueCount, Describe(ex));
            await ReleaseAsync(delivery, messageId, last ? Describe(ex) : null).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The delivery, claimed for this message; null when there is nothing for it to do: no such delivery, finished, or
    /// claimed by another message that is processing it.
    /// </summary>
    private async Task<WebhookDeliveryEntity?> ClaimAsync(WebhookMessage message, string messageId, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var delivery = await store.GetDeliveryAsync(message.Key, cancellationToken).ConfigureAwait(false);
            if (delivery is null)
            {
                LogMissing(message.WebhookId);
                return null;
            }

            if (WebhookDeliveryState.IsFinished(delivery.State) || delivery.State == WebhookDeliveryState.Failed)
            {
                LogAlreadyDone(delivery.WebhookId, delivery.State);
                return null;
            }

            var now = time.GetUtcNow();
            if (delivery.ClaimedBy is { } owner && owner != messageId && delivery.ClaimedUntil > now)
            {
                // A copy of the message: the one holding the claim processes the delivery (and is redelivered if it fails).
                LogClaimedByAnother(delivery.WebhookId);
                return null;
            }

            delivery.ClaimedBy = messageId;
            delivery.ClaimedUntil = now + Claim;
            delivery.Attempts++;
            if (await store.TryReplaceDeliveryAsync(delivery, cancellationToken).ConfigureAwait(false))
            {
                return delivery;
            }
        }

        throw new InvalidOperationException($"Webhook {message.WebhookId}: its delivery changed under every attempt to claim it.");
    }

    private async Task ProcessAsync(WebhookDeliveryEntity delivery, string owner, CancellationToken cancellationToken)
    {
        var body = await store.DownloadBodyAsync(delivery.BodyBlob, cancellationToken).ConfigureAwait(false);
        using var document = JsonDocument.Parse(body);
        var payload = document.RootElement;
        var webhook = new PolarWebhookEvent(delivery.Type ?? payload.GetProperty("type").GetString()!, delivery.WebhookId,
            DateTimeOffset.FromUnixTimeSeconds(delivery.SentAt), payload);
        var target = webhook.Target;
        delivery.ObjectKind = target?.Kind;
        delivery.ObjectId = target?.Id;
        delivery.ObjectVersion = target?.Version;
        if (target is { Version: { } version })
        {
            var applied = await store.GetObjectAsync(target.Kind, target.Id, cancellationToken).ConfigureAwait(false);
            if (applied is not null && applied.Version > version)
            {
                var reason = string.Create(CultureInfo.InvariantCulture,
                    $"An update of {target.Kind} {target.Id} from {applied.Version:O} ({applied.Type}, delivery {applied.WebhookId}) was applied before; this one is from {version:O}.");
                await FinishAsync(delivery, owner, WebhookDeliveryState.Superseded, reason, cancellationToken).ConfigureAwait(false);
                LogSuperseded(delivery.WebhookId, webhook.Type, target.Kind, target.Id);
                return;
            }
        }

        var done = delivery.Handlers.ToList();
        foreach (var handler in _handlers.Where(h => h.CanHandle(webhook.Type)))
        {
            if (done.Contains(handler.Name, StringComparer.Ordinal))
            {
                continue;
            }

            await handler.HandleAsync(webhook, cancellationToken).ConfigureAwait(false);
            done.Add(handler.Name);
            delivery.HandledBy = string.Join(' ', done);
            await SaveAsync(delivery, owner, cancellationToken).ConfigureAwait(false);
        }

        if (target is { Version: { } applies })
        {
            await store.AdvanceObjectAsync(target.Kind, target.Id, applies, delivery.WebhookId, webhook.Type, cancellationToken).ConfigureAwait(false);
        }

        await FinishAsync(delivery, owner, WebhookDeliveryState.Processed, null, cancellationToken).ConfigureAwait(false);
        LogProcessed(delivery.WebhookId, webhook.Type, done.Count);
    }

    /// <summary>Writes the progress of the message that claimed the delivery (<paramref name="owner"/>).</summary>
    private async Task SaveAsync(WebhookDeliveryEntity delivery, string owner, CancellationToken cancellationToken)
    {
        if (!await store.TryReplaceDeliveryAsync(delivery, cancellationToken).ConfigureAwait(false))
        {
            // Only a receipt of the same webhook-id counting itself writes beside the claim holder: keep this message's
            // progress over its count.
            var current = await store.GetDeliveryAsync(delivery.PartitionKey, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Webhook {delivery.WebhookId}: its delivery row disappeared.");
            if (current.ClaimedBy != owner || WebhookDeliveryState.IsFinished(current.State))
            {
                throw new InvalidOperationException($"Webhook {delivery.WebhookId}: another message took the delivery over.");
            }

            delivery.Receipts = current.Receipts;
            delivery.ETag = current.ETag;
            if (!await store.TryReplaceDeliveryAsync(delivery, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"Webhook {delivery.WebhookId}: its delivery changed while it was processed.");
            }
        }
    }

    private Task FinishAsync(WebhookDeliveryEntity delivery, string owner, string state, string? reason, CancellationToken cancellationToken)
    {
        delivery.State = state;
        delivery.Reason = reason;
        delivery.ProcessedAt = time.GetUtcNow();
        delivery.ClaimedBy = null;
        delivery.ClaimedUntil = null;
        return SaveAsync(delivery, owner, cancellationToken);
    }

    /// <summary>
    /// Gives the claim back after a failed attempt, so the retry (or a copy) can take it at once; on the last attempt the
    /// delivery is recorded as failed with the reason. Best effort: a claim not given back lapses by itself.
    /// </summary>
    private async Task ReleaseAsync(WebhookDeliveryEntity delivery, string owner, string? failure)
    {
        try
        {
            delivery.ClaimedBy = null;
            delivery.ClaimedUntil = null;
            if (failure is not null)
            {
                delivery.State = WebhookDeliveryState.Failed;
                delivery.Reason = failure;
                delivery.ProcessedAt = time.GetUtcNow();
                LogFailed(delivery.WebhookId, delivery.Type ?? "", delivery.Attempts, failure);
            }

            await SaveAsync(delivery, owner, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRecordFailed(delivery.WebhookId, Describe(ex));
        }
    }

    /// <summary>A failure as one line, as the bulk worker records its own (no token, storage errors by their code).</summary>
    private static string Describe(Exception exception) => BulkWorker.Describe(exception);

    private static string Shorten(string text) => text.Length <= MaxReasonLength ? text : string.Concat(text.AsSpan(0, MaxReasonLength - 1), "…");

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} ({Type}) processed by {Handlers} handlers")]
    private partial void LogProcessed(string webhookId, string type, int handlers);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} ({Type}) is older than the {Kind} {ObjectId} applied before; not dispatched")]
    private partial void LogSuperseded(string webhookId, string type, string kind, string objectId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} is {State} already; nothing done again")]
    private partial void LogAlreadyDone(string webhookId, string state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} is being processed by another copy of its message; this one does nothing")]
    private partial void LogClaimedByAnother(string webhookId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {WebhookId}: no delivery of that id is recorded; the message is dropped")]
    private partial void LogMissing(string webhookId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {WebhookId} ({Type}) rejected by a handler: {Reason}")]
    private partial void LogRejected(string webhookId, string type, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {WebhookId} ({Type}): attempt {Attempt} of {MaxAttempts} failed: {Reason}")]
    private partial void LogAttemptFailed(string webhookId, string type, long attempt, int maxAttempts, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook {WebhookId} ({Type}) failed for good after {Attempts} attempts (its message goes to the poison queue; the same webhook-id sent again is processed anew): {Reason}")]
    private partial void LogFailed(string webhookId, string type, int attempts, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook {WebhookId}: could not record the attempt's failure: {Reason}")]
    private partial void LogRecordFailed(string webhookId, string reason);
}
