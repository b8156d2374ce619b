using System.Text.Json;
using System.Text.Json.Nodes;
using PolarEmulator.Wire;

namespace PolarEmulator.Store;

/// <summary>A product with one Meter Credit benefit (<c>{meter_id, units, rollover}</c>), recurring monthly unless one-time.</summary>
internal sealed record ProductRecord(
    Guid Id,
    DateTimeOffset CreatedAt,
    string Name,
    int PriceAmount,
    bool IsRecurring,
    Guid PriceId,
    Guid BenefitId,
    Guid MeterId,
    long Units,
    bool Rollover);

/// <summary>A subscription as the emulator keeps it; mutated only under the store's lock.</summary>
internal sealed class SubscriptionRecord
{
    public required Guid Id { get; init; }

    public required CustomerRecord Customer { get; init; }

    public required ProductRecord Product { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? ModifiedAt { get; set; }

    public required string Status { get; set; }

    public required DateTimeOffset CurrentPeriodStart { get; set; }

    public required DateTimeOffset CurrentPeriodEnd { get; set; }

    public bool CancelAtPeriodEnd { get; set; }

    public DateTimeOffset? CanceledAt { get; set; }

    public DateTimeOffset? EndsAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    /// <summary>Whether the Meter Credit benefit is granted (until the subscription is revoked).</summary>
    public bool BenefitGranted { get; set; } = true;

    /// <summary>Trialing, active and past-due subscriptions count as active for <c>GET /v1/customers/?active=</c>.</summary>
    public bool IsActive => Status is "active" or "trialing" or "past_due";
}

/// <summary>An order (paid, then perhaps refunded); mutated only under the store's lock.</summary>
internal sealed class OrderRecord
{
    public required Guid Id { get; init; }

    public required CustomerRecord Customer { get; init; }

    public required ProductRecord Product { get; init; }

    public SubscriptionRecord? Subscription { get; init; }

    public required string BillingReason { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? ModifiedAt { get; set; }

    public required string Status { get; set; }

    public int RefundedAmount { get; set; }

    public required long Number { get; init; }

    /// <summary>The billing period a subscription order pays for (its line item's start and end).</summary>
    public DateTimeOffset? PeriodStart { get; init; }

    /// <summary>The end of the billing period a subscription order pays for.</summary>
    public DateTimeOffset? PeriodEnd { get; init; }
}

/// <summary>
/// Polar's <c>Subscription</c>, <c>Order</c>, <c>Product</c> and <c>BenefitMeterCredit</c> bodies for the emulator's
/// lifecycle, as webhook payloads and the <c>/__emulator/</c> answers carry them (checked against Polar's schema by the tests).
/// </summary>
internal static class LifecyclePayloads
{
    public static JsonNode Customer(CustomerRecord customer, Guid organizationId) =>
        JsonSerializer.SerializeToNode(customer.ToResource(organizationId), EmulatorJsonContext.Default.CustomerResource)!;

    public static JsonObject Subscription(SubscriptionRecord s, Guid organizationId)
    {
        var body = SubscriptionFields(s);
        body["customer"] = Customer(s.Customer, organizationId);
        body["product"] = Product(s.Product, organizationId);
        body["discount"] = null;
        body["prices"] = new JsonArray(Price(s.Product));
        body["meters"] = new JsonArray();
        body["pending_update"] = null;
        return body;
    }

    public static JsonObject Order(OrderRecord o, Guid organizationId)
    {
        var amount = o.Product.PriceAmount;
        var customer = o.Customer;
        return new JsonObject
        {
            ["id"] = o.Id,
            ["created_at"] = Time(o.CreatedAt),
            ["modified_at"] = Time(o.ModifiedAt),
            ["status"] = o.Status,
            ["paid"] = true,
            ["subtotal_amount"] = amount,
            ["discount_amount"] = 0,
            ["net_amount"] = amount,
            ["tax_amount"] = 0,
            ["total_amount"] = amount,
            ["applied_balance_amount"] = 0,
            ["due_amount"] = 0,
            ["refunded_amount"] = o.RefundedAmount,
            ["refunded_tax_amount"] = 0,
            ["currency"] = "usd",
            ["billing_reason"] = o.BillingReason,
            ["billing_name"] = customer.Name,
            ["billing_address"] = customer.BillingAddress is null ? null
                : JsonSerializer.SerializeToNode(customer.BillingAddress, EmulatorJsonContext.Default.AddressResource),
            ["invoice_number"] = null,
            ["units"] = null,
            ["is_invoice_generated"] = false,
            ["receipt_number"] = $"R-{o.Number:D6}",
            ["customer_id"] = customer.Id,
            ["product_id"] = o.Product.Id,
            ["discount_id"] = null,
            ["subscription_id"] = o.Subscription?.Id,
            ["checkout_id"] = null,
            ["metadata"] = new JsonObject(),
            ["platform_fee_amount"] = 0,
            ["platform_fee_currency"] = null,
            ["customer"] = Customer(customer, organizationId),
            ["product"] = ProductFields(o.Product, organizationId),
            ["discount"] = null,
            ["subscription"] = o.Subscription is null ? null : SubscriptionFields(o.Subscription),
            ["items"] = new JsonArray(new JsonObject
            {
                ["created_at"] = Time(o.CreatedAt),
                ["modified_at"] = null,
                ["id"] = StableUuid.From(o.Id, 1),
                ["label"] = o.Product.Name,
                ["amount"] = amount,
                ["tax_amount"] = 0,
                ["proration"] = false,
                ["product_price_id"] = o.Product.PriceId,
                ["start_timestamp"] = Time(o.Subscription is null ? null : o.PeriodStart),
                ["end_timestamp"] = Time(o.Subscription is null ? null : o.PeriodEnd),
            }),
            ["description"] = o.Product.Name,
            ["refundable_amount"] = amount - o.RefundedAmount,
            ["refundable_tax_amount"] = 0,
        };
    }

