using Azure;
using Azure.Data.Tables;
using CreditGrants.Campaigns;
using Microsoft.Extensions.Options;

namespace CreditGrants.Storage.Campaigns;

/// <summary>
/// Campaign state in an Azure Table, one row per campaign, written with optimistic concurrency on the row's ETag: two
/// instances running the timer (or a CLI run with <c>--storage</c>) reserve from one budget and never both spend it.
/// </summary>
public sealed class TableCampaignStateStore : ICampaignStateStore
{
    private const string StateRow = "state";

    private readonly Lazy<TableClient> _table;

    public TableCampaignStateStore(Func<StorageAccount> account, IOptions<CampaignOptions> options)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(options);
        var name = options.Value.StateTable;
        _table = new Lazy<TableClient>(() => account().Tables.GetTableClient(name));
    }

    public TableClient Table => _table.Value;

    public Task EnsureCreatedAsync(CancellationToken cancellationToken) => Table.CreateIfNotExistsAsync(cancellationToken);

    public async Task<VersionedCampaignState> ReadAsync(string campaignId, CancellationToken cancellationToken = default)
    {
        NullableResponse<TableEntity> found;
        try
        {
            found = await Table.GetEntityIfExistsAsync<TableEntity>(campaignId, StateRow, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: no campaign has run on this account.
            return new VersionedCampaignState(CampaignState.New(campaignId), null);
        }

        if (!found.HasValue || found.Value is null)
        {
            return new VersionedCampaignState(CampaignState.New(campaignId), null);
        }

        var state = CampaignStateJson.Deserialize(found.Value.GetString("State"))
            ?? throw new InvalidDataException($"The state row of campaign '{campaignId}' is empty.");
        return new VersionedCampaignState(state, found.Value.ETag.ToString());
    }

    public async Task<bool> TryWriteAsync(CampaignState state, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        // The whole state as JSON, plus the figures an operator reads in a table browser.
        var entity = new TableEntity(state.CampaignId, StateRow)
        {
            ["State"] = CampaignStateJson.Serialize(state),
            ["LastOccurrence"] = state.LastOccurrence,
            ["UnitsGranted"] = (double)state.UnitsGranted,
            ["Grants"] = state.Grants,
            ["Exhausted"] = state.Exhausted,
            ["SkippedOccurrences"] = state.SkippedOccurrences,
            ["LastError"] = state.LastError,
        };
        try
        {
            if (expectedVersion is null)
            {
                try
                {
                    await Table.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
                }
                catch (RequestFailedException ex) when (ex.Status == 404)
                {
                    await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
                    await Table.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                await Table.UpdateEntityAsync(entity, new ETag(expectedVersion), TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            }

            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return false;
        }
    }
}
