using CreditFunctions.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary>
/// <c>POST /api/campaigns/{campaignId}/occurrences/{occurrence}/revoke</c>: takes back what each grant of a campaign occurrence
/// has unspent (or, with <c>dryRun</c>, says what it would take back), as <c>credits campaigns revoke</c> does; an occurrence
/// of more than 100 customers is revoked on the bulk queue (202, followed on its bulk job's status).
/// </summary>
public sealed class RevokeCampaignOccurrence(CampaignRevokeApi api)
{
    [Function(nameof(RevokeCampaignOccurrence))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "campaigns/{campaignId}/occurrences/{occurrence}/revoke")] HttpRequestData request,
        string campaignId,
        string occurrence,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answer = await api.RevokeAsync(campaignId, occurrence, request.Body, request.Url, cancellationToken).ConfigureAwait(false);
        return await answer.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
