using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Store;

/// <summary>
/// Polar's own lifecycle: system events for customers, subscriptions and one-time orders of a product with a Meter Credit
/// benefit (writing <c>meter.reset</c> and <c>meter.credited</c> as Polar's server does), and the webhooks all of it sends.
/// </summary>
internal sealed partial class EmulatorStore
{
    /// <summary>The system event that starts a customer's meter window afresh.</summary>
    public const string MeterResetEvent = "meter.reset";

    /// <summary>The system event of Polar's Meter Credit benefit: <c>{meter_id, units, rollover}</c>.</summary>
    public const string MeterCreditedEvent = "meter.credited";

    private readonly Dictionary<Guid, SubscriptionRecord> _subscriptions = [];
    private readonly Dictionary<Guid, OrderRecord> _orders = [];

    /// <summary>Receives every webhook Polar would send, in order, as it happens (called under the lock: it must not block).</summary>
    public Action<WebhookMessage>? Webhooks { get; set; }

    /// <summary>
    /// Subscribes a customer to a new monthly product with a Meter Credit benefit: order paid, benefit granted
    /// (<c>meter.credited</c>), and, when the product has a metered price on the meter, a <c>meter.reset</c> first.
    /// </summary>
    public (JsonObject? Subscription, Refusal? Refusal) Subscribe(LifecycleDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        JsonObject body;
        lock (_lock)
        {
            var resolved = Resolve(draft);
            if (resolved.Refusal is { } refusal)
            {
                return (null, refusal);
            }

            var (customer, product) = resolved.Found!.Value;
            var now = Now();
            var subscription = new SubscriptionRecord
            {
                Id = Guid.NewGuid(),
                Customer = customer,
                Product = product,
                CreatedAt = now,
                Status = "active",
                CurrentPeriodStart = now,
                CurrentPeriodEnd = now.AddMonths(1),
            };
            _subscriptions[subscription.Id] = subscription;
            customer.HasActiveSubscription = true;
            var order = NewOrder(customer, product, subscription, "subscription_create", now);

            Publish("subscription.created", () => LifecyclePayloads.Subscription(subscription, OrganizationId));
            Publish("order.paid", () => LifecyclePayloads.Order(order, OrganizationId));
            Publish("subscription.active", () => LifecyclePayloads.Subscription(subscription, OrganizationId));
            if (draft.MeteredPrice)
            {
                // A subscription with a metered price on the meter starts its usage window at creation.
                WriteMeterEvent(MeterResetEvent, customer, product.MeterId, units: null, rollover: null);
            }

            WriteMeterEvent(MeterCreditedEvent, customer, product.MeterId, product.Units, product.Rollover);
            PublishState(customer);
            body = LifecyclePayloads.Subscription(subscription, OrganizationId);
        }

        _changed();
        return (body, null);
    }

    /// <summary>A one-time purchase of a product with a Meter Credit benefit: order paid, units credited once, never reset.</summary>
    public (JsonObject? Order, Refusal? Refusal) Purchase(LifecycleDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        JsonObject body;
        lock (_lock)
        {
            var resolved = Resolve(draft with { Recurring = false });
            if (resolved.Refusal is { } refusal)
            {
                return (null, refusal);
            }

            var (customer, product) = resolved.Found!.Value;
            var order = NewOrder(customer, product, subscription: null, "purchase", Now());
            Publish("order.paid", () => LifecyclePayloads.Order(order, OrganizationId));
            WriteMeterEvent(MeterCreditedEvent, customer, product.MeterId, product.Units, product.Rollover);
            PublishState(customer);
            body = LifecyclePayloads.Order(order, OrganizationId);
        }

        _changed();
        return (body, null);
    }

    /// <summary>
    /// Renews a subscription now, as Polar does at the end of a billing period: the benefit cycles (rollover computed,
    /// <c>meter.reset</c>, the rollover credited, then the period's units credited), and a cycle order is paid. A subscription
    /// set to cancel at period end ends instead (as <see cref="Cancel"/> immediately). Null when no such subscription is live.
    /// </summary>
    public JsonObject? Cycle(Guid id) => ChangeLiveSubscription(id, (subscription, now) =>
    {
        if (subscription.CancelAtPeriodEnd)
        {
            Revoke(subscription, now);
        }
        else
        {
            Renew(subscription, now);
        }
    });

