using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Grants;

namespace CreditFunctions.Http;

/// <summary>An HTTP answer independent of the Functions host: status, JSON body, content type and extra headers.</summary>
public sealed record ApiResponse(HttpStatusCode Status, byte[] Body, string ContentType, IReadOnlyDictionary<string, string> Headers)
{
    public const string Json = "application/json; charset=utf-8";
    public const string ProblemJson = "application/problem+json; charset=utf-8";

    public static ApiResponse Ok<T>(HttpStatusCode status, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        new(status, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), Json, new Dictionary<string, string>());

    public static ApiResponse Problem(Problem problem, IReadOnlyDictionary<string, string>? headers = null)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return new((HttpStatusCode)problem.Status, JsonSerializer.SerializeToUtf8Bytes(problem, ApiJsonContext.Default.Problem),
            ProblemJson, headers ?? new Dictionary<string, string>());
    }
}

/// <summary>An RFC 9457 problem: a stable <see cref="Type"/> per kind, a title, the status, and what went wrong.</summary>
public sealed record Problem(string Type, string Title, int Status, string Detail, IReadOnlyList<FieldError>? Errors = null)
{
    public const string TypePrefix = "urn:credit-functions:problem:";
}

/// <summary>camelCase JSON for problems.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Problem))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
