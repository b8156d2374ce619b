using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Rules;

/// <summary>The grant rules in force, as read from where they are kept (the <c>Rules:Container</c> blobs in the app).</summary>
public interface IGrantRuleSource
{
    /// <summary>Every valid rule; an invalid document is logged by the source with its name and errors, and skipped.</summary>
    Task<IReadOnlyList<GrantRule>> ListAsync(CancellationToken cancellationToken);
}

/// <summary>What a rule did for one grant id, as recorded.</summary>
public enum RuleGrantOutcome
{
    /// <summary>The grant fits the cap and the budget: its units are counted, and it is (or is being) granted.</summary>
    Reserved,
    /// <summary>The grant would pass the rule's <see cref="GrantRule.Budget"/>: recorded, not granted.</summary>
    OverBudget,
    /// <summary>The customer has <see cref="GrantRule.PerCustomerCap"/> grants of the rule already: recorded, not granted.</summary>
    OverCap,
}

/// <summary>
/// The record of what rules granted, which enforces caps and budgets: per rule its units, per customer its grants, per grant
/// id its <see cref="RuleGrantOutcome"/>. Asking again for a grant id already recorded returns its first outcome and
/// counts nothing, so a redelivered webhook neither spends the budget twice nor is refused by its own first grant.
/// </summary>
public interface IRuleGrantLedger
{
    /// <summary>Records one grant of <paramref name="rule"/> of <paramref name="units"/> to <paramref name="customer"/> under <paramref name="grantId"/>.</summary>
    /// <param name="rule">The rule (its cap and budget are enforced).</param>
    /// <param name="grantId">The derived grant id (<see cref="DerivedGrantId"/>, domain <see cref="GrantIdDomain.RuleGrant"/>).</param>
    /// <param name="customer">The customer's Polar id, as text.</param>
    /// <param name="units">The grant's units (the rule's units, times the seats of an order).</param>
    /// <param name="cause">What caused it, kept with the record (such as <c>customer.created msg_…</c>).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    Task<RuleGrantOutcome> RecordAsync(GrantRule rule, string grantId, string customer, decimal units, string cause, CancellationToken cancellationToken);
}

/// <summary>
/// Grants by rule on Polar's <c>customer.created</c> and <c>order.paid</c> webhooks (docs/rules.md): for each enabled rule
/// of the event whose <c>customerMetadata</c> the customer has (and, for orders, whose products include the order's), records
/// the grant in the <see cref="IRuleGrantLedger"/> (cap, budget) and, when it fits, grants through <see cref="GrantService"/>
/// (units per seat for orders) under the id derived from the rule and the Polar object (customer id, order id), so
/// Polar's retries and any replay grant once. A grant over cap or budget is recorded and logged, never silently dropped.
/// </summary>
public sealed partial class RuleGrantHandler(IGrantRuleSource rules, IRuleGrantLedger ledger, GrantService grants, ILogger<RuleGrantHandler> logger)
    : IPolarWebhookHandler
{
    public string Name => "grant-rules";

    public bool CanHandle(string eventType) => eventType is GrantRule.CustomerCreated or GrantRule.OrderPaid;

    public async Task HandleAsync(PolarWebhookEvent webhook, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        var trigger = Trigger.Of(webhook);
        foreach (var rule in await rules.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!rule.Enabled || rule.Event != webhook.Type || !rule.Matches(trigger.Metadata)
                || (rule.ProductIds is { } products && (trigger.ProductId is not { } product || !products.Contains(product))))
            {
                continue;
            }

            // From the rule and the Polar object (the customer, or the order), never from the delivery.
            var grantId = DerivedGrantId.Of(GrantIdDomain.RuleGrant, rule.Id, trigger.ObjectId);
            var customerId = trigger.CustomerId.ToString("D");
            var units = rule.Units * trigger.Quantity;
            var outcome = await ledger.RecordAsync(rule, grantId.Value, customerId, units, $"{webhook.Type} {trigger.ObjectId} {webhook.WebhookId}",
                cancellationToken).ConfigureAwait(false);
            if (outcome != RuleGrantOutcome.Reserved)
            {
                LogNotGranted(rule.Id, trigger.CustomerId, outcome);
                continue;
            }

            await grants.GrantAsync(new CreditGrant(grantId, trigger.Customer, units, rule.Meter, rule.Reason, rule.Source, CarryOver: rule.CarryOver),
                cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>What a trigger event says: the object, the customer (by external id when it has one), its metadata, the product and quantity.</summary>
    private sealed record Trigger(string ObjectId, Guid CustomerId, CustomerRef Customer, JsonElement Metadata, Guid? ProductId, int Quantity)
    {
        public static Trigger Of(PolarWebhookEvent webhook)
        {
            var data = webhook.Data;
            var order = webhook.Type == GrantRule.OrderPaid;
            var customer = order ? (data.TryGetProperty("customer", out var c) ? c : default) : data;
            var objectId = Text(data, "id");
            var customerId = Text(order ? data : customer, order ? "customer_id" : "id");
            if (objectId is null || customerId is null || !Guid.TryParse(customerId, out var customerGuid))
            {
                throw new PolarWebhookRejectedException($"The {webhook.Type} payload names no {(order ? "order and customer" : "customer")} id.");
            }

            // By external id when there is one: the directory knows it (from customer.created), so the grant costs no read.
            var externalId = Text(customer, "external_id");
            var metadata = customer.ValueKind == JsonValueKind.Object && customer.TryGetProperty("metadata", out var m) ? m : default;
            Guid? productId = Text(data, "product_id") is { } p && Guid.TryParse(p, out var product) ? product : null;
            var seats = order && data.TryGetProperty("seats", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var n) && n > 0 ? n : 1;
            return new Trigger(objectId, customerGuid, externalId is not null ? CustomerRef.External(externalId) : CustomerRef.Polar(customerGuid),
                metadata, productId, seats);
        }

        private static string? Text(JsonElement value, string property) =>
            value.ValueKind == JsonValueKind.Object && value.TryGetProperty(property, out var found) && found.ValueKind == JsonValueKind.String
                ? found.GetString()
                : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rule {Rule} did not grant to customer {CustomerId}: {Outcome} (recorded)")]
    private partial void LogNotGranted(string rule, Guid customerId, RuleGrantOutcome outcome);
}