    /// <summary>
    /// Cancels a subscription: at the end of the period (it stays active, <c>subscription.canceled</c>), or immediately
    /// (also revoked: status canceled, the benefit revoked with a <c>meter.credited</c> of minus its units). Null when no
    /// such subscription is live.
    /// </summary>
    public JsonObject? Cancel(Guid id, bool immediately) => ChangeLiveSubscription(id, (subscription, now) =>
    {
        if (immediately)
        {
            Revoke(subscription, now);
            return;
        }

        subscription.CancelAtPeriodEnd = true;
        subscription.CanceledAt = now;
        subscription.EndsAt = subscription.CurrentPeriodEnd;
        subscription.ModifiedAt = now;
        Publish("subscription.canceled", () => LifecyclePayloads.Subscription(subscription, OrganizationId));
        PublishState(subscription.Customer);
    });

    /// <summary>Applies a change to a live subscription of a customer not deleted, under the lock; its body after, or null.</summary>
    private JsonObject? ChangeLiveSubscription(Guid id, Action<SubscriptionRecord, DateTimeOffset> change)
    {
        JsonObject body;
        lock (_lock)
        {
            if (!_subscriptions.TryGetValue(id, out var subscription) || !subscription.IsActive || subscription.Customer.IsDeleted)
            {
                return null;
            }

            change(subscription, Now());
            body = LifecyclePayloads.Subscription(subscription, OrganizationId);
        }

        _changed();
        return body;
    }

    /// <summary>A renewal: the next period, its order paid, the Meter Credit benefit cycled.</summary>
    private void Renew(SubscriptionRecord subscription, DateTimeOffset now)
    {
        Settle();
        var product = subscription.Product;
        var customer = subscription.Customer;
        var rollover = _customerMetersById.GetValueOrDefault(CustomerMeterRecord.IdFor(customer.Id, product.MeterId))?.RolloverUnits ?? 0;
        subscription.CurrentPeriodStart = subscription.CurrentPeriodEnd;
        subscription.CurrentPeriodEnd = subscription.CurrentPeriodEnd.AddMonths(1);
        subscription.ModifiedAt = now;
        var order = NewOrder(customer, product, subscription, "subscription_cycle", now);
        Publish("subscription.cycled", () => LifecyclePayloads.Subscription(subscription, OrganizationId));
        Publish("order.paid", () => LifecyclePayloads.Order(order, OrganizationId));
        WriteMeterEvent(MeterResetEvent, customer, product.MeterId, units: null, rollover: null);
        if (rollover > 0)
        {
            WriteMeterEvent(MeterCreditedEvent, customer, product.MeterId, rollover, rollover: true);
        }

        WriteMeterEvent(MeterCreditedEvent, customer, product.MeterId, product.Units, product.Rollover);
        PublishState(customer);
    }

    /// <summary>
    /// Refunds an order in full (<c>order.refunded</c>); with <paramref name="revokeBenefits"/> a one-time purchase's credits are
    /// revoked (<c>meter.credited</c> of minus its units). Null when no such paid order exists.
    /// </summary>
    public JsonObject? Refund(Guid id, bool revokeBenefits)
    {
        JsonObject body;
        lock (_lock)
        {
            if (!_orders.TryGetValue(id, out var order) || order.Status != "paid")
            {
                return null;
            }

            var now = Now();
            order.Status = "refunded";
            order.RefundedAmount = order.Product.PriceAmount;
            order.ModifiedAt = now;
            Publish("order.refunded", () => LifecyclePayloads.Order(order, OrganizationId));
            if (revokeBenefits && order.Subscription is null && !order.Customer.IsDeleted)
            {
                WriteMeterEvent(MeterCreditedEvent, order.Customer, order.Product.MeterId, -order.Product.Units, order.Product.Rollover);
                PublishState(order.Customer);
            }

            body = LifecyclePayloads.Order(order, OrganizationId);
        }

        _changed();
        return body;
    }

    /// <summary>What Polar does to a customer's subscriptions when the customer is deleted: each is canceled and revoked at once.</summary>
    private void RevokeSubscriptionsOf(CustomerRecord customer)
    {
        foreach (var subscription in _subscriptions.Values.Where(s => s.Customer == customer && s.IsActive).ToList())
        {
            Revoke(subscription, Now());
        }
    }

    /// <summary>Ends a subscription now: canceled and revoked, its benefit's credits taken back.</summary>
    private void Revoke(SubscriptionRecord subscription, DateTimeOffset now)
    {
        subscription.Status = "canceled";
        subscription.CanceledAt ??= now;
        subscription.EndsAt = now;
        subscription.EndedAt = now;
        subscription.ModifiedAt = now;
        var customer = subscription.Customer;
        customer.HasActiveSubscription = _subscriptions.Values.Any(s => s.Customer == customer && s.IsActive);
        Publish("subscription.canceled", () => LifecyclePayloads.Subscription(subscription, OrganizationId));
        Publish("subscription.revoked", () => LifecyclePayloads.Subscription(subscription, OrganizationId));
        if (subscription.BenefitGranted && !customer.IsDeleted)
        {
            subscription.BenefitGranted = false;
            WriteMeterEvent(MeterCreditedEvent, customer, subscription.Product.MeterId, -subscription.Product.Units, subscription.Product.Rollover);
        }

        PublishState(customer);
    }

