using System.Globalization;
using System.Web;
using CreditFunctions.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary><c>POST /api/bulk-grants?batch=&amp;meter=&amp;reason=&amp;dryRun=&amp;requireExistingCustomers=</c>: a CSV file of grants becomes a bulk job.</summary>
public sealed class SubmitBulkGrants(BulkGrantApi api)
{
    [Function(nameof(SubmitBulkGrants))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "bulk-grants")] HttpRequestData request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var query = HttpUtility.ParseQueryString(request.Url.Query);
        long? length = request.Headers.TryGetValues("Content-Length", out var values)
            && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var declared)
                ? declared
                : null;
        var answer = await api.SubmitAsync(request.Body, length, query["meter"], query["reason"], query["batch"], query["dryRun"], query["requireExistingCustomers"], request.Url,
            cancellationToken).ConfigureAwait(false);
        return await answer.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
