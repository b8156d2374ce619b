using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Http;

/// <summary>Writes an <see cref="ApiResponse"/> through the Functions host.</summary>
internal static class HttpResponseDataExtensions
{
    public static async Task<HttpResponseData> WriteToAsync(this ApiResponse answer, HttpRequestData request, CancellationToken cancellationToken)
    {
        var response = request.CreateResponse(answer.Status);
        if (answer.ContentType.Length > 0)
        {
            // A bare answer (the webhook endpoint's 401 and 413) has no body and no type.
            response.Headers.Add("Content-Type", answer.ContentType);
        }

        foreach (var (name, value) in answer.Headers)
        {
            response.Headers.Add(name, value);
        }

        await response.Body.WriteAsync(answer.Body, cancellationToken).ConfigureAwait(false);
        return response;
    }
}
