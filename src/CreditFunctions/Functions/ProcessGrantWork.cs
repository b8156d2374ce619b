using Azure.Storage.Queues.Models;
using CreditGrants.Storage;
using CreditGrants.Storage.Bulk;
using Microsoft.Azure.Functions.Worker;

namespace CreditFunctions.Functions;

/// <summary>
/// The grant work queue (<c>Bulk:QueueName</c>): plan and chunk messages of bulk jobs. A failure is thrown back to the
/// host, which makes the message visible again after host.json's <c>visibilityTimeout</c> and, after
/// <c>maxDequeueCount</c> deliveries, moves it to the poison queue; the worker records the failure on the job first.
/// </summary>
public sealed class ProcessGrantWork(BulkWorker worker)
{
    [Function(nameof(ProcessGrantWork))]
    public Task Run(
        [QueueTrigger("%Bulk:QueueName%", Connection = StorageAccount.DefaultConnectionName)] QueueMessage message,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return worker.HandleAsync(message.Body, message.DequeueCount, message.MessageId, cancellationToken);
    }
}
