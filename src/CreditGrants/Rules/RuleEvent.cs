using System.Globalization;
using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Webhooks;

namespace CreditGrants.Rules;

/// <summary>
/// What one of Polar's trigger events says to the rules: the object (customer, order or subscription id), the customer (by
/// external id when it has one), its metadata, the product, the seats (1 without), and for orders the <c>currency</c>,
/// <c>net_amount</c> (minor units, after discounts, before tax) and <c>refunded_amount</c>; for subscriptions the
/// <c>current_period_start</c>.
/// </summary>
public sealed record RuleEvent(
    string Type,
    string ObjectId,
    Guid CustomerId,
    CustomerRef Customer,
    string? ExternalCustomerId,
    JsonElement Metadata,
    Guid? ProductId,
    int Seats,
    string? Currency,
    long? NetAmount,
    long? RefundedAmount,
    DateTimeOffset? PeriodStart,
    DateTimeOffset? OccurredAt,
    string WebhookId)
{
    /// <summary>Reads a <c>customer.created</c>, <c>order.*</c> or <c>subscription.*</c> event. Throws <see cref="PolarWebhookRejectedException"/> when it names no object or customer.</summary>
    public static RuleEvent Of(PolarWebhookEvent webhook)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        var data = webhook.Data;
        var customerEvent = webhook.Type.StartsWith("customer.", StringComparison.Ordinal);
        var customer = customerEvent ? data : (data.TryGetProperty("customer", out var c) ? c : default);
        var objectId = Text(data, "id");
        var customerId = Text(data, customerEvent ? "id" : "customer_id");
        if (objectId is null || customerId is null || !Guid.TryParse(customerId, out var customerGuid))
        {
            throw new PolarWebhookRejectedException($"The {webhook.Type} payload names no {(customerEvent ? "customer" : "object and customer")} id.");
        }

        // By external id when there is one: the directory knows it (from customer.created), so the grant costs no read.
        var externalId = Text(customer, "external_id");
        var metadata = customer.ValueKind == JsonValueKind.Object && customer.TryGetProperty("metadata", out var m) ? m : default;
        Guid? productId = Text(data, "product_id") is { } p && Guid.TryParse(p, out var product) ? product : null;
        var seats = !customerEvent && Integer(data, "seats") is { } n and > 0 and <= int.MaxValue ? (int)n : 1;
        return new RuleEvent(webhook.Type, objectId, customerGuid,
            externalId is not null ? CustomerRef.External(externalId) : CustomerRef.Polar(customerGuid), externalId, metadata, productId, seats,
            Text(data, "currency")?.ToLowerInvariant(), Integer(data, "net_amount"), Integer(data, "refunded_amount"),
            PolarObjectVersion.ReadTime(data, "current_period_start"), webhook.OccurredAt, webhook.WebhookId);
    }

    private static string? Text(JsonElement value, string property) =>
        value.ValueKind == JsonValueKind.Object && value.TryGetProperty(property, out var found) && found.ValueKind == JsonValueKind.String
            ? found.GetString()
            : null;

    private static long? Integer(JsonElement value, string property) =>
        value.ValueKind == JsonValueKind.Object && value.TryGetProperty(property, out var found) && found.ValueKind == JsonValueKind.Number
        && found.TryGetInt64(out var n)
            ? n
            : null;
}

