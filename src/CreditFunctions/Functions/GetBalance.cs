using CreditFunctions.Http;
using CreditGrants.Polar.Budget;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary><c>GET /api/customers/{externalId}/balance?meter=</c>: a customer's credit on a meter.</summary>
public sealed class GetBalance(GrantApi api)
{
    [Function(nameof(GetBalance))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "customers/{externalId}/balance")] HttpRequestData request,
        string externalId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // A caller is waiting: this request may use the share of the budget that background work leaves free.
        using var interactive = PolarTraffic.Interactive();
        var meter = System.Web.HttpUtility.ParseQueryString(request.Url.Query)["meter"];
        var answer = await api.GetBalanceAsync(externalId, meter, cancellationToken).ConfigureAwait(false);
        return await answer.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
