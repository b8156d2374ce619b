using System.Text.Json;
using System.Text.Json.Serialization;

namespace CreditGrants.Grants;

/// <summary>A grant outcome as the HTTP API and <c>credits --json</c> print it.</summary>
public sealed record GrantOutcomeJson(
    string Status,
    string GrantId,
    Guid? CustomerId,
    string? ExternalCustomerId,
    bool CustomerCreated,
    bool CustomerExists,
    decimal Units,
    string Meter,
    string EventId)
{
    /// <summary>When the grant expires, as asked (ISO 8601, UTC); absent when it does not expire.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ExpiresAt { get; init; }

    /// <summary>When the expiry takes effect: expiries take effect at whole UTC hours, one inside an hour at the end of that hour.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ExpiryTakesEffectAt { get; init; }

    /// <summary>Made with <c>carryOver</c>; printed only when true.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool CarryOver { get; init; }

    public static GrantOutcomeJson From(GrantOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        return new(outcome.Status == GrantStatus.Granted ? "granted" : "duplicate", outcome.GrantId, outcome.CustomerId,
            outcome.ExternalCustomerId, outcome.CustomerCreated, outcome.CustomerExists, outcome.Units, outcome.Meter, outcome.EventId)
        {
            ExpiresAt = outcome.ExpiresAt is { } at ? GrantExpiry.Format(at) : null,
            ExpiryTakesEffectAt = outcome.ExpiresAt is { } expiry ? GrantExpiry.Format(GrantExpiry.TakesEffectAt(expiry)) : null,
            CarryOver = outcome.CarryOver,
        };
    }
}

/// <summary>A balance as the HTTP API and <c>credits --json</c> print it.</summary>
public sealed record CreditBalanceJson(
    string ExternalCustomerId,
    Guid CustomerId,
    string Meter,
    Guid MeterId,
    decimal Balance,
    decimal ConsumedUnits,
    long CreditedUnits)
{
    public static CreditBalanceJson From(CreditBalance balance)
    {
        ArgumentNullException.ThrowIfNull(balance);
        return new(balance.ExternalCustomerId, balance.CustomerId, balance.Meter, balance.MeterId, balance.Balance,
            balance.ConsumedUnits, balance.CreditedUnits);
    }
}

/// <summary>camelCase JSON for the app's own API and CLI output.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(GrantOutcomeJson))]
[JsonSerializable(typeof(CreditBalanceJson))]
public sealed partial class GrantsJsonContext : JsonSerializerContext;
