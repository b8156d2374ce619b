using System.Globalization;
using System.Text;
using CreditGrants.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Storage.Bulk;

namespace CreditGrants.Storage.Campaigns;

/// <summary>
/// Hands an occurrence's grants to the bulk pipeline: its rows are written as a bulk file with explicit grant ids
/// (<c>grant_id,customer_id,units</c>, meter and reason as the job's defaults) and submitted as one job in the batch
/// <c>campaign:&lt;id&gt;:&lt;occurrence&gt;</c>. The queue function grants it chunk by chunk, and the job's status and results
/// file are the occurrence's. The same rows give the same job id, so a repeated run enqueues nothing twice.
/// One sink serves one run.
/// </summary>
public sealed class BulkJobGrantSink(BulkJobs jobs) : ICampaignGrantSink, IAsyncDisposable
{
    private readonly Dictionary<string, FileStream> _files = new(StringComparer.Ordinal);

    /// <summary>The batch of an occurrence's job.</summary>
    public static string Batch(string campaignId, string occurrence) => $"campaign:{campaignId}:{occurrence}";

    public async Task<ChunkResult?> GrantAsync(Campaign campaign, string occurrence, IReadOnlyList<BulkRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(rows);
        var key = Batch(campaign.Id, occurrence);
        if (!_files.TryGetValue(key, out var file))
        {
            file = new FileStream(Path.Combine(Path.GetTempPath(), $"credits-campaign-{Guid.NewGuid():N}.csv"), FileMode.CreateNew, FileAccess.ReadWrite,
                FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
            _files[key] = file;
            // The expiry and carry-over columns only for a campaign that uses them, so the files (and job ids) of the others stay as they were.
            var header = "grant_id,customer_id,units" + (campaign.ExpiresAfter is null ? "" : ",expires_at") + (campaign.CarryOver ? ",carry_over" : "") + "\n";
            await file.WriteAsync(Encoding.UTF8.GetBytes(header), cancellationToken).ConfigureAwait(false);
        }

        var text = new StringBuilder();
        foreach (var row in rows)
        {
            var grant = row.Grant!;
            text.Append(Quote(grant.GrantId.Value)).Append(',')
                .Append(grant.Customer.CustomerId!.Value.ToString("D")).Append(',')
                .Append(grant.Units.ToString(CultureInfo.InvariantCulture));
            if (campaign.ExpiresAfter is not null)
            {
                text.Append(',').Append(grant.ExpiresAt is { } at ? Grants.GrantExpiry.Format(at) : "");
            }

            if (campaign.CarryOver)
            {
                text.Append(',').Append(grant.CarryOver ? "true" : "false");
            }

            text.Append('\n');
        }

        await file.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), cancellationToken).ConfigureAwait(false);
        return null;
    }

    public async Task<string?> CompleteOccurrenceAsync(Campaign campaign, string occurrence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        var key = Batch(campaign.Id, occurrence);
        if (!_files.Remove(key, out var file))
        {
            return null;
        }

        await using (file.ConfigureAwait(false))
        {
            file.Position = 0;
            var submission = await jobs.SubmitAsync(file, new BulkDefaults(campaign.Meter, campaign.Reason), new BulkSubmitOptions(key), cancellationToken)
                .ConfigureAwait(false);
            return submission.JobId;
        }
    }

    public async Task<JobSettlement?> SettleAsync(string jobId, CancellationToken cancellationToken)
    {
        var status = await jobs.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (status is null || !BulkJobState.HasEnded(status.Status))
        {
            return null;
        }

        var totals = status.Totals;
        return new JobSettlement(totals.Granted + (totals.GrantedOrDuplicate ?? 0), totals.Duplicates + totals.Rejected, totals.Duplicates,
            totals.Rejected, totals.Failed, status.Results?.Uri.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var file in _files.Values)
        {
            await file.DisposeAsync().ConfigureAwait(false);
        }

        _files.Clear();
    }

    private static string Quote(string value) => "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
