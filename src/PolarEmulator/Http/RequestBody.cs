using System.Text.Json;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Http;

/// <summary>Reads a request's JSON body; a missing or malformed body is a 422, as FastAPI answers.</summary>
internal static class RequestBody
{
    public static async Task<(JsonDocument? Document, IReadOnlyList<ValidationIssue>? Issues)> ReadObjectAsync(HttpContext context)
    {
        var length = (int)(context.Request.ContentLength ?? 0);
        if (length == 0)
        {
            return (null, [Issues.Missing(Issues.Loc("body"), Issues.Null)]);
        }

        var buffer = new byte[length];
        await context.Request.Body.ReadExactlyAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer);
        }
        catch (JsonException exception)
        {
            return (null, [Issues.JsonInvalid(exception.BytePositionInLine ?? 0, exception.Message)]);
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var issue = Issues.ModelType(Issues.Loc("body"), document.RootElement.Clone());
            document.Dispose();
            return (null, [issue]);
        }

        return (document, null);
    }
}
