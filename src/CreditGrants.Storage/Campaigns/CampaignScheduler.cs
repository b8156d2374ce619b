using Azure.Storage.Blobs;
using CreditGrants.Campaigns;
using CreditGrants.Storage.Bulk;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CreditGrants.Storage.Campaigns;

/// <summary>What one timer run did with one campaign document.</summary>
public sealed record CampaignTick(string Blob, string? Campaign, CampaignRunResult? Result, string? Error);

/// <summary>
/// The timer's work: reads every campaign document in the container, validates it, and runs the due occurrences with
/// the table's state, enqueueing their grants as bulk jobs. An invalid document is logged with its blob name and the
/// field at fault, recorded as the campaign's last error, and the other campaigns still run.
/// </summary>
public sealed partial class CampaignScheduler(
    Func<StorageAccount> account,
    IOptions<CampaignOptions> options,
    TableCampaignStateStore state,
    CampaignValidator validator,
    CampaignRunner runner,
    BulkJobs jobs,
    TimeProvider time,
    ILogger<CampaignScheduler> logger)
{
    private readonly Lazy<BlobContainerClient> _container = new(() => account().Blobs.GetBlobContainerClient(options.Value.Container));

    public BlobContainerClient Container => _container.Value;

    /// <summary>The blob a campaign's document is stored as.</summary>
    public static string BlobName(string campaignId) => campaignId + ".json";

    public async Task<IReadOnlyList<CampaignTick>> RunAsync(CancellationToken cancellationToken)
    {
        await Container.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await state.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        var at = time.GetUtcNow();
        var ticks = new List<CampaignTick>();
        await foreach (var blob in Container.GetBlobsAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (!blob.Name.EndsWith(".json", StringComparison.Ordinal))
            {
                continue;
            }

            ticks.Add(await RunOneAsync(blob.Name, at, cancellationToken).ConfigureAwait(false));
        }

        return ticks;
    }

    private async Task<CampaignTick> RunOneAsync(string blobName, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var content = await Container.GetBlobClient(blobName).DownloadContentAsync(cancellationToken).ConfigureAwait(false);
        var validation = validator.Validate(content.Value.Content.ToString());
        var expectedId = blobName[..^".json".Length];
        if (!validation.IsValid || validation.Campaign!.Id != expectedId)
        {
            var error = validation.IsValid
                ? $"the document's id '{validation.Campaign!.Id}' is not its blob's name; store it as {BlobName(validation.Campaign.Id)}"
                : string.Join("; ", validation.Errors);
            LogInvalid(blobName, error);
            await state.UpdateAsync(expectedId, s => s with { LastError = $"invalid document: {error}" }, cancellationToken).ConfigureAwait(false);
            return new CampaignTick(blobName, null, null, error);
        }

        var campaign = validation.Campaign;
        var sink = new BulkJobGrantSink(jobs);
        await using (sink.ConfigureAwait(false))
        {
            try
            {
                var result = await runner.RunAsync(campaign, state, at, new CampaignRunOptions(sink), cancellationToken).ConfigureAwait(false);
                return new CampaignTick(blobName, campaign.Id, result, result.Error);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // One campaign's failure never stops the others; the next tick tries it again, and its grant ids keep that safe.
                LogFailed(ex, campaign.Id);
                await state.UpdateAsync(campaign.Id, s => s with { LastError = ex.Message }, cancellationToken).ConfigureAwait(false);
                return new CampaignTick(blobName, campaign.Id, null, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Campaign document {Blob} is invalid and was not run: {Error}")]
    private partial void LogInvalid(string blob, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Campaign {Campaign} failed this run")]
    private partial void LogFailed(Exception exception, string campaign);
}
