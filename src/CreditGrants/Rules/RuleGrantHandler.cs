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
    /// <summary>Records one grant of <paramref name="rule"/> (its <see cref="GrantRule.Units"/>) to <paramref name="customer"/> under <paramref name="grantId"/>.</summary>
    /// <param name="rule">The rule (its cap and budget are enforced).</param>
    /// <param name="grantId">The derived grant id (<see cref="DerivedGrantId"/>, domain <see cref="GrantIdDomain.RuleGrant"/>).</param>
    /// <param name="customer">The customer's Polar id, as text.</param>
    /// <param name="cause">What caused it, kept with the record (such as <c>customer.created msg_…</c>).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    Task<RuleGrantOutcome> RecordAsync(GrantRule rule, string grantId, string customer, string cause, CancellationToken cancellationToken);
}

/// <summary>
/// Grants by rule on Polar's <c>customer.created</c> webhook (docs/rules.md): for each enabled rule of that trigger whose
/// <c>customerMetadata</c> the customer has, records the grant in the <see cref="IRuleGrantLedger"/> (cap, budget) and, when
/// it fits, grants through <see cref="GrantService"/> under the id derived from the rule and the customer's Polar id, so
/// Polar's retries and any replay grant once. A grant over cap or budget is recorded and logged, never silently dropped.
/// </summary>
public sealed partial class RuleGrantHandler(IGrantRuleSource rules, IRuleGrantLedger ledger, GrantService grants, ILogger<RuleGrantHandler> logger)
    : IPolarWebhookHandler
{
    public string Name => "grant-rules";

    public bool CanHandle(string eventType) => eventType == GrantRule.CustomerCreated;

    public async Task HandleAsync(PolarWebhookEvent webhook, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(webhook);
        var data = webhook.Data;
        if (!data.TryGetProperty("id", out var idValue) || !Guid.TryParse(idValue.GetString(), out var customerId))
        {
            throw new PolarWebhookRejectedException($"The {webhook.Type} payload's data.id is not a customer id.");
        }

        var metadata = data.TryGetProperty("metadata", out var found) ? found : default;
        var externalId = data.TryGetProperty("external_id", out var external) && external.ValueKind == JsonValueKind.String ? external.GetString() : null;
        // By external id when there is one: the directory has just learned it from this event, so the grant costs no read.
        var customer = externalId is not null ? CustomerRef.External(externalId) : CustomerRef.Polar(customerId);
        foreach (var rule in await rules.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!rule.Enabled || rule.Event != webhook.Type || !rule.Matches(metadata))
            {
                continue;
            }

            var grantId = DerivedGrantId.Of(GrantIdDomain.RuleGrant, rule.Id, customerId.ToString("D"));
            var outcome = await ledger.RecordAsync(rule, grantId.Value, customerId.ToString("D"), $"{webhook.Type} {webhook.WebhookId}", cancellationToken)
                .ConfigureAwait(false);
            if (outcome != RuleGrantOutcome.Reserved)
            {
                LogNotGranted(rule.Id, customerId, outcome);
                continue;
            }

            await grants.GrantAsync(new CreditGrant(grantId, customer, rule.Units, rule.Meter, rule.Reason, rule.Source), cancellationToken)
                .ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rule {Rule} did not grant to customer {CustomerId}: {Outcome} (recorded)")]
    private partial void LogNotGranted(string rule, Guid customerId, RuleGrantOutcome outcome);
}
