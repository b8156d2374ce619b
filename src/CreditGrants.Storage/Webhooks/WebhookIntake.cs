using CreditGrants.Webhooks;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Storage.Webhooks;

/// <summary>What the endpoint did with a verified delivery, as it answers Polar (and <c>credits webhooks replay</c>).</summary>
/// <param name="WebhookId">The delivery's <c>webhook-id</c>.</param>
/// <param name="Outcome"><see cref="Accepted"/>, <see cref="Duplicate"/>, <see cref="Rejected"/> or <see cref="Ignored"/>.</param>
/// <param name="Type">The payload's event type, when it has one.</param>
/// <param name="Reason">Why it was rejected or ignored; for a duplicate, where the earlier delivery stands.</param>
public sealed record WebhookReceipt(string WebhookId, string Outcome, string? Type = null, string? Reason = null)
{
    /// <summary>Recorded and queued: it is processed in the background (202).</summary>
    public const string Accepted = "accepted";

    /// <summary>This <c>webhook-id</c> was processed (or rejected, ignored, superseded) before: nothing is done again (200).</summary>
    public const string Duplicate = "duplicate";

    /// <summary>Polar's (signed) but not a valid payload: recorded with the reason, acknowledged so that Polar does not retry (200).</summary>
    public const string Rejected = "rejected";

    /// <summary>An event type this app does not know: recorded, acknowledged, not processed (200).</summary>
    public const string Ignored = "ignored";
}

/// <summary>
/// The endpoint's part after the signature: records a delivery (its body in a blob, a row keyed by its <c>webhook-id</c>),
/// validates it against Polar's payload schemas, and queues it for <see cref="WebhookProcessor"/>; a few storage round trips,
/// so Polar's 10-second timeout is never near. The same <c>webhook-id</c> again does nothing twice: a finished delivery is a
/// duplicate; one not processed yet is queued again (the processor's claim makes the extra message harmless), as the first
/// receipt may have stopped before queueing; one that failed for good is queued anew.
/// </summary>
public sealed partial class WebhookIntake(WebhookStore store, PolarWebhookSchemas schemas, TimeProvider time, ILogger<WebhookIntake> logger)
{
    /// <summary>Records and queues a delivery whose signature was verified. Throws when storage fails (the endpoint answers 503; Polar retries).</summary>
    /// <param name="webhookId">The <c>webhook-id</c> header.</param>
    /// <param name="sentAt">The <c>webhook-timestamp</c> header, Unix seconds.</param>
    /// <param name="body">The body exactly as received.</param>
    /// <param name="cancellationToken">The request's cancellation.</param>
    public async Task<WebhookReceipt> ReceiveAsync(string webhookId, long sentAt, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(webhookId);
        await store.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        var key = WebhookDeliveryEntity.KeyOf(webhookId);
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var existing = await store.GetDeliveryAsync(key, cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                if (await RepeatAsync(existing, cancellationToken).ConfigureAwait(false) is { } repeat)
                {
                    return repeat;
                }

                continue;
            }

            var validation = schemas.Validate(body);
            var delivery = new WebhookDeliveryEntity
            {
                PartitionKey = key,
                WebhookId = webhookId,
                Type = validation.Type,
                SentAt = sentAt,
                ReceivedAt = time.GetUtcNow(),
                Receipts = 1,
                BodyBlob = key + ".json",
                State = validation.Verdict switch
                {
                    WebhookVerdict.Valid => WebhookDeliveryState.Received,
                    WebhookVerdict.UnknownType => WebhookDeliveryState.Ignored,
                    _ => WebhookDeliveryState.Rejected,
                },
                Reason = validation.Reason,
            };

            // The body first: a row always has its body.
            await store.UploadBodyAsync(delivery.BodyBlob, body, cancellationToken).ConfigureAwait(false);
            if (!await store.TryAddDeliveryAsync(delivery, cancellationToken).ConfigureAwait(false))
            {
                // The same delivery arrived twice at once, and the other receipt recorded it first.
                continue;
            }

            switch (validation.Verdict)
            {
                case WebhookVerdict.Valid:
                    await store.SendAsync(new WebhookMessage(key, webhookId), cancellationToken).ConfigureAwait(false);
                    LogAccepted(webhookId, validation.Type!);
                    return new WebhookReceipt(webhookId, WebhookReceipt.Accepted, validation.Type);
                case WebhookVerdict.UnknownType:
                    LogIgnored(webhookId, validation.Type!);
                    return new WebhookReceipt(webhookId, WebhookReceipt.Ignored, validation.Type, validation.Reason);
                default:
                    LogRejected(webhookId, validation.Type ?? "(none)", validation.Reason!);
                    return new WebhookReceipt(webhookId, WebhookReceipt.Rejected, validation.Type, validation.Reason);
            }
        }

        throw new InvalidOperationException($"Delivery {webhookId} changed under every attempt to record it; Polar will send it again.");
    }

    /// <summary>A <c>webhook-id</c> recorded before; null when another writer changed its row meanwhile (read it again).</summary>
    private async Task<WebhookReceipt?> RepeatAsync(WebhookDeliveryEntity delivery, CancellationToken cancellationToken)
    {
        delivery.Receipts++;
        if (WebhookDeliveryState.IsFinished(delivery.State))
        {
            // Counting the receipt is only for the record: a lost race costs nothing.
            await store.TryReplaceDeliveryAsync(delivery, cancellationToken).ConfigureAwait(false);
            LogDuplicate(delivery.WebhookId, delivery.State, delivery.Receipts);
            return new WebhookReceipt(delivery.WebhookId, WebhookReceipt.Duplicate, delivery.Type, $"Received before and {delivery.State}; nothing was done again.");
        }

        var failed = delivery.State == WebhookDeliveryState.Failed;
        if (failed)
        {
            // Sent again after it failed for good (a redelivery from Polar's dashboard, a replay): it gets new attempts.
            delivery.State = WebhookDeliveryState.Received;
            delivery.Reason = null;
            delivery.Attempts = 0;
            delivery.ClaimedBy = null;
            delivery.ClaimedUntil = null;
        }

        if (!await store.TryReplaceDeliveryAsync(delivery, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        // Not processed yet: the first receipt may have stopped before queueing it, so it is queued again.
        await store.SendAsync(new WebhookMessage(delivery.PartitionKey, delivery.WebhookId), cancellationToken).ConfigureAwait(false);
        LogQueuedAgain(delivery.WebhookId, failed ? "it failed before" : "it was not processed yet", delivery.Receipts);
        return new WebhookReceipt(delivery.WebhookId, WebhookReceipt.Accepted, delivery.Type);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} ({Type}) recorded and queued")]
    private partial void LogAccepted(string webhookId, string type);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId}: an event type this app does not know ({Type}); recorded and ignored")]
    private partial void LogIgnored(string webhookId, string type);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {WebhookId} ({Type}) rejected, acknowledged so Polar does not retry it: {Reason}")]
    private partial void LogRejected(string webhookId, string type, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} received again ({Receipts} receipts) and already {State}; nothing done again")]
    private partial void LogDuplicate(string webhookId, string state, int receipts);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} received again ({Receipts} receipts): queued again, as {Why}")]
    private partial void LogQueuedAgain(string webhookId, string why, int receipts);
}
