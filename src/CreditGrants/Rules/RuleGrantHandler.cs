using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
    /// <summary>An order in a currency <see cref="GrantRule.UnitsPerMinorUnit"/> does not list: recorded, not granted, never converted.</summary>
    UnlistedCurrency,
    /// <summary>Nothing to grant (an order whose net amount is 0, or whose units round down to 0): recorded, not granted.</summary>
    NoUnits,
    /// <summary>The event is older than <see cref="GrantRule.ExpiresIn"/>: its grant would be expired already; recorded, not granted.</summary>
    Expired,
    /// <summary>
    /// The grant's units are over <c>Grants:MaxUnitsPerGrant</c> (a large order, many seats): recorded with the units and
    /// logged, not granted; an operator who decides it is right grants it by hand (<c>credits grant</c>).
    /// </summary>
    OverMaxUnits,
}

/// <summary>What an <c>order.refunded</c> did to a rule's grant of the order, as recorded.</summary>
public enum RuleRefundOutcome
{
    /// <summary>The grant's unspent units (or the refunded proportion of them) were taken back now.</summary>
    Revoked,
    /// <summary>The grant was revoked before (an earlier refund of the order, or another revocation); nothing changed.</summary>
    AlreadyRevoked,
    /// <summary>It could not be revoked (expired, wiped, customer without external id…); the record says why.</summary>
    NotRevoked,
}

/// <summary>One grant of a rule as recorded (a <c>grant|</c> row): its outcome, units, customer (Polar id), cause and time.</summary>
public sealed record RecordedRuleGrant(string RuleId, string GrantId, RuleGrantOutcome Outcome, decimal Units, string Customer, string? Cause, DateTimeOffset? At);

/// <summary>What an <c>order.refunded</c> did to one rule grant (a <c>refund|</c> row): the outcome, the units taken back, and why.</summary>
public sealed record RuleRefundRecord(RuleRefundOutcome Outcome, decimal TakenBack, long? RefundedAmount, long? NetAmount, string Detail, string Cause);

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

    /// <summary>
    /// Records a grant the rule does not make whatever its cap and budget (<see cref="RuleGrantOutcome.UnlistedCurrency"/>,
    /// <see cref="RuleGrantOutcome.NoUnits"/>, <see cref="RuleGrantOutcome.Expired"/>), counting nothing; the outcome
    /// recorded first for the grant id when there is one.
    /// </summary>
    Task<RuleGrantOutcome> RecordRefusedAsync(GrantRule rule, string grantId, string customer, decimal units, RuleGrantOutcome outcome, string cause,
        CancellationToken cancellationToken);

    /// <summary>What <see cref="RecordAsync"/> would decide now, writing nothing: the recorded outcome (and true) when the grant id is recorded already.</summary>
    Task<(RuleGrantOutcome Outcome, bool Recorded)> PreviewAsync(GrantRule rule, string grantId, string customer, decimal units, CancellationToken cancellationToken);

    /// <summary>The recorded grant of a rule under a grant id, or null.</summary>
    Task<RecordedRuleGrant?> FindAsync(string ruleId, string grantId, CancellationToken cancellationToken);

    /// <summary>What a refund did to a rule's grant, or null when no refund was recorded for it.</summary>
    Task<RuleRefundRecord?> FindRefundAsync(string ruleId, string grantId, CancellationToken cancellationToken);

    /// <summary>Records (replacing any earlier record) what a refund did to a rule's grant.</summary>
    Task RecordRefundAsync(string ruleId, string grantId, RuleRefundRecord refund, CancellationToken cancellationToken);
}

