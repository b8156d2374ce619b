using System.Text.Json.Nodes;
using CreditGrants.Campaigns;
using CreditGrants.Grants;

namespace CreditGrants.Tests.Campaigns;

/// <summary>Campaign documents for tests: a valid one to start from, changed field by field.</summary>
internal static class CampaignJson
{
    public static readonly CampaignValidator Validator = new(new GrantOptions());

    public static JsonObject Weekly() => new()
    {
        ["id"] = "weekly-free",
        ["units"] = 100,
        ["schedule"] = new JsonObject { ["cron"] = "0 9 * * MON", ["timeZone"] = "Europe/Berlin" },
        ["audience"] = new JsonObject { ["allCustomers"] = new JsonObject { ["metadata"] = new JsonObject { ["plan"] = "free" } } },
        ["grantPolicy"] = "everyOccurrence",
    };

    public static Campaign Valid(JsonObject document)
    {
        var validation = Validator.Validate(document.ToJsonString());
        Assert.True(validation.IsValid, string.Join("\n", validation.Errors));
        return validation.Campaign!;
    }

    public static IReadOnlyList<CampaignError> Errors(string json)
    {
        var validation = Validator.Validate(json);
        Assert.False(validation.IsValid);
        return validation.Errors;
    }

    public static IReadOnlyList<CampaignError> Errors(JsonObject document) => Errors(document.ToJsonString());
}
