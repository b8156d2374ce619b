using Azure;
using CreditGrants.Campaigns;
using CreditGrants.Grants;
using CreditGrants.Identity;
using CreditGrants.Lifecycle;
using CreditGrants.Storage.Campaigns;
using Microsoft.Extensions.Logging;

namespace CreditFunctions.Http;

/// <summary>
/// <c>POST /api/campaigns/{campaignId}/occurrences/{occurrence}/revoke</c>'s HTTP semantics, apart from the Functions host:
/// the app's counterpart of <c>credits campaigns revoke</c>. The app granted the occurrence as a bulk job (its campaign state
/// names the job), so the occurrence's grants are that job's granted rows; they are revoked as a job's are
/// (<see cref="BulkRevokeApi"/>: within the request for up to <see cref="BulkRevokeApi.MaxCustomers"/> customers, else on
/// the bulk queue), with the name and events' source the CLI gives them (<see cref="CampaignRevocation"/>).
/// </summary>
public sealed partial class CampaignRevokeApi(TableCampaignStateStore states, BulkRevokeApi bulk, ILogger<CampaignRevokeApi> logger)
{
    private const int KnownShown = 5;
    private static readonly System.Text.RegularExpressions.Regex CampaignIdPattern = new("^[a-z0-9-]{1,64}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// <c>{"reason", "dryRun"?}</c>: 200 with the revocation's counts and every grant's outcome (<see cref="BulkRevocationJson"/>,
    /// <c>revoking</c> = <c>&lt;campaign&gt;.&lt;yyyyMMddTHHmmssZ&gt;</c>); 202 when the occurrence granted to more than
    /// <see cref="BulkRevokeApi.MaxCustomers"/> customers (its job's revocation runs on the queue, followed on the job's status);
    /// 400 for a bad id, occurrence or body; 404 <c>campaign-not-found</c> or <c>campaign-occurrence-not-found</c> (naming the
    /// recent occurrences); 409 while the occurrence's job runs; 503 when storage is unavailable.
    /// </summary>
    /// <param name="campaignId">The campaign's id, from the path (1 to 64 characters of a-z, 0-9 and '-').</param>
    /// <param name="occurrence">The occurrence, from the path, in one of <see cref="CampaignRevocation.OccurrenceForms"/>.</param>
    /// <param name="body">The request body.</param>
    /// <param name="requestUrl">The request's URL, from which the job's status URL is made.</param>
    /// <param name="cancellationToken">The request's.</param>
    public async Task<ApiResponse> RevokeAsync(string campaignId, string occurrence, Stream body, Uri requestUrl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var errors = new List<FieldError>();
        if (Identifier.Trim(campaignId) != campaignId || Identifier.Check(campaignId).Count > 0 || !CampaignIdPattern.IsMatch(campaignId))
        {
            errors.Add(FieldError.Of("campaignId", Display.Escape(campaignId), "must be a campaign id: 1 to 64 characters of a-z, 0-9 and '-', such as welcome-2026"));
        }

        if (!CampaignRevocation.TryParseOccurrence(occurrence, out var at))
        {
            errors.Add(FieldError.Of("occurrence", Display.Escape(occurrence), $"must be {CampaignRevocation.OccurrenceForms}"));
        }

        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (buffer.Length > BulkRevokeApi.MaxBodyBytes)
        {
            return Problems.BodyTooLarge(BulkRevokeApi.MaxBodyBytes);
        }

        var (options, bodyErrors) = BulkRevokeApi.Read(campaignId, buffer.ToArray());
        errors.AddRange(bodyErrors);
        if (errors.Count > 0 || options is null)
        {
            return Problems.InvalidRequest(string.Join("; ", errors), errors);
        }

        var key = CampaignSchedule.Key(at);
        var name = CampaignRevocation.Name(campaignId, at);
        try
        {
            var state = await states.ReadAsync(campaignId, cancellationToken).ConfigureAwait(false);
            if (state.Version is null)
            {
                return Problems.CampaignNotFound(campaignId);
            }

            var jobId = state.State.Occurrences.LastOrDefault(o => o.Occurrence == key)?.JobId
                ?? state.State.PendingJobs.FirstOrDefault(p => p.Occurrence == key)?.JobId;
            if (jobId is null)
            {
                if (state.State.Occurrences.Any(o => o.Occurrence == key))
                {
                    // The occurrence ran and granted nothing (every target waiting, over budget or rejected before any job).
                    var nothing = new BulkRevokeSummary(options.DryRun, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
                    return ApiResponse.Ok(System.Net.HttpStatusCode.OK, BulkRevocationJson.From(name, nothing, null, []),
                        BulkRevocationJsonContext.Default.BulkRevocationJson);
                }

                return Problems.CampaignOccurrenceNotFound(campaignId, key,
                    [.. state.State.Occurrences.Select(o => o.Occurrence).Concat(state.State.PendingJobs.Select(p => p.Occurrence)).Distinct().Order(StringComparer.Ordinal).TakeLast(KnownShown)]);
            }

            var (problem, rows) = await bulk.ReadRowsAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
            {
                return problem;
            }

            LogRevoking(campaignId, key, jobId, rows!.Count);
            return await bulk.RevokeRowsAsync(jobId, rows, options with { Source = CampaignRevocation.Source(name) }, name, requestUrl, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            LogStorage(ex.Status, ex.ErrorCode);
            return Problems.StorageUnavailable();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Campaign {CampaignId} occurrence {Occurrence}: revoking the {Rows} rows of its bulk job {JobId}")]
    private partial void LogRevoking(string campaignId, string occurrence, string jobId, int rows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Campaign revocation refused: Azure Storage answered {Status} {ErrorCode}")]
    private partial void LogStorage(int status, string? errorCode);
}
