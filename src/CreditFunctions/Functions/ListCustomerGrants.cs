using CreditFunctions.Http;
using CreditGrants.Polar.Budget;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary><c>GET /api/customers/{externalId}/grants?meter=&amp;status=&amp;cursor=&amp;limit=</c>: a customer's ledger on a meter.</summary>
public sealed class ListCustomerGrants(LedgerApi api)
{
    [Function(nameof(ListCustomerGrants))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "customers/{externalId}/grants")] HttpRequestData request,
        string externalId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // A caller is waiting: this request may use the share of the budget that background work leaves free.
        using var interactive = PolarTraffic.Interactive();
        var query = System.Web.HttpUtility.ParseQueryString(request.Url.Query);
        var answer = await api.ListAsync(externalId, query["meter"], query["status"], query["cursor"], query["limit"], cancellationToken)
            .ConfigureAwait(false);
        return await answer.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
