using System.Text.Json;
using System.Text.Json.Nodes;
using CreditGrants.Campaigns;
using CreditGrants.Grants;
using Json.Schema;

namespace CreditGrants.Rules;

/// <summary>
/// Checks rule documents with the published schema (<c>docs/rule.schema.json</c>, embedded) as campaigns are checked, and
/// then what a schema cannot say: units a grant may carry, a budget that fits at least one grant.
/// </summary>
public sealed class RuleValidator(GrantOptions grantOptions)
{
    /// <summary>The most bytes of a rule document read.</summary>
    public const int MaxDocumentBytes = 256 * 1024;

    private static readonly Lazy<(JsonSchema Schema, JsonNode Document)> SchemaDocument = new(() => CampaignValidator.LoadSchema(SchemaText));

    /// <summary>The published schema's text, as embedded in this assembly.</summary>
    public static string SchemaText
    {
        get
        {
            using var stream = typeof(RuleValidator).Assembly.GetManifestResourceStream("CreditGrants.Rules.rule.schema.json")
                ?? throw new InvalidOperationException("The rule schema is not embedded in the CreditGrants assembly.");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    /// <summary>The rule, or every error (JSON path, value, what is accepted).</summary>
    public RuleValidation Validate(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var (document, shapeErrors) = CampaignValidator.Check(json, SchemaDocument.Value, "a rule");
        if (document is null)
        {
            return new RuleValidation(null, [.. shapeErrors.Select(e => new RuleError(e.Path, e.Value, e.Message))]);
        }

        using (document)
        {
            RuleDocument? parsed;
            try
            {
                parsed = document.RootElement.Deserialize(RuleJsonContext.Default.RuleDocument);
            }
            catch (JsonException ex)
            {
                return Invalid(new RuleError(ex.Path ?? "$", null, $"cannot be read: {CampaignValidator.FirstSentence(ex.Message)}"));
            }

            return parsed is null ? Invalid(new RuleError("$", "null", "must be a rule object")) : Rules(parsed);
        }
    }

    private static RuleValidation Invalid(params RuleError[] errors) => new(null, errors);

    private RuleValidation Rules(RuleDocument doc)
    {
        var errors = new List<RuleError>();
        var number = CampaignValidator.Number;
        var trigger = doc.Trigger;
        var units = doc.Units;
        var perMinorUnit = doc.UnitsPerMinorUnit;
        if ((units is null) == (perMinorUnit is null))
        {
            errors.Add(units is null
                ? new RuleError("$.units", null, "is required (or unitsPerMinorUnit, for order.paid); accepted: units, a number greater than 0, or unitsPerMinorUnit, such as {\"usd\": 0.01}")
                : new RuleError("$.unitsPerMinorUnit", null, "goes with no units: a rule grants either units per grant or units per minor unit of the amount, not both; accepted: one of units and unitsPerMinorUnit"));
        }

        if (units is { } fixedUnits)
        {
            CheckUnits(errors, "$.units", fixedUnits);
            if (doc.Budget is { } budget && budget < fixedUnits)
            {
                errors.Add(new RuleError("$.budget", number(budget), $"is less than units ({number(fixedUnits)}), so no grant would ever fit; accepted: a number of at least {number(fixedUnits)}"));
            }
        }

        if (perMinorUnit is not null && trigger.Event != GrantRule.OrderPaid)
        {
            errors.Add(new RuleError("$.unitsPerMinorUnit", null, $"goes with order.paid only, not {trigger.Event}; accepted: units"));
        }

        var rates = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var (currency, rate) in perMinorUnit ?? new Dictionary<string, decimal>())
        {
            CheckUnits(errors, $"$.unitsPerMinorUnit.{currency}", rate);
            rates[currency] = rate;
        }

        TimeSpan? expiresIn = null;
        if (doc.ExpiresIn is { } expiry)
        {
            var (duration, problem) = GrantExpiry.ParseDuration(expiry);
            if (problem is not null)
            {
                errors.Add(new RuleError("$.expiresIn", CampaignValidator.Quote(expiry), problem));
            }

            expiresIn = duration;
        }

        if (doc.RevokeOnRefund is true && trigger.Event != GrantRule.OrderPaid)
        {
            errors.Add(new RuleError("$.revokeOnRefund", "true", $"goes with order.paid only, not {trigger.Event}; accepted: no revokeOnRefund, or false"));
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in trigger.CustomerMetadata ?? new Dictionary<string, JsonElement>())
        {
            if (value.ValueKind == JsonValueKind.String && value.GetString()!.Length is 0 or > 500)
            {
                errors.Add(new RuleError($"$.trigger.customerMetadata.{key}", CampaignValidator.Quote(value.GetString()), "accepted: a string of 1 to 500 characters, an integer or a boolean"));
            }

            metadata[key] = Campaign.FilterValue(value);
        }

        if (GrantRule.HasProducts(trigger.Event) && trigger.ProductIds is null)
        {
            errors.Add(new RuleError("$.trigger.productIds", null, $"is required for {trigger.Event}; accepted: an array of the Polar product ids whose {(trigger.Event == GrantRule.OrderPaid ? "paid orders" : "subscriptions")} grant"));
        }
        else if (!GrantRule.HasProducts(trigger.Event) && trigger.ProductIds is not null)
        {
            errors.Add(new RuleError("$.trigger.productIds", null, $"goes with order.paid, subscription.active and subscription.cycled only, not {trigger.Event}; accepted: no productIds"));
        }

        return errors.Count > 0
            ? new RuleValidation(null, errors)
            : new RuleValidation(new GrantRule(doc.Id, doc.Description, doc.Enabled ?? true, trigger.Event, metadata, units,
                doc.Meter ?? grantOptions.DefaultMeter, doc.Reason, doc.PerCustomerCap, doc.Budget,
                trigger.ProductIds?.ToHashSet(), perMinorUnit is null ? null : rates, expiresIn, doc.RevokeOnRefund ?? false) { CarryOver = doc.CarryOver ?? false }, errors);
    }

    /// <summary>Units (or units per minor unit) have at most 6 decimals and fit one grant.</summary>
    private void CheckUnits(List<RuleError> errors, string path, decimal units)
    {
        var number = CampaignValidator.Number;
        if (units != Math.Round(units, GrantValidator.MaxDecimalPlaces))
        {
            errors.Add(new RuleError(path, number(units), $"has more than {GrantValidator.MaxDecimalPlaces} decimal places; accepted: a number greater than 0 with at most {GrantValidator.MaxDecimalPlaces} decimals"));
        }
        else if (units > grantOptions.MaxUnitsPerGrant)
        {
            errors.Add(new RuleError(path, number(units), $"is over the limit of {number(grantOptions.MaxUnitsPerGrant)} units per grant (Grants:MaxUnitsPerGrant)"));
        }
    }
}
