using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Web;
using FunctionsHost.Tests.Rpc;
using Google.Protobuf;

namespace FunctionsHost.Tests.Host;

/// <summary>An HTTP answer of a function, as the host turns the worker's RpcHttp into the response it sends.</summary>
internal sealed record HostHttpResponse(HttpStatusCode Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public JsonNode Json => JsonNode.Parse(Body) ?? throw new InvalidOperationException("The body is JSON null.");

    public string? Header(string name) =>
        Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public override string ToString() => $"{(int)Status} {Status}: {Text}";
}

/// <summary>
/// HTTP through the host's side of the protocol: routes a request to the function whose httpTrigger route and methods
/// match (under the host's <c>/api</c> prefix), builds the RpcHttp input and trigger metadata the host sends to a worker
/// with the .NET worker's capabilities (body only as raw bytes, nullable-value dictionaries, no request in the trigger
/// metadata), and reads the RpcHttp the worker returns. Every request and its answer are checked against the host's
/// <see cref="WorkerHost.HttpContract"/> (the API's OpenAPI document), so every HTTP test holds the document true.
/// </summary>
internal static class HostHttp
{
    /// <summary>Where the host listens locally (func start's default), for the request URL the worker sees.</summary>
    public static readonly Uri BaseAddress = new("http://localhost:7071/");

    /// <summary>The capabilities this translation assumes; a worker that stops declaring one fails the request clearly.</summary>
    public static readonly string[] RequiredCapabilities = ["RpcHttpBodyOnly", "RawHttpBodyBytes", "UseNullableValueDictionaryForHttp", "RpcHttpTriggerMetadataRemoved"];

    /// <summary>
    /// Sends a request to the function whose route matches, as the host does, and checks the exchange against the host's
    /// contract. <paramref name="baseAddress"/> is where the request was received (the host's own address by default).
    /// </summary>
    public static async Task<HostHttpResponse> SendAsync(this WorkerHost host, HttpMethod method, string pathAndQuery, byte[]? body = null,
        IReadOnlyDictionary<string, string>? headers = null, Uri? baseAddress = null, CancellationToken cancellationToken = default)
    {
        var missing = RequiredCapabilities.Where(c => !host.HasCapability(c)).ToArray();
        if (missing.Length > 0)
        {
            throw new InvalidOperationException($"The worker no longer declares {string.Join(", ", missing)}: the test host's HTTP translation needs updating.");
        }

        var url = new Uri(baseAddress ?? BaseAddress, pathAndQuery);
        var (function, binding, routeValues) = Route(host, method, url);
        var http = new RpcHttp { Method = method.Method, Url = url.AbsoluteUri };
        var query = HttpUtility.ParseQueryString(url.Query);
        foreach (var key in query.AllKeys.OfType<string>())
        {
            http.NullableQuery.Add(key, new NullableString { Value = query[key] ?? "" });
        }

        var allHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["host"] = url.Authority };
        if (body is { Length: > 0 })
        {
            allHeaders["content-length"] = body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            allHeaders[name] = value;
        }

        foreach (var (name, value) in allHeaders)
        {
            http.NullableHeaders.Add(name.ToLowerInvariant(), new NullableString { Value = value });
        }

        foreach (var (name, value) in routeValues)
        {
            http.NullableParams.Add(name, new NullableString { Value = value });
        }

        // The host sends a body only when the request has content.
        if (body is { Length: > 0 })
        {
            http.Body = new TypedData { Bytes = ByteString.CopyFrom(body) };
        }