    /// <summary>The subscription's own fields, as <c>OrderSubscription</c> carries them (and <c>Subscription</c> begins with).</summary>
    private static JsonObject SubscriptionFields(SubscriptionRecord s) => new()
    {
        ["metadata"] = new JsonObject(),
        ["created_at"] = Time(s.CreatedAt),
        ["modified_at"] = Time(s.ModifiedAt),
        ["id"] = s.Id,
        ["amount"] = s.Product.PriceAmount,
        ["currency"] = "usd",
        ["recurring_interval"] = "month",
        ["recurring_interval_count"] = 1,
        ["status"] = s.Status,
        ["current_period_start"] = Time(s.CurrentPeriodStart),
        ["current_period_end"] = Time(s.CurrentPeriodEnd),
        ["current_meter_period_start"] = null,
        ["current_meter_period_end"] = null,
        ["trial_start"] = null,
        ["trial_end"] = null,
        ["cancel_at_period_end"] = s.CancelAtPeriodEnd,
        ["canceled_at"] = Time(s.CanceledAt),
        ["started_at"] = Time(s.CreatedAt),
        ["ends_at"] = Time(s.EndsAt),
        ["ended_at"] = Time(s.EndedAt),
        ["pause_at_period_end"] = false,
        ["paused_at"] = null,
        ["resumes_at"] = null,
        ["customer_id"] = s.Customer.Id,
        ["product_id"] = s.Product.Id,
        ["discount_id"] = null,
        ["checkout_id"] = null,
        ["units"] = null,
        ["customer_cancellation_reason"] = null,
        ["customer_cancellation_comment"] = null,
    };

    public static JsonObject Product(ProductRecord p, Guid organizationId)
    {
        var body = ProductFields(p, organizationId);
        body["is_deletable"] = true;
        body["prices"] = new JsonArray(Price(p));
        body["benefits"] = new JsonArray(Benefit(p, organizationId));
        body["medias"] = new JsonArray();
        body["attached_custom_fields"] = new JsonArray();
        return body;
    }

    /// <summary>The product's own fields, as <c>OrderProduct</c> carries them.</summary>
    private static JsonObject ProductFields(ProductRecord p, Guid organizationId) => new()
    {
        ["metadata"] = new JsonObject(),
        ["id"] = p.Id,
        ["created_at"] = Time(p.CreatedAt),
        ["modified_at"] = null,
        ["trial_interval"] = null,
        ["trial_interval_count"] = null,
        ["name"] = p.Name,
        ["description"] = null,
        ["visibility"] = "public",
        ["recurring_interval"] = p.IsRecurring ? "month" : null,
        ["recurring_interval_count"] = p.IsRecurring ? 1 : null,
        ["meter_interval"] = null,
        ["meter_interval_count"] = null,
        ["is_recurring"] = p.IsRecurring,
        ["is_archived"] = false,
        ["organization_id"] = organizationId,
    };

    private static JsonObject Price(ProductRecord p) => new()
    {
        ["created_at"] = Time(p.CreatedAt),
        ["modified_at"] = null,
        ["id"] = p.PriceId,
        ["source"] = "catalog",
        ["amount_type"] = "fixed",
        ["price_currency"] = "usd",
        ["tax_behavior"] = null,
        ["is_archived"] = false,
        ["product_id"] = p.Id,
        ["price_amount"] = p.PriceAmount,
    };

    private static JsonObject Benefit(ProductRecord p, Guid organizationId) => new()
    {
        ["id"] = p.BenefitId,
        ["created_at"] = Time(p.CreatedAt),
        ["modified_at"] = null,
        ["type"] = "meter_credit",
        ["description"] = $"{p.Units} credits",
        ["selectable"] = true,
        ["deletable"] = true,
        ["is_deleted"] = false,
        ["organization_id"] = organizationId,
        ["metadata"] = new JsonObject(),
        ["visibility"] = "public",
        ["properties"] = new JsonObject { ["units"] = p.Units, ["rollover"] = p.Rollover, ["meter_id"] = p.MeterId },
        ["visibility_configurable"] = false,
    };

    /// <summary>A date-time as Polar writes it, or null.</summary>
    public static JsonNode? Time(DateTimeOffset? value) => value is { } time ? JsonValue.Create(PolarDateTimeConverter.Format(time)) : null;
}

/// <summary>A webhook Polar would send: its <c>type</c> and the payload (<c>{"type","timestamp","data"}</c>; <c>api_version</c> is the endpoint's).</summary>
internal sealed record WebhookMessage(string Type, DateTimeOffset Timestamp, JsonObject Payload);
