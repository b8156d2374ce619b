using CreditFunctions.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary><c>GET /api/bulk-grants/{jobId}</c>: where a bulk job stands, its totals and its results file.</summary>
public sealed class GetBulkGrantJob(BulkGrantApi api)
{
    [Function(nameof(GetBulkGrantJob))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "bulk-grants/{jobId}")] HttpRequestData request,
        string jobId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var answer = await api.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
        return await answer.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
