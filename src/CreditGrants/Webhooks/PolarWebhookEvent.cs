using System.Globalization;
using System.Text.Json;

namespace CreditGrants.Webhooks;

/// <summary>
/// One verified, schema-valid webhook of Polar's, as the delivery processor hands it to each <see cref="IPolarWebhookHandler"/>.
/// </summary>
/// <param name="Type">The event type (<c>customer.created</c>, <c>order.paid</c>, …), the payload's <c>type</c>.</param>
/// <param name="WebhookId">The <c>webhook-id</c> header: the same on every attempt of one delivery, and the key deliveries are deduplicated on.</param>
/// <param name="SentAt">The <c>webhook-timestamp</c> header of the attempt that was recorded (when Polar sent it).</param>
/// <param name="Payload">The whole body as Polar sent it (<c>type</c>, <c>timestamp</c>, <c>data</c>, and <c>api_version</c> when present).</param>
public sealed record PolarWebhookEvent(string Type, string WebhookId, DateTimeOffset SentAt, JsonElement Payload)
{
    /// <summary>The payload's <c>data</c>: the Customer, Order, Subscription, CustomerState or BenefitGrant the event is about.</summary>
    public JsonElement Data => Payload.GetProperty("data");

    /// <summary>When the event happened, the payload's <c>timestamp</c>; null when it cannot be read.</summary>
    public DateTimeOffset? OccurredAt => PolarObjectVersion.ReadTime(Payload, "timestamp");

    /// <summary>The Polar object the event is about and its version (see <see cref="PolarObjectVersion"/>); null when the data names no id.</summary>
    public PolarObjectVersion? Target => PolarObjectVersion.Of(Type, Payload);
}

/// <summary>
/// Which Polar object an event is about, and how recent its state in the payload is: <c>max(modified_at ?? created_at,
/// deleted_at)</c> of the data. Objects are told apart by kind (the event type before the dot; <c>customer.state_changed</c>
/// is <c>customer_state</c>, as its data is a customer's state, not the customer) and <c>data.id</c>. The delivery processor
/// keeps the last version applied per object and does not dispatch an event whose version is older (an update delivered
/// out of order); an equal version is dispatched.
/// </summary>
/// <param name="Kind">The object's kind: <c>customer</c>, <c>customer_state</c>, <c>order</c>, <c>subscription</c>, <c>benefit_grant</c>, …</param>
/// <param name="Id">The object's Polar id (<c>data.id</c>).</param>
/// <param name="Version">The object's state's time; null when the data has none of the time fields.</param>
public sealed record PolarObjectVersion(string Kind, string Id, DateTimeOffset? Version)
{
    /// <summary>The object of an event; null when its data is not an object with a string <c>id</c>.</summary>
    public static PolarObjectVersion? Of(string type, JsonElement payload)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (payload.ValueKind != JsonValueKind.Object || !payload.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(id.GetString()))
        {
            return null;
        }

        var kind = type == "customer.state_changed" ? "customer_state" : type.Split('.')[0];
        var changed = ReadTime(data, "modified_at") ?? ReadTime(data, "created_at");
        var deleted = ReadTime(data, "deleted_at");
        DateTimeOffset? version = (changed, deleted) switch
        {
            ({ } c, { } d) => c > d ? c : d,
            (null, { } d) => d,
            (var c, null) => c,
        };
        return new PolarObjectVersion(kind, id.GetString()!, version);
    }

    /// <summary>A date-time property of an object (RFC 3339), or null when absent, null or not a date-time.</summary>
    public static DateTimeOffset? ReadTime(JsonElement value, string property) =>
        value.ValueKind == JsonValueKind.Object && value.TryGetProperty(property, out var found) && found.ValueKind == JsonValueKind.String
        && DateTimeOffset.TryParse(found.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? time.ToUniversalTime()
            : null;
}

/// <summary>
/// Acts on Polar's webhooks: the customer directory, grant rules, carry-over of credits over a reset. Registered in DI
/// (<c>services.TryAddEnumerable(ServiceDescriptor.Singleton&lt;IPolarWebhookHandler, MyHandler&gt;())</c>); the delivery
/// processor calls every handler whose <see cref="CanHandle"/> takes an event's type, in registration order, with each verified,
/// schema-valid event that is not older than the state applied before (<see cref="PolarObjectVersion"/>).
/// <para>
/// Deliveries are processed at least once, so a handler must be idempotent: derive ids from the Polar object (order id,
/// subscription id and period), never from the delivery. A handler that completed is recorded on the delivery (by
/// <see cref="Name"/>) and not called again for it when another handler's failure makes the delivery run again. A handler
/// that throws fails the delivery, which the queue retries (host.json's <c>maxDequeueCount</c>) and then records as
/// failed; <see cref="PolarWebhookRejectedException"/> instead records the delivery as rejected for good, with its reason.
/// </para>
/// </summary>
public interface IPolarWebhookHandler
{
    /// <summary>A stable name, recorded on the delivery once this handler is done with it (default: the type's name).</summary>
    string Name => GetType().Name;

    /// <summary>Whether this handler takes events of this type.</summary>
    bool CanHandle(string eventType);

    /// <summary>Acts on one event.</summary>
    Task HandleAsync(PolarWebhookEvent webhook, CancellationToken cancellationToken);
}

/// <summary>Thrown by a handler for an event no retry can process: the delivery is recorded as rejected with this message.</summary>
public sealed class PolarWebhookRejectedException : Exception
{
    public PolarWebhookRejectedException(string message) : base(message) { }

    public PolarWebhookRejectedException() { }

    public PolarWebhookRejectedException(string message, Exception innerException) : base(message, innerException) { }
}
