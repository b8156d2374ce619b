using System.Net;
using CreditFunctions.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary>
/// <c>GET /api/openapi.json</c>: the API's OpenAPI 3.1 document (docs/openapi.json, embedded in the app). Anonymous: the
/// contract holds no secret, and a frontend team generates its client from it.
/// </summary>
public sealed class GetOpenApiDocument
{
    [Function(nameof(GetOpenApiDocument))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "openapi.json")] HttpRequestData request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var response = request.CreateResponse(HttpStatusCode.OK);
        response.Headers.Add("Content-Type", ApiResponse.Json);
        await response.Body.WriteAsync(OpenApiDocument.Bytes, cancellationToken).ConfigureAwait(false);
        return response;
    }
}
