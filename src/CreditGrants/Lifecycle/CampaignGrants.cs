using CreditGrants.Campaigns;
using CreditGrants.Polar;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;

namespace CreditGrants.Lifecycle;

/// <summary>
/// Finds the grants a campaign made, from what Polar holds (the campaign's state keeps budgets and occurrences, not grant
/// ids): its grant events on the meter, listed by their source <c>campaign:&lt;id&gt;</c>, 100 a page across customers, and
/// kept when their grant id is one of the occurrence's (<see cref="CampaignRunner.GrantIdFor"/>). They come back as granted
/// rows for <see cref="BulkRevocation"/>, in the order they were granted.
/// </summary>
public sealed class CampaignGrants(IPolarGateway polar)
{
    private const int MaxPages = 100_000;

    /// <summary>
    /// The grants of one occurrence of an <see cref="GrantPolicy.EveryOccurrence"/> campaign, or, with <paramref name="occurrence"/>
    /// null, every grant of a <see cref="GrantPolicy.OncePerCustomer"/> one. Throws <see cref="ArgumentException"/> for an
    /// occurrence given to (or missing for) the other policy, <see cref="MeterNotGrantableException"/>, <see cref="PolarException"/>.
    /// </summary>
    public async Task<IReadOnlyList<BulkGrantedRow>> FindAsync(Campaign campaign, DateTimeOffset? occurrence, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        if ((campaign.Policy == GrantPolicy.EveryOccurrence) != occurrence.HasValue)
        {
            throw new ArgumentException(campaign.Policy == GrantPolicy.EveryOccurrence
                ? $"campaign '{campaign.Id}' grants at every occurrence: name the occurrence to revoke (its time, such as 2026-12-07T08:00:00Z)"
                : $"campaign '{campaign.Id}' grants once per customer: its grants are revoked all together, without an occurrence", nameof(occurrence));
        }

        var prefix = occurrence is { } at ? $"campaign:{campaign.Id}:{CampaignSchedule.Key(at)}:" : $"campaign:{campaign.Id}:";
        var target = await polar.GetGrantTargetAsync(campaign.Meter, cancellationToken).ConfigureAwait(false);
        var filter = new MeterFilter("and",
        [
            Clause("name", target.EventName), Clause(GrantMetadata.Source, campaign.Source), Clause(GrantMetadata.Meter, target.Meter.Name),
        ]);
        var rows = new List<BulkGrantedRow>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var page = 1; page <= MaxPages; page++)
        {
            var result = await polar.ListEventsAsync(new EventListQuery(Page: page, Limit: LedgerReader.PageSize) { Filter = filter }, cancellationToken)
                .ConfigureAwait(false);
            foreach (var recorded in result.Items)
            {
                if (recorded.Metadata is not { } metadata
                    || RecordedCompensation.Text(metadata, GrantMetadata.Compensates) is not null
                    || RecordedCompensation.Text(metadata, GrantMetadata.GrantId) is not { } grantId
                    || !grantId.StartsWith(prefix, StringComparison.Ordinal)
                    || RecordedCompensation.Number(metadata, target.Property) is not { } value || value >= 0
                    || !seen.Add(grantId))
                {
                    continue;
                }

                rows.Add(new BulkGrantedRow(rows.Count + 1, grantId, recorded.ExternalCustomerId ?? recorded.Customer?.ExternalId,
                    recorded.CustomerId?.ToString(), (-value).ToString(System.Globalization.CultureInfo.InvariantCulture), target.Meter.Name, "granted"));
            }

            if (result.Items.Count == 0 || page >= result.Pagination.MaxPage)
            {
                break;
            }
        }

        return rows;
    }

    private static MeterFilterClause Clause(string property, string value) => new(property, "eq", PolarMetadata.Text(value));
}

/// <summary>
/// What the CLI (<c>credits campaigns revoke</c>) and the app (<c>POST /api/campaigns/{campaignId}/occurrences/{occurrence}/revoke</c>)
/// share about revoking a campaign occurrence: how an occurrence is written, the revocation's name and its events' source.
/// </summary>
public static class CampaignRevocation
{
    /// <summary>The forms an occurrence is given in: its instant in ISO 8601 (<c>2026-12-07T08:00:00Z</c>) or compact (<c>20261207T080000Z</c>, for paths and file names).</summary>
    public const string OccurrenceForms = "the occurrence's time in ISO 8601 such as 2026-12-07T08:00:00Z, or compact such as 20261207T080000Z";

    /// <summary>Reads an occurrence in one of <see cref="OccurrenceForms"/> (a time without an offset is UTC); false for anything else.</summary>
    public static bool TryParseOccurrence(string? text, out DateTimeOffset occurrence)
    {
        var styles = System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal;
        return DateTimeOffset.TryParseExact(text, "yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture, styles, out occurrence)
            || DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, styles, out occurrence);
    }

    /// <summary>The revocation's name: <c>&lt;campaign&gt;.&lt;yyyyMMddTHHmmssZ&gt;</c> for an occurrence, the campaign id for all its grants (results files are named after it).</summary>
    public static string Name(string campaignId, DateTimeOffset? occurrence) =>
        occurrence is { } at ? $"{campaignId}.{at.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture)}" : campaignId;

    /// <summary>The source its revocation events carry: <c>campaign-revoke:&lt;name&gt;</c>.</summary>
    public static string Source(string name) => "campaign-revoke:" + name;
}
