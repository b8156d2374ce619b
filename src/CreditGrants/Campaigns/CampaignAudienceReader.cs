using CreditGrants.Customers;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;

namespace CreditGrants.Campaigns;

/// <summary>One customer an occurrence grants to, or a listed external id that no customer has yet.</summary>
public sealed record CampaignTarget(string? ExternalId, Guid? CustomerId, DateTimeOffset? CreatedAt)
{
    /// <summary>A listed external id without a customer: not granted now (Polar would drop the event), tried again at the next occurrence.</summary>
    public bool IsWaiting => CustomerId is null;

    /// <summary>The customer's part of a grant id: the external id when the customer has one, else Polar's customer id.</summary>
    public string Key => ExternalId ?? CustomerId!.Value.ToString("D");

    public static CampaignTarget From(Customer customer)
    {
        ArgumentNullException.ThrowIfNull(customer);
        return new CampaignTarget(customer.ExternalId, customer.Id, customer.CreatedAt);
    }
}

/// <summary>
/// Resolves a campaign's audience through the gateway, a page at a time so memory stays flat in the audience's size:
/// <c>allCustomers</c> with Polar's metadata and <c>active</c> filters, <c>newCustomers</c> newest first down to a boundary,
/// <c>externalIds</c> from the <see cref="CustomerDirectory"/>, swept when that is cheaper, and by lookup for the rest.
/// Every customer a listing returns is recorded in the directory, so granting to it costs no further customer request.
/// </summary>
public sealed class CampaignAudienceReader(IPolarGateway polar, CustomerDirectory directory)
{
    /// <summary>Polar's largest page.</summary>
    public const int PageSize = 100;

    /// <summary>How far before the high-water mark a <c>newCustomers</c> run lists again, for clock skew between Polar's writers.</summary>
    public static readonly TimeSpan SkewMargin = TimeSpan.FromMinutes(10);

    private const int MaxPages = 1_000_000;

    /// <summary>Where a <c>newCustomers</c> listing stops: customers created before it are not new for this run.</summary>
    public static DateTimeOffset NewCustomersBoundary(Campaign campaign, CampaignState state)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(state);
        var start = campaign.StartsAt!.Value;
        return state.HighWaterMark is { } mark && mark - SkewMargin > start ? mark - SkewMargin : start;
    }

    /// <summary>The audience, page by page; every target appears once per page it is on.</summary>
    public IAsyncEnumerable<IReadOnlyList<CampaignTarget>> PagesAsync(Campaign campaign, CampaignState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        return campaign.Audience switch
        {
            AllCustomersAudience all => AllAsync(all, cancellationToken),
            NewCustomersAudience => NewAsync(NewCustomersBoundary(campaign, state), cancellationToken),
            ExternalIdsAudience list => ListedAsync(list.ExternalIds, cancellationToken),
            _ => throw new NotSupportedException($"Audience {campaign.Audience.Kind} is not known."),
        };
    }

    /// <summary>Every customer matching the filters, oldest first: a customer created while the run pages lands on the last page instead of shifting the others.</summary>
    private async IAsyncEnumerable<IReadOnlyList<CampaignTarget>> AllAsync(AllCustomersAudience audience,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var page = 1; page <= MaxPages; page++)
        {
            var result = await polar.ListCustomersAsync(new CustomerListQuery(Page: page, Limit: PageSize,
                Metadata: audience.Metadata.Count > 0 ? audience.Metadata : null, Active: audience.HasActiveSubscription, Sorting: "created_at"),
                cancellationToken).ConfigureAwait(false);
            await directory.RememberAsync(result.Items, cancellationToken).ConfigureAwait(false);
            if (result.Items.Count > 0)
            {
                yield return [.. result.Items.Select(CampaignTarget.From)];
            }

            if (page >= result.Pagination.MaxPage || result.Items.Count == 0)
            {
                yield break;
            }
        }
    }

    /// <summary>Customers created at or after the boundary: Polar has no created-at filter, so list newest first and stop at it.</summary>
    private async IAsyncEnumerable<IReadOnlyList<CampaignTarget>> NewAsync(DateTimeOffset boundary,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var page = 1; page <= MaxPages; page++)
        {
            var result = await polar.ListCustomersAsync(new CustomerListQuery(Page: page, Limit: PageSize, Sorting: "-created_at"), cancellationToken)
                .ConfigureAwait(false);
            await directory.RememberAsync(result.Items, cancellationToken).ConfigureAwait(false);
            var fresh = result.Items.Where(c => c.CreatedAt >= boundary).Select(CampaignTarget.From).ToList();
            if (fresh.Count > 0)
            {
                yield return fresh;
            }

            if (fresh.Count < result.Items.Count || page >= result.Pagination.MaxPage || result.Items.Count == 0)
            {
                yield break;
            }
        }
    }

    /// <summary>
    /// Listed ids, a page of them at a time: those the directory knows (with their Polar id) cost nothing; when the first
    /// page shows that looking up the rest one by one would cost more requests than the organization's customer list has
    /// pages, the list is swept into the directory first; what is still unknown is read one request each.
    /// </summary>
    private async IAsyncEnumerable<IReadOnlyList<CampaignTarget>> ListedAsync(IReadOnlyList<string> externalIds,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var first = true;
        foreach (var chunk in externalIds.Chunk(PageSize))
        {
            var known = await KnownWithIdsAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (first && known.Count < chunk.Length)
            {
                var expected = (long)Math.Ceiling((chunk.Length - known.Count) * (double)externalIds.Count / chunk.Length);
                if (await directory.SweepIfSmallAsync(expected, cancellationToken).ConfigureAwait(false)
                    || await directory.SweepIfCheaperAsync(expected, directory.SlicePages, cancellationToken).ConfigureAwait(false) == SweepOutcome.Complete)
                {
                    known = await KnownWithIdsAsync(chunk, cancellationToken).ConfigureAwait(false);
                }
            }

            first = false;
            var targets = new List<CampaignTarget>(chunk.Length);
            foreach (var id in chunk)
            {
                if (known.TryGetValue(id, out var entry))
                {
                    targets.Add(new CampaignTarget(id, entry.CustomerId, null));
                    continue;
                }

                var customer = await directory.CheckAsync(id, cancellationToken).ConfigureAwait(false);
                targets.Add(customer is not null ? CampaignTarget.From(customer) : new CampaignTarget(id, null, null));
            }

            yield return targets;
        }
    }

    /// <summary>The trusted directory entries that name the Polar customer (a target needs its id).</summary>
    private async Task<Dictionary<string, CustomerDirectoryEntry>> KnownWithIdsAsync(IReadOnlyCollection<string> externalIds, CancellationToken cancellationToken)
    {
        var known = await directory.KnownAsync(externalIds, cancellationToken).ConfigureAwait(false);
        return known.Values.Where(e => e.CustomerId is not null).ToDictionary(e => e.ExternalId, StringComparer.Ordinal);
    }
}
