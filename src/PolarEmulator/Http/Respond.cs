using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using PolarEmulator.Wire;

namespace PolarEmulator.Http;

/// <summary>Writes Polar's response bodies.</summary>
internal static class Respond
{
    public const string RequestValidationError = "RequestValidationError";
    public const string PolarRequestValidationError = "PolarRequestValidationError";

    public static async Task JsonAsync<T>(HttpContext context, int status, T value, JsonTypeInfo<T> typeInfo)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, typeInfo, context.RequestAborted).ConfigureAwait(false);
    }

    public static Task OkAsync<T>(HttpContext context, T value, JsonTypeInfo<T> typeInfo) =>
        JsonAsync(context, StatusCodes.Status200OK, value, typeInfo);

    public static Task ErrorAsync(HttpContext context, int status, string error, string detail) =>
        JsonAsync(context, status, new ErrorResource(error, detail), EmulatorJsonContext.Default.ErrorResource);

    public static Task ResourceNotFoundAsync(HttpContext context) =>
        ErrorAsync(context, StatusCodes.Status404NotFound, "ResourceNotFound", "Not found");

    /// <summary>FastAPI's answer for a path no route has.</summary>
    public static Task RouteNotFoundAsync(HttpContext context) =>
        JsonAsync(context, StatusCodes.Status404NotFound, new DetailResource("Not Found"), EmulatorJsonContext.Default.DetailResource);

    public static Task ValidationAsync(HttpContext context, string error, IReadOnlyList<ValidationIssue> issues) =>
        JsonAsync(context, StatusCodes.Status422UnprocessableEntity, new ValidationErrorResource(error, issues),
            EmulatorJsonContext.Default.ValidationErrorResource);
}