/// <summary>
/// Grants by rule on Polar's <c>customer.created</c>, <c>order.paid</c> and <c>subscription.active|cycled</c> webhooks
/// (docs/rules.md): for each rule that acts on the event (<see cref="RuleGrantPlan.Mismatch"/>), plans the grant
/// (<see cref="RuleGrantPlan.Of"/>: units per seat or per minor unit of the net amount, expiry, id derived from the rule and
/// the Polar object: customer id, order id, or subscription id and period start), records it in the
/// <see cref="IRuleGrantLedger"/> (cap, budget) and, when it fits, grants through <see cref="GrantService"/>, so Polar's
/// retries and any replay grant once. A grant not made (over cap or budget, unlisted currency, no units) is recorded and
/// logged, never silently dropped. On <c>order.refunded</c>, rules with <see cref="GrantRule.RevokeOnRefund"/> take back the
/// unspent units of the order's grant through <see cref="GrantRevocation"/> (its derived revocation id: once) and record it.
/// </summary>
public sealed partial class RuleGrantHandler(IGrantRuleSource rules, IRuleGrantLedger ledger, GrantService grants, GrantRevocation revocation,
    TimeProvider time, ILogger<RuleGrantHandler> logger, IOptions<GrantOptions>? grantOptions = null)
    : IPolarWebhookHandler
{
    public string Name => "grant-rules";

    private decimal MaxUnitsPerGrant => grantOptions?.Value.MaxUnitsPerGrant ?? decimal.MaxValue;

    public bool CanHandle(string eventType) =>
        eventType is GrantRule.CustomerCreated or GrantRule.OrderPaid or GrantRule.SubscriptionActive or GrantRule.SubscriptionCycled or GrantRule.OrderRefunded;

    public async Task HandleAsync(PolarWebhookEvent webhook, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        var e = RuleEvent.Of(webhook);
        foreach (var rule in await rules.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (webhook.Type == GrantRule.OrderRefunded)
            {
                await RevokeAsync(rule, e, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (RuleGrantPlan.Mismatch(rule, e) is not null)
            {
                continue;
            }

            var plan = RuleGrantPlan.Of(rule, e, time.GetUtcNow(), MaxUnitsPerGrant);
            var grantId = plan.GrantId.Value;
            var customerId = e.CustomerId.ToString("D");
            var cause = $"{webhook.Type} {e.ObjectId} {webhook.WebhookId}: {plan.Detail}";
            var outcome = plan.Refused is { } refused
                ? await ledger.RecordRefusedAsync(rule, grantId, customerId, plan.Units, refused, cause, cancellationToken).ConfigureAwait(false)
                : await ledger.RecordAsync(rule, grantId, customerId, plan.Units, cause, cancellationToken).ConfigureAwait(false);
            if (outcome != RuleGrantOutcome.Reserved)
            {
                LogNotGranted(rule.Id, e.CustomerId, outcome, plan.Detail);
                continue;
            }

            if (plan.Refused is not null)
            {
                // An earlier delivery reserved and granted it (a replay now too old for its expiry): nothing to grant again.
                continue;
            }

            await grants.GrantAsync(new CreditGrant(plan.GrantId, e.Customer, plan.Units, rule.Meter, rule.Reason, rule.Source, plan.ExpiresAt,
                CarryOver: rule.CarryOver),
                cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Takes back what <paramref name="rule"/> granted for the refunded order, unspent units only: all of them for a full
    /// refund, the refunded proportion for a partial one; once per grant (a later refund of the same order finds it revoked).
    /// </summary>
    private async Task RevokeAsync(GrantRule rule, RuleEvent refund, CancellationToken cancellationToken)
    {
        if (!rule.RevokeOnRefund || rule.Event != GrantRule.OrderPaid || rule.ProductIds is not { } products
            || refund.ProductId is not { } product || !products.Contains(product))
        {
            return;
        }

        var grantId = RuleGrantPlan.GrantIdOf(rule, refund).Value;
        var granted = await ledger.FindAsync(rule.Id, grantId, cancellationToken).ConfigureAwait(false);
        if (granted is not { Outcome: RuleGrantOutcome.Reserved }
            || await ledger.FindRefundAsync(rule.Id, grantId, cancellationToken).ConfigureAwait(false) is { Outcome: not RuleRefundOutcome.NotRevoked })
        {
            // Nothing was granted for the order, or its grant was revoked by an earlier delivery or refund.
            return;
        }

        var asked = RuleGrantPlan.RefundedUnits(granted.Units, refund);
        var cause = $"order.refunded {refund.ObjectId} {refund.WebhookId}";
        var share = asked is null ? "full refund" : $"refunded_amount {refund.RefundedAmount} of net_amount {refund.NetAmount}";
        RuleRefundRecord record;
        if (refund.ExternalCustomerId is null)
        {
            record = new RuleRefundRecord(RuleRefundOutcome.NotRevoked, 0, refund.RefundedAmount, refund.NetAmount,
                $"{share}: the customer has no external id, and a grant's unspent units are read by external id", cause);
        }
        else
        {
            try
            {
                var outcome = await revocation.RevokeAsync(new RevokeRequest(grantId, $"order {refund.ObjectId} refunded", asked, Source: rule.Source,
                    AtMostUnspent: true), cancellationToken).ConfigureAwait(false);
                record = new RuleRefundRecord(outcome.Status == RevokeStatus.Revoked ? RuleRefundOutcome.Revoked : RuleRefundOutcome.AlreadyRevoked,
                    outcome.TakenBack, refund.RefundedAmount, refund.NetAmount,
                    $"{share}: took back {outcome.TakenBack} of {outcome.Unspent} unspent units (of {outcome.GrantUnits} granted)", cause);
            }
            catch (RevokeException ex) when (ex.Kind != RevokeErrorKind.GrantNotFound)
            {
                // Expired, wiped by a reset, or revoked before with other units: nothing more can be taken back.
                record = new RuleRefundRecord(RuleRefundOutcome.NotRevoked, 0, refund.RefundedAmount, refund.NetAmount, $"{share}: {ex.Message}", cause);
            }
        }

        await ledger.RecordRefundAsync(rule.Id, grantId, record, cancellationToken).ConfigureAwait(false);
        if (record.Outcome == RuleRefundOutcome.NotRevoked)
        {
            LogNotRevoked(rule.Id, refund.ObjectId, record.Detail);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rule {Rule} did not grant to customer {CustomerId}: {Outcome}, {Detail} (recorded)")]
    private partial void LogNotGranted(string rule, Guid customerId, RuleGrantOutcome outcome, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rule {Rule} did not revoke the grant of refunded order {OrderId}: {Detail} (recorded)")]
    private partial void LogNotRevoked(string rule, string orderId, string detail);
}