    private (Refusal? Refusal, (CustomerRecord Customer, ProductRecord Product)? Found) Resolve(LifecycleDraft draft)
    {
        var customer = FindCustomer(draft.CustomerId, draft.ExternalCustomerId);
        if (customer is null)
        {
            var field = draft.CustomerId is not null ? "customer_id" : "external_customer_id";
            return (new Refusal([Issues.Polar("value_error", Issues.Loc("body", field),
                Issues.Text(draft.CustomerId?.ToString() ?? draft.ExternalCustomerId ?? ""), "Customer not found.")]), null);
        }

        if (!_metersById.ContainsKey(draft.MeterId))
        {
            return (new Refusal([Issues.Polar("value_error", Issues.Loc("body", "meter_id"), Issues.Text(draft.MeterId.ToString()), "Meter not found.")]), null);
        }

        var product = new ProductRecord(Guid.NewGuid(), Now(), draft.ProductName, draft.Amount, draft.Recurring, Guid.NewGuid(), Guid.NewGuid(),
            draft.MeterId, draft.Units, draft.Rollover);
        return (null, (customer, product));
    }

    private OrderRecord NewOrder(CustomerRecord customer, ProductRecord product, SubscriptionRecord? subscription, string reason, DateTimeOffset now)
    {
        var order = new OrderRecord
        {
            Id = Guid.NewGuid(),
            Customer = customer,
            Product = product,
            Subscription = subscription,
            BillingReason = reason,
            CreatedAt = now,
            Status = "paid",
            Number = _orders.Count + 1,
            PeriodStart = subscription?.CurrentPeriodStart,
            PeriodEnd = subscription?.CurrentPeriodEnd,
        };
        _orders[order.Id] = order;
        return order;
    }

    /// <summary>Writes <c>meter.reset</c> (<c>{meter_id}</c>) or <c>meter.credited</c> (<c>{meter_id, units, rollover}</c>) for a customer.</summary>
    private void WriteMeterEvent(string name, CustomerRecord customer, Guid meterId, long? units, bool? rollover)
    {
        var metadata = new JsonObject { ["meter_id"] = meterId.ToString() };
        if (units is { } credited)
        {
            metadata["units"] = credited;
            metadata["rollover"] = rollover ?? false;
        }

        AddSystemEvent(name, customer, metadata);
    }

    /// <summary>Writes <c>customer.created|updated|deleted</c> and sends the webhook of the same name.</summary>
    private void WriteCustomerEvent(string name, CustomerRecord customer, JsonObject? updatedFields = null)
    {
        var metadata = new JsonObject
        {
            ["customer_id"] = customer.Id.ToString(),
            ["customer_email"] = customer.Email,
            ["customer_name"] = customer.Name,
            ["customer_external_id"] = customer.ExternalId,
        };
        if (updatedFields is not null)
        {
            metadata["updated_fields"] = updatedFields;
        }

        AddSystemEvent(name, customer, metadata);
        Publish(name, () => LifecyclePayloads.Customer(customer, OrganizationId));
    }

    /// <summary>The fields of a customer update as Polar's <c>customer.updated</c> event lists them: those the update set.</summary>
    private static JsonObject UpdatedFields(CustomerPatch patch, CustomerRecord customer)
    {
        var fields = new JsonObject();
        if (patch.Name.IsSet)
        {
            fields["name"] = customer.Name;
            fields["billing_name"] = customer.Name;
        }

        if (patch.Email.IsSet)
        {
            fields["email"] = customer.Email;
        }

        if (patch.BillingAddress.IsSet)
        {
            fields["billing_address"] = customer.BillingAddress is { } address
                ? JsonSerializer.SerializeToNode(address, EmulatorJsonContext.Default.AddressResource)
                : null;
        }

        if (patch.TaxId.IsSet)
        {
            fields["tax_id"] = customer.TaxId?[0];
        }

        if (patch.Metadata.IsSet)
        {
            var metadata = new JsonObject();
            foreach (var (key, value) in customer.Metadata)
            {
                metadata[key] = JsonSerializer.SerializeToNode(value, EmulatorJsonContext.Default.JsonElement);
            }

            fields["metadata"] = metadata;
        }

        return fields;
    }

