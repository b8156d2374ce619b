using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace CreditFunctions.Tests;

/// <summary>The Functions host's part for a queue trigger, played by the tests that run a queue function without the host.</summary>
internal static class HostQueue
{
    /// <summary>
    /// Delivers messages to <paramref name="run"/> until the queue is empty, as the host would: a message whose function
    /// returns is deleted; one that throws becomes visible again (at once here, after host.json's visibilityTimeout in
    /// Azure) and, once thrown on its <paramref name="maxDequeueCount"/>th delivery, is moved to the poison queue.
    /// </summary>
    public static async Task<List<(QueueMessage Message, Exception? Error)>> DrainAsync(QueueClient queue, QueueClient poison, int maxDequeueCount,
        Func<QueueMessage, Task> run, Action<QueueMessage>? received = null, int limit = 10_000)
    {
        var deliveries = new List<(QueueMessage, Exception?)>();
        while (deliveries.Count < limit)
        {
            QueueMessage[] messages = (await queue.ReceiveMessagesAsync(maxMessages: 32, visibilityTimeout: TimeSpan.FromMinutes(5))).Value;
            if (messages.Length == 0)
            {
                return deliveries;
            }

            foreach (var message in messages)
            {
                received?.Invoke(message);
                try
                {
                    await run(message);
                    await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                    deliveries.Add((message, null));
                }
                catch (Exception ex)
                {
                    deliveries.Add((message, ex));
                    if (message.DequeueCount >= maxDequeueCount)
                    {
                        await poison.SendMessageAsync(message.Body);
                        await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                    }
                    else
                    {
                        await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero);
                    }
                }
            }
        }

        throw new InvalidOperationException($"The queue {queue.Name} never emptied.");
    }
}
