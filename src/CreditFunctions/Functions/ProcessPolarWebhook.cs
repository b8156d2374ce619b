using Azure.Storage.Queues.Models;
using CreditGrants.Storage;
using CreditGrants.Storage.Webhooks;
using Microsoft.Azure.Functions.Worker;

namespace CreditFunctions.Functions;

/// <summary>
/// The webhook queue (<c>Webhooks:QueueName</c>): each message names a recorded delivery, dispatched to the webhook handlers
/// (the customer directory, and what plugs in beside it). A failure is thrown back to the host, which makes the message
/// visible again after host.json's <c>visibilityTimeout</c> and, after <c>maxDequeueCount</c> deliveries, moves it to the
/// poison queue; the delivery is recorded as failed first.
/// </summary>
public sealed class ProcessPolarWebhook(WebhookProcessor processor)
{
    [Function(nameof(ProcessPolarWebhook))]
    public Task Run(
        [QueueTrigger("%Webhooks:QueueName%", Connection = StorageAccount.DefaultConnectionName)] QueueMessage message,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return processor.HandleAsync(message.Body, message.DequeueCount, message.MessageId, cancellationToken);
    }
}