    /// <summary>Stores an event Polar writes itself (<c>source</c> <c>system</c>), keyed by the customer's id, at the clock's now.</summary>
    private void AddSystemEvent(string name, CustomerRecord customer, JsonObject metadata)
    {
        var now = Now();
        var bytes = Encoding.UTF8.GetBytes(metadata.ToJsonString());
        var record = new EventRecord(name, now, now, customer.Id, ExternalCustomerId: null, ExternalId: null, ParentId: null, bytes,
            EventRecord.SystemSource);
        using var document = JsonDocument.Parse(bytes);
        AddEvent(record, document.RootElement);
    }

    /// <summary>Sends <c>customer.state_changed</c> with the customer's state as it is now.</summary>
    private void PublishState(CustomerRecord customer)
    {
        if (Webhooks is not null)
        {
            Settle();
            Publish("customer.state_changed", () => JsonSerializer.SerializeToNode(CustomerState(customer), EmulatorJsonContext.Default.CustomerStateResource)!);
        }
    }

    /// <summary>Sends a webhook; its data is built only when someone listens.</summary>
    private void Publish(string type, Func<JsonNode> data)
    {
        if (Webhooks is not { } send)
        {
            return;
        }

        var now = Now();
        send(new WebhookMessage(type, now, new JsonObject { ["type"] = type, ["timestamp"] = LifecyclePayloads.Time(now), ["data"] = data() }));
    }

    /// <summary>Polar's <c>CustomerState</c>: the customer, its active subscriptions, its granted Meter Credit benefits and its meters.</summary>
    private CustomerStateResource CustomerState(CustomerRecord customer)
    {
        var live = _subscriptions.Values.Where(s => s.Customer == customer && s.IsActive).OrderBy(s => s.CreatedAt).ToList();
        var subscriptions = live.Select(s => JsonElement.Parse(new JsonObject
        {
            ["id"] = s.Id,
            ["created_at"] = LifecyclePayloads.Time(s.CreatedAt),
            ["modified_at"] = LifecyclePayloads.Time(s.ModifiedAt),
            ["metadata"] = new JsonObject(),
            ["status"] = s.Status,
            ["amount"] = s.Product.PriceAmount,
            ["currency"] = "usd",
            ["recurring_interval"] = "month",
            ["current_period_start"] = LifecyclePayloads.Time(s.CurrentPeriodStart),
            ["current_period_end"] = LifecyclePayloads.Time(s.CurrentPeriodEnd),
            ["trial_start"] = null,
            ["trial_end"] = null,
            ["cancel_at_period_end"] = s.CancelAtPeriodEnd,
            ["canceled_at"] = LifecyclePayloads.Time(s.CanceledAt),
            ["started_at"] = LifecyclePayloads.Time(s.CreatedAt),
            ["ends_at"] = LifecyclePayloads.Time(s.EndsAt),
            ["product_id"] = s.Product.Id,
            ["discount_id"] = null,
            ["seats"] = null,
            ["units"] = null,
            ["meters"] = new JsonArray(),
        }.ToJsonString())).ToList();
        var benefits = live.Where(s => s.BenefitGranted).Select(s => JsonElement.Parse(new JsonObject
        {
            ["id"] = StableUuid.From(s.Id, 0),
            ["created_at"] = LifecyclePayloads.Time(s.CreatedAt),
            ["modified_at"] = LifecyclePayloads.Time(s.ModifiedAt),
            ["granted_at"] = LifecyclePayloads.Time(s.CreatedAt),
            ["benefit_id"] = s.Product.BenefitId,
            ["benefit_type"] = "meter_credit",
            ["benefit_metadata"] = new JsonObject(),
            ["properties"] = new JsonObject(),
        }.ToJsonString())).ToList();
        var meters = _customerMetersByCustomer.GetValueOrDefault(customer.Id) ?? [];
        return CustomerStateResource.From(customer.ToResource(OrganizationId), subscriptions, benefits, [.. meters.Select(m => m.ToStateResource())]);
    }
}

/// <summary>
/// What <c>/__emulator/subscriptions</c> and <c>/__emulator/orders</c> are given: the customer (by id or external id) and a
/// product with one Meter Credit benefit crediting <see cref="Units"/> on <see cref="MeterId"/>.
/// </summary>
internal sealed record LifecycleDraft(
    Guid? CustomerId,
    string? ExternalCustomerId,
    Guid MeterId,
    long Units,
    bool Rollover,
    string ProductName,
    int Amount,
    bool Recurring,
    bool MeteredPrice);