        // Trigger metadata: the route values and query parameters by name, Query and Headers as JSON (the request itself is
        // left out, as the worker declares RpcHttpTriggerMetadataRemoved).
        var metadata = new Dictionary<string, TypedData>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in query.AllKeys.OfType<string>())
        {
            metadata[key] = new TypedData { String = query[key] ?? "" };
        }

        foreach (var (name, value) in routeValues)
        {
            metadata[name] = new TypedData { String = value };
        }

        metadata["Query"] = new TypedData { Json = new JsonObject(query.AllKeys.OfType<string>().Select(k => KeyValuePair.Create(k, (JsonNode?)query[k]))).ToJsonString() };
        metadata["Headers"] = new TypedData { Json = new JsonObject(allHeaders.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)h.Value))).ToJsonString() };

        var answer = await InvokeAsync(host, function.Name, binding, http, metadata, cancellationToken);
        // Every exchange is held to the API's contract (docs/openapi.json), unless the host was told to check none.
        host.HttpContract?.Check(method, url, allHeaders, body, answer);
        return answer;
    }

    private static async Task<HostHttpResponse> InvokeAsync(WorkerHost host, string functionName, string binding, RpcHttp http,
        Dictionary<string, TypedData> metadata, CancellationToken cancellationToken)
    {
        var response = await host.InvokeAsync(functionName, [new ParameterBinding { Name = binding, Data = new TypedData { Http = http } }], metadata, cancellationToken);
        if (response.Result.Status != StatusResult.Types.Status.Success)
        {
            // What the host answers for a failed invocation.
            return new HostHttpResponse(HttpStatusCode.InternalServerError, new Dictionary<string, string>(),
                Encoding.UTF8.GetBytes(response.Result.Exception?.Message ?? "invocation failed"));
        }

        var output = response.ReturnValue?.Http
            ?? response.OutputData.FirstOrDefault(o => o.Name == "$return")?.Data?.Http
            ?? throw new InvalidOperationException($"{functionName} returned no HTTP response.");
        var responseHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in output.Headers)
        {
            responseHeaders[name] = value;
        }

        foreach (var (name, value) in output.NullableHeaders)
        {
            responseHeaders[name] = value.Value;
        }

        var bytes = output.Body?.DataCase switch
        {
            TypedData.DataOneofCase.Bytes => output.Body.Bytes.ToByteArray(),
            TypedData.DataOneofCase.String => Encoding.UTF8.GetBytes(output.Body.String),
            TypedData.DataOneofCase.Json => Encoding.UTF8.GetBytes(output.Body.Json),
            _ => [],
        };
        var status = int.Parse(string.IsNullOrEmpty(output.StatusCode) ? "200" : output.StatusCode, System.Globalization.CultureInfo.InvariantCulture);
        return new HostHttpResponse((HttpStatusCode)status, responseHeaders, bytes);
    }

    public static Task<HostHttpResponse> GetAsync(this WorkerHost host, string pathAndQuery, IReadOnlyDictionary<string, string>? headers = null) =>
        host.SendAsync(HttpMethod.Get, pathAndQuery, headers: headers);

    public static Task<HostHttpResponse> PostAsync(this WorkerHost host, string pathAndQuery, string body, string contentType,
        IReadOnlyDictionary<string, string>? headers = null)
    {
        var all = new Dictionary<string, string>(headers ?? new Dictionary<string, string>()) { ["content-type"] = contentType };
        return host.SendAsync(HttpMethod.Post, pathAndQuery, Encoding.UTF8.GetBytes(body), all);
    }

    /// <summary>
    /// The function an HTTP request reaches: its route template (<c>{name}</c> segments bind one decoded segment) under
    /// <c>api/</c> and its methods. Throws naming the routes when none matches, as the host answers 404.
    /// </summary>
    public static (IndexedFunction Function, string Binding, IReadOnlyDictionary<string, string> RouteValues) Route(WorkerHost host, HttpMethod method, Uri url)
    {
        var path = url.AbsolutePath.TrimStart('/');
        if (!path.StartsWith("api/", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"{url.AbsolutePath} is not under the host's /api prefix.");
        }

        var segments = path["api/".Length..].Split('/');
        foreach (var function in host.Functions.Values)
        {
            var trigger = function.ResolvedBindings.FirstOrDefault(b => (string?)b["type"] == "httpTrigger");
            if (trigger is null
                || trigger["methods"] is JsonArray methods && !methods.Any(m => string.Equals((string?)m, method.Method, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            if (MatchTemplate(((string?)trigger["route"] ?? function.Name).Split('/'), segments) is { } values)
            {
                return (function, (string)trigger["name"]!, values);
            }
        }

        throw new InvalidOperationException($"No function serves {method} {url.AbsolutePath} (404).");
    }

    /// <summary>
    /// The values of a route template's <c>{name}</c> segments (each one decoded path segment) when the path's segments
    /// match it, literal segments ignoring case; null when they do not.
    /// </summary>
    public static Dictionary<string, string>? MatchTemplate(string[] template, string[] segments)
    {
        if (template.Length != segments.Length)
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] is ['{', .. var name, '}'])
            {
                values[name] = Uri.UnescapeDataString(segments[i]);
            }
            else if (!string.Equals(template[i], segments[i], StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        return values;
    }
}
