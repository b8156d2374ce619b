using CreditFunctions.Http;
using CreditGrants.Polar.Budget;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary><c>POST /api/grants</c>: grants credits to one customer for a SaaS frontend.</summary>
public sealed class GrantCredits(GrantApi api)
{
    [Function(nameof(GrantCredits))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "grants")] HttpRequestData request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        // A caller is waiting: this request may use the share of the budget that background work leaves free.
        using var interactive = PolarTraffic.Interactive();
        var idempotencyKey = request.Headers.TryGetValues(GrantApi.IdempotencyKeyHeader, out var values) ? values.FirstOrDefault() : null;
        var answer = await api.GrantAsync(request.Body, idempotencyKey, cancellationToken).ConfigureAwait(false);
        return await answer.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
