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