/// <summary>
/// What a rule would do with one event, decided without any I/O: the derived grant id, the customer, the units, the expiry,
/// or the reason it does not grant before caps and budget are even asked (<see cref="Refused"/>).
/// </summary>
/// <param name="Rule">The rule.</param>
/// <param name="Event">The event.</param>
/// <param name="GrantId">Derived from the rule and the Polar object (<see cref="RuleGrantPlan.GrantIdOf"/>).</param>
/// <param name="Units">The units granted: the rule's per seat, or per minor unit of the net amount rounded down to 6 decimals.</param>
/// <param name="ExpiresAt">When the grant's unspent units expire (the event's time plus <see cref="GrantRule.ExpiresIn"/>); null: never.</param>
/// <param name="Refused">Why it grants nothing whatever the cap and budget (unlisted currency, no units, expired); null: it may grant.</param>
/// <param name="Detail">What was computed, for the record and the logs (<c>order net_amount 1999 usd × 0.01</c>).</param>
public sealed record RuleGrantPlan(GrantRule Rule, RuleEvent Event, GrantId GrantId, decimal Units, DateTimeOffset? ExpiresAt,
    RuleGrantOutcome? Refused, string Detail)
{
    /// <summary>
    /// Why <paramref name="rule"/> does not act on <paramref name="e"/> (another event, disabled, another product, metadata
    /// not matching), or null when it does.
    /// </summary>
    public static string? Mismatch(GrantRule rule, RuleEvent e)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(e);
        return !rule.Enabled ? "the rule is disabled"
            : rule.Event != e.Type ? $"the rule triggers on {rule.Event}, not {e.Type}"
            : rule.ProductIds is { } products && (e.ProductId is not { } product || !products.Contains(product))
                ? $"the product {e.ProductId?.ToString() ?? "(none)"} is not one of the rule's productIds"
            : !rule.Matches(e.Metadata) ? "the customer's metadata does not match trigger.customerMetadata"
            : null;
    }

    /// <summary>
    /// The grant id of <paramref name="rule"/> for the Polar object of <paramref name="e"/>: rule and customer id
    /// (<c>customer.created</c>), rule and order id (<c>order.*</c>), rule, subscription id and <c>current_period_start</c>
    /// (<c>subscription.*</c>), never the delivery. Throws <see cref="PolarWebhookRejectedException"/> for a subscription without its period.
    /// </summary>
    public static GrantId GrantIdOf(GrantRule rule, RuleEvent e)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(e);
        if (!e.Type.StartsWith("subscription.", StringComparison.Ordinal))
        {
            return DerivedGrantId.Of(GrantIdDomain.RuleGrant, rule.Id, e.ObjectId);
        }

        var period = e.PeriodStart ?? throw new PolarWebhookRejectedException($"The {e.Type} payload of subscription {e.ObjectId} has no current_period_start.");
        return DerivedGrantId.Of(GrantIdDomain.RuleGrant, rule.Id, e.ObjectId, GrantExpiry.Format(period));
    }

    /// <summary>The plan of a rule that acts on the event (<see cref="Mismatch"/> is null), as of <paramref name="now"/>.</summary>
    /// <param name="rule">The rule, which acts on the event.</param>
    /// <param name="e">The event.</param>
    /// <param name="now">The time of the decision (an expiry already past refuses the grant).</param>
    /// <param name="maxUnitsPerGrant"><c>Grants:MaxUnitsPerGrant</c>: a plan over it is refused as <see cref="RuleGrantOutcome.OverMaxUnits"/>.</param>
    public static RuleGrantPlan Of(GrantRule rule, RuleEvent e, DateTimeOffset now, decimal maxUnitsPerGrant = decimal.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(e);
        var grantId = GrantIdOf(rule, e);
        decimal units;
        string detail;
        RuleGrantOutcome? refused = null;
        if (rule.UnitsPerMinorUnit is { } rates)
        {
            var amount = e.NetAmount ?? 0;
            var currency = e.Currency ?? "(none)";
            if (!rates.TryGetValue(currency, out var rate))
            {
                (units, refused) = (0m, RuleGrantOutcome.UnlistedCurrency);
                detail = $"net_amount {amount} {currency}: the rule lists {string.Join(", ", rates.Keys.Order(StringComparer.Ordinal))} only";
            }
            else
            {
                // Units have at most 6 decimals: the product is rounded down, never up.
                units = decimal.Round(amount * rate, GrantValidator.MaxDecimalPlaces, MidpointRounding.ToZero);
                detail = $"net_amount {amount} {currency} × {rate.ToString(CultureInfo.InvariantCulture)}";
            }
        }
        else
        {
            units = rule.Units!.Value * e.Seats;
            detail = e.Seats == 1 ? $"{rule.Units.Value.ToString(CultureInfo.InvariantCulture)} units" : $"{rule.Units.Value.ToString(CultureInfo.InvariantCulture)} units × {e.Seats} seats";
        }

        if (refused is null && units <= 0)
        {
            refused = RuleGrantOutcome.NoUnits;
        }

        if (refused is null && units > maxUnitsPerGrant)
        {
            // A large order or many seats: granting would be refused by the grant's own check, and the delivery retried in vain.
            refused = RuleGrantOutcome.OverMaxUnits;
            detail += $" = {units.ToString(CultureInfo.InvariantCulture)} units, over Grants:MaxUnitsPerGrant {maxUnitsPerGrant.ToString(CultureInfo.InvariantCulture)}";
        }

        DateTimeOffset? expiresAt = rule.ExpiresIn is { } span ? (e.OccurredAt ?? now) + span : null;
        if (refused is null && expiresAt <= now)
        {
            refused = RuleGrantOutcome.Expired;
            detail += $"; it would have expired at {GrantExpiry.Format(expiresAt.Value)}";
        }

        return new RuleGrantPlan(rule, e, grantId, units, expiresAt, refused, detail);
    }

    /// <summary>The units a refund takes back of a grant of <paramref name="granted"/> units: all of them (null) for a full refund, else in proportion of <c>refunded_amount</c> to <c>net_amount</c>, rounded down to 6 decimals.</summary>
    public static decimal? RefundedUnits(decimal granted, RuleEvent refund)
    {
        ArgumentNullException.ThrowIfNull(refund);
        if (refund.NetAmount is not { } net || net <= 0 || refund.RefundedAmount is not { } refunded || refunded >= net)
        {
            return null;
        }

        return decimal.Round(granted * Math.Max(0, refunded) / net, GrantValidator.MaxDecimalPlaces, MidpointRounding.ToZero);
    }
}
