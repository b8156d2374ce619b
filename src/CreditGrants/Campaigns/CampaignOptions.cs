using System.ComponentModel.DataAnnotations;

namespace CreditGrants.Campaigns;

/// <summary>Where the app keeps campaigns; bound from the <c>Campaigns</c> configuration section (the timer's schedule is <c>CampaignSchedule</c>).</summary>
public sealed class CampaignOptions
{
    public const string SectionName = "Campaigns";

    /// <summary>The blob container of campaign documents, one <c>&lt;id&gt;.json</c> each.</summary>
    [Required]
    public string Container { get; set; } = "campaigns";

    /// <summary>The table of campaign state: one row per campaign (last occurrence, budget, exhausted, skipped, last error).</summary>
    [Required]
    public string StateTable { get; set; } = "campaignstate";
}
