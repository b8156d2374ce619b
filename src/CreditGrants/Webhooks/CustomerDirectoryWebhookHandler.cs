using System.Text.Json;
using CreditGrants.Customers;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Webhooks;

/// <summary>
/// Keeps the customer directory current from Polar's <c>customer.created</c>, <c>customer.updated</c> and
/// <c>customer.deleted</c> webhooks (docs/customer-directory.md, "Fed by webhooks"): a customer created or updated with an
/// external id is remembered as of the event's time (a read of it would record the same), a deleted one is forgotten, so grants to new signups cost no customer
/// request and a deleted customer stops counting as known at once instead of after <c>CustomerDirectory:TrustFor</c>.
/// Updates older than one applied before never reach it (the delivery processor drops them by <c>modified_at</c>).
/// </summary>
public sealed partial class CustomerDirectoryWebhookHandler(CustomerDirectory directory, ILogger<CustomerDirectoryWebhookHandler> logger)
    : IPolarWebhookHandler
{
    public const string Created = "customer.created";
    public const string Updated = "customer.updated";
    public const string Deleted = "customer.deleted";

    public string Name => "customer-directory";

    public bool CanHandle(string eventType) => eventType is Created or Updated or Deleted;

    public async Task HandleAsync(PolarWebhookEvent webhook, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        var customer = webhook.Data.Deserialize(PolarJsonContext.Default.Customer)
            ?? throw new PolarWebhookRejectedException($"The {webhook.Type} payload's data is not a customer.");
        if (customer.ExternalId is null)
        {
            // The directory maps external ids; a customer without one is not in it.
            LogNoExternalId(webhook.Type, customer.Id);
            return;
        }

        if (webhook.Type == Deleted || customer.DeletedAt is not null)
        {
            await directory.ForgetAsync(customer.ExternalId, cancellationToken).ConfigureAwait(false);
            LogForgotten(customer.Id);
            return;
        }

        // As of when it happened: a delivery retried for hours vouches for the customer only as of then.
        await directory.RememberAsync([customer], webhook.OccurredAt ?? webhook.SentAt, cancellationToken).ConfigureAwait(false);
        LogRemembered(webhook.Type, customer.Id);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Customer directory: {Type} of customer {CustomerId}, which has no external id; nothing to record")]
    private partial void LogNoExternalId(string type, Guid customerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Customer directory: customer {CustomerId} recorded from {Type}")]
    private partial void LogRemembered(string type, Guid customerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Customer directory: customer {CustomerId} deleted in Polar; its entry is dropped")]
    private partial void LogForgotten(Guid customerId);
}
