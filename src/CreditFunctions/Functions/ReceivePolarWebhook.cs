using CreditFunctions.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Functions;

/// <summary>
/// <c>POST /api/polar/webhooks</c>: Polar's webhook endpoint. Anonymous for the host (Polar sends no function key);
/// authenticated by its signature (docs/webhooks.md).
/// </summary>
public sealed class ReceivePolarWebhook(WebhookApi api)
{
    [Function(nameof(ReceivePolarWebhook))]
    public async Task<HttpResponseData> Run(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "polar/webhooks")] HttpRequestData request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var declared = Header(request, "Content-Length") is { } text && long.TryParse(text, out var length) ? length : (long?)null;
        var body = await api.ReadBodyAsync(request.Body, declared, cancellationToken).ConfigureAwait(false);
        var answer = body is null
            ? WebhookApi.TooLarge
            : await api.ReceiveAsync(Header(request, WebhookApi.IdHeader), Header(request, WebhookApi.TimestampHeader),
                Signatures(request), body, cancellationToken).ConfigureAwait(false);
        return await answer.WriteToAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A header sent once; null when absent or repeated (a repeated id or timestamp is not Polar's).</summary>
    private static string? Header(HttpRequestData request, string name) =>
        request.Headers.TryGetValues(name, out var values) && values.ToList() is [var single] ? single : null;

    /// <summary>Every <c>webhook-signature</c> value, space-separated as one header holds them.</summary>
    private static string? Signatures(HttpRequestData request) =>
        request.Headers.TryGetValues(WebhookApi.SignatureHeader, out var values) ? string.Join(' ', values) : null;
}
