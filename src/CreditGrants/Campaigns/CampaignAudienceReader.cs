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
/// <c>externalIds</c> by lookup (or by listing, when that takes fewer requests).
/// </summary>
public sealed class CampaignAudienceReader(IPolarGateway polar)
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
    /// Listed ids by lookup, one request each; when the organization has fewer pages of customers than the list has ids,
    /// paging through them all and picking the listed ones is cheaper.
    /// </summary>
    private async IAsyncEnumerable<IReadOnlyList<CampaignTarget>> ListedAsync(IReadOnlyList<string> externalIds,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var first = await polar.ListCustomersAsync(new CustomerListQuery(Page: 1, Limit: PageSize, Sorting: "created_at"), cancellationToken).ConfigureAwait(false);
        if (first.Pagination.MaxPage < externalIds.Count)
        {
            var wanted = externalIds.ToHashSet(StringComparer.Ordinal);
            var found = new Dictionary<string, Customer>(StringComparer.Ordinal);
            var page = first;
            for (var number = 1; ; number++)
            {
                foreach (var customer in page.Items.Where(c => c.ExternalId is { } id && wanted.Contains(id)))
                {
                    found[customer.ExternalId!] = customer;
                }

                if (number >= page.Pagination.MaxPage || page.Items.Count == 0)
                {
                    break;
                }

                page = await polar.ListCustomersAsync(new CustomerListQuery(Page: number + 1, Limit: PageSize, Sorting: "created_at"), cancellationToken)
                    .ConfigureAwait(false);
            }

            foreach (var chunk in externalIds.Chunk(PageSize))
            {
                yield return [.. chunk.Select(id => found.TryGetValue(id, out var customer) ? CampaignTarget.From(customer) : new CampaignTarget(id, null, null))];
            }

            yield break;
        }

        foreach (var chunk in externalIds.Chunk(PageSize))
        {
            var targets = new List<CampaignTarget>(chunk.Length);
            foreach (var id in chunk)
            {
                var customer = await polar.FindCustomerByExternalIdAsync(id, cancellationToken).ConfigureAwait(false);
                targets.Add(customer is { DeletedAt: null } ? CampaignTarget.From(customer) : new CampaignTarget(id, null, null));
            }

            yield return targets;
        }
    }
}
