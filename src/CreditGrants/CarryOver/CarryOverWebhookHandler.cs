using System.Text.Json;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Logging;

namespace CreditGrants.CarryOver;

/// <summary>
/// Carries credits over a meter reset (docs/credit-lifecycle.md, "Carry-over") when Polar says a customer's subscription or
/// meters changed: <c>subscription.created|active|updated|cycled</c> and <c>customer.state_changed</c>. Polar sends no webhook
/// for a reset itself; resets are confirmed by the <c>meter.reset</c> events its event store lists, never guessed. A
/// <c>subscription.cycled</c> announces one: until a reset since the event (less <see cref="ResetTolerance"/>) is listed, the
/// delivery fails with <see cref="CarryOverNotReadyException"/> and the queue retries it (a minute apart); after
/// <see cref="WaitForReset"/> it is processed with the resets listed (a renewal without a metered price or Meter Credit
/// benefit resets nothing). The other events carry over at the resets listed. Re-grant ids come from the grant and the reset
/// event, so redeliveries, replays and events out of order carry each grant once per reset.
/// </summary>
public sealed partial class CarryOverWebhookHandler(CarryOverService carryOver, TimeProvider time, ILogger<CarryOverWebhookHandler> logger)
    : IPolarWebhookHandler
{
    public const string SubscriptionCycled = "subscription.cycled";
    public const string CustomerStateChanged = "customer.state_changed";

    /// <summary>How much earlier than the webhook's <c>timestamp</c> its reset may be dated.</summary>
    public static readonly TimeSpan ResetTolerance = TimeSpan.FromMinutes(5);

    /// <summary>How long after a <c>subscription.cycled</c> its reset is waited for (Polar's event store lags by seconds).</summary>
    public static readonly TimeSpan WaitForReset = TimeSpan.FromMinutes(3);

    public string Name => "carry-over";

    public bool CanHandle(string eventType) =>
        eventType is "subscription.created" or "subscription.active" or "subscription.updated" or SubscriptionCycled or CustomerStateChanged;

    public async Task HandleAsync(PolarWebhookEvent webhook, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        var data = webhook.Data;
        var customer = webhook.Type == CustomerStateChanged ? data : data.TryGetProperty("customer", out var c) ? c : default;
        if (customer.ValueKind != JsonValueKind.Object || !customer.TryGetProperty("external_id", out var id)
            || id.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(id.GetString()))
        {
            // Carry-over grants are read by the customer's external id (as the ledger reads them): a customer without one has none.
            LogNoExternalId(webhook.Type, webhook.WebhookId);
            return;
        }

        DateTimeOffset? expected = null;
        if (webhook.Type == SubscriptionCycled && webhook.OccurredAt is { } occurred)
        {
            if (time.GetUtcNow() - occurred < WaitForReset)
            {
                expected = occurred - ResetTolerance;
            }
            else
            {
                LogNotWaiting(webhook.WebhookId, occurred);
            }
        }

        var outcome = await carryOver.CarryOverAsync(id.GetString()!, expected, cancellationToken).ConfigureAwait(false);
        LogDone(webhook.Type, webhook.WebhookId, outcome.Meters.Count, outcome.Granted);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Carry-over: {Type} {WebhookId} names a customer without an external id; nothing to carry")]
    private partial void LogNoExternalId(string type, string webhookId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Carry-over: subscription.cycled {WebhookId} from {OccurredAt} is past the wait for its reset; the resets listed are taken")]
    private partial void LogNotWaiting(string webhookId, DateTimeOffset occurredAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Carry-over: {Type} {WebhookId}: {Meters} meters with carry-over grants, {Granted} new re-grants")]
    private partial void LogDone(string type, string webhookId, int meters, int granted);
}
