using System.Net;
using CreditFunctions.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary>
/// <c>GET /api/bulk-grants/{jobId}/results</c>: the results CSV of a finished job, streamed with the function key (the blob
/// itself is private). 404 for an unknown job, 409 while it runs.
/// </summary>
public sealed class GetBulkGrantResults(BulkGrantApi api)
{
    [Function(nameof(GetBulkGrantResults))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "bulk-grants/{jobId}/results")] HttpRequestData request,
        string jobId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (problem, results) = await api.OpenResultsAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (problem is not null || results is null)
        {
            return await problem!.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
        }

        await using (results.ConfigureAwait(false))
        {
            var response = request.CreateResponse(HttpStatusCode.OK);
            response.Headers.Add("Content-Type", "text/csv; charset=utf-8");
            response.Headers.Add("Content-Disposition", $"attachment; filename=\"{jobId}.results.csv\"");
            await results.CopyToAsync(response.Body, cancellationToken).ConfigureAwait(false);
            return response;
        }
    }
}
