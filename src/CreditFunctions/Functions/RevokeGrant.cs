using CreditFunctions.Http;
using CreditGrants.Polar.Budget;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary><c>POST /api/grants/{grantId}/revoke</c>: takes back what a grant has unspent.</summary>
public sealed class RevokeGrant(LedgerApi api)
{
    [Function(nameof(RevokeGrant))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "grants/{grantId}/revoke")] HttpRequestData request,
        string grantId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var interactive = PolarTraffic.Interactive();
        var answer = await api.RevokeAsync(grantId, request.Body, cancellationToken).ConfigureAwait(false);
        return await answer.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
