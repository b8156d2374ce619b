using CreditFunctions.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary>
/// <c>POST /api/bulk-grants/{jobId}/revoke</c>: takes back what every granted row of a finished job has unspent (or, with
/// <c>dryRun</c>, says what it would take back), answering each row's outcome; a job of more than 100 customers is revoked
/// on the bulk queue instead (202, followed on the job's status).
/// </summary>
public sealed class RevokeBulkGrants(BulkRevokeApi api)
{
    [Function(nameof(RevokeBulkGrants))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "bulk-grants/{jobId}/revoke")] HttpRequestData request,
        string jobId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answer = await api.RevokeAsync(jobId, request.Body, request.Url, cancellationToken).ConfigureAwait(false);
        return await answer.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
