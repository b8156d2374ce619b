using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Web;
using Json.Schema;

namespace FunctionsHost.Tests.Host;

/// <summary>An HTTP exchange that the OpenAPI document does not allow: the request or the answer breaks the contract.</summary>
internal sealed class OpenApiContractException(string message) : Exception(message);

/// <summary>
/// The API's OpenAPI 3.1 document (docs/openapi.json) as a checker of real exchanges. A request is checked against its
/// operation's parameters and request body, and an answer against the responses of its status: media type, required
/// headers and the body's schema, with JSON Schema 2020-12 (JsonSchema.Net, formats asserted). A request the document
/// refuses must be refused by the app (4xx): the document may be looser than the app (rules no schema says), never stricter.
/// </summary>
internal sealed class OpenApiContract
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    private static readonly Lazy<OpenApiContract> RepositoryDocument = new(() => Parse(File.ReadAllText(DocumentPath)));

    private readonly JsonNode _document;
    private readonly Uri _uri = new($"https://credit-functions.test/openapi/{Guid.NewGuid():N}.json");
    private readonly BuildOptions _build;
    private readonly ConcurrentDictionary<string, JsonSchema> _schemas = new(StringComparer.Ordinal);

    private OpenApiContract(JsonNode document)
    {
        _document = document;
        var registry = new SchemaRegistry();
        registry.Register(_uri, new JsonElementBaseDocument(JsonSerializer.SerializeToElement(document), _uri));
        _build = new BuildOptions { SchemaRegistry = registry };
        ServerPath = ((string?)document["servers"]?[0]?["url"] ?? "").TrimEnd('/');
    }

    /// <summary>docs/openapi.json in the repository.</summary>
    public static string DocumentPath => Path.Combine(AppSettings.RepositoryRoot, "docs", "openapi.json");

    /// <summary>The repository's document.</summary>
    public static OpenApiContract Repository => RepositoryDocument.Value;

    /// <summary>The path every operation's path is under (the first server's URL: <c>/api</c>).</summary>
    public string ServerPath { get; }

    /// <summary>The document as parsed, to read or to change in a copy.</summary>
    public JsonNode Document => _document;

    public static OpenApiContract Parse(string json) => new(JsonNode.Parse(json) ?? throw new ArgumentException("The document is JSON null.", nameof(json)));

    /// <summary>Every operation: its method (upper case) and its path with the server's prefix (<c>/api/grants</c>).</summary>
    public IEnumerable<(string Method, string Path)> Operations() =>
        _document["paths"]!.AsObject().SelectMany(path => path.Value!.AsObject()
            .Where(o => Methods.Contains(o.Key))
            .Select(o => (o.Key.ToUpperInvariant(), ServerPath + path.Key)));

    /// <summary>The operation at a method and a path template, or null.</summary>
    public JsonObject? Operation(string method, string pathTemplate) =>
        _document["paths"]?[pathTemplate[ServerPath.Length..]]?[method.ToLowerInvariant()] as JsonObject;

    /// <summary>Throws <see cref="OpenApiContractException"/> naming every way the exchange breaks the document.</summary>
    public void Check(HttpMethod method, Uri url, IReadOnlyDictionary<string, string> requestHeaders, byte[]? requestBody, HostHttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(response);
        var exchange = $"{method} {url.PathAndQuery} answered {(int)response.Status}";
        var found = Find(method.Method, url.AbsolutePath);
        if (found is null)
        {
            throw new OpenApiContractException($"{exchange}: the document has no operation {method} {url.AbsolutePath}.");
        }

        var (pointer, operation, routeValues) = found.Value;
        var requestErrors = CheckRequest(pointer, operation, url, routeValues, requestHeaders, requestBody);
        var status = (int)response.Status;
        if (requestErrors.Count > 0 && status is < 400 or > 499)
        {
            throw new OpenApiContractException(
                $"{exchange}, but the document refuses the request: the document is stricter than the app.\n  {string.Join("\n  ", requestErrors)}");
        }

        var responseErrors = CheckResponse(pointer, operation, response);
        if (responseErrors.Count > 0)
        {
            throw new OpenApiContractException($"{exchange}, which the document does not allow:\n  {string.Join("\n  ", responseErrors)}\n  body: {Shorten(response.Text)}");
        }
    }

    /// <summary>The errors of a JSON value against the schema at a JSON pointer of the document (empty when it is valid).</summary>
    public IReadOnlyList<string> Validate(string pointer, JsonElement value)
    {
        var schema = _schemas.GetOrAdd(pointer, p => JsonSchema.FromText(
            $$"""{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"{{_uri}}#{{FragmentOf(p)}}"}""", _build));
        var result = schema.Evaluate(value, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        return result.IsValid
            ? []
            : new[] { result }.Concat(result.Details ?? [])
                .Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Value}"))
                .DefaultIfEmpty("not valid")
                .ToList();
    }

    /// <summary>The JSON pointer of a path's item (<c>/paths/~1grants</c>).</summary>
    public static string PathPointer(string pathTemplate) => "/paths/" + Escape(pathTemplate);

    private (string Pointer, JsonObject Operation, Dictionary<string, string> RouteValues)? Find(string method, string absolutePath)
    {
        if (!absolutePath.StartsWith(ServerPath + "/", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var segments = absolutePath[ServerPath.Length..].Split('/');
        foreach (var (template, item) in _document["paths"]!.AsObject())
        {
            if (item?[method.ToLowerInvariant()] is JsonObject operation && HostHttp.MatchTemplate(template.Split('/'), segments) is { } values)
            {
                return ($"{PathPointer(template)}/{method.ToLowerInvariant()}", operation, values);
            }
        }

        return null;
    }

    private List<string> CheckRequest(string pointer, JsonObject operation, Uri url, Dictionary<string, string> routeValues,
        IReadOnlyDictionary<string, string> headers, byte[]? body)
    {
        var errors = new List<string>();
        var query = HttpUtility.ParseQueryString(url.Query);
        var parameters = operation["parameters"] as JsonArray ?? [];
        for (var i = 0; i < parameters.Count; i++)
        {
            var (parameterPointer, parameter) = Resolve($"{pointer}/parameters/{i}");
            var name = (string)parameter["name"]!;
            var value = (string?)parameter["in"] switch
            {
                "path" => routeValues.GetValueOrDefault(name),
                "query" => query[name],
                "header" => headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value,
                _ => null,
            };
            if (value is null)
            {
                if ((bool?)parameter["required"] == true)
                {
                    errors.Add($"the {parameter["in"]} parameter {name} is required");
                }

                continue;
            }

            errors.AddRange(Validate(parameterPointer + "/schema", JsonSerializer.SerializeToElement(value)).Select(e => $"{parameter["in"]} parameter {name}: {e}"));
        }

        if (operation["requestBody"] is null)
        {
            return errors;
        }

        var (bodyPointer, requestBody) = Resolve(pointer + "/requestBody");
        if (body is not { Length: > 0 })
        {
            if ((bool?)requestBody["required"] == true)
            {
                errors.Add("the request body is required");
            }

            return errors;
        }

        var contentType = headers.FirstOrDefault(h => string.Equals(h.Key, "Content-Type", StringComparison.OrdinalIgnoreCase)).Value;
        errors.AddRange(CheckContent($"{bodyPointer}/content", requestBody["content"]!.AsObject(), contentType, body, "request body"));
        return errors;
    }

    private List<string> CheckResponse(string pointer, JsonObject operation, HostHttpResponse response)
    {
        var responses = operation["responses"]!.AsObject();
        var status = ((int)response.Status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var key = new[] { status, status[0] + "XX", "default" }.FirstOrDefault(responses.ContainsKey);
        if (key is null)
        {
            return [$"the status {status} is not among the operation's responses ({string.Join(", ", responses.Select(r => r.Key))})"];
        }

        var errors = new List<string>();
        var (responsePointer, definition) = Resolve($"{pointer}/responses/{Escape(key)}");
        foreach (var (name, _) in definition["headers"] as JsonObject ?? [])
        {
            var (headerPointer, header) = Resolve($"{responsePointer}/headers/{Escape(name)}");
            var value = response.Header(name);
            if (value is null)
            {
                if ((bool?)header["required"] == true)
                {
                    errors.Add($"the header {name} is required");
                }

                continue;
            }

            errors.AddRange(Validate(headerPointer + "/schema", JsonSerializer.SerializeToElement(value)).Select(e => $"header {name}: {e}"));
        }

        if (definition["content"] is JsonObject content)
        {
            errors.AddRange(CheckContent($"{responsePointer}/content", content, response.Header("Content-Type"), response.Body, "body"));
        }
        else if (response.Body.Length > 0)
        {
            errors.Add($"the {status} answer has no content in the document, but a body of {response.Body.Length} bytes");
        }

        return errors;
    }

    /// <summary>A body against the media types of a content map: its type must be one of them and its value valid.</summary>
    private List<string> CheckContent(string pointer, JsonObject content, string? contentType, byte[] body, string what)
    {
        var mediaType = contentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is null || !content.ContainsKey(mediaType))
        {
            return [$"the {what}'s Content-Type '{contentType}' is not one of {string.Join(", ", content.Select(c => c.Key))}"];
        }

        var schemaPointer = $"{pointer}/{Escape(mediaType)}/schema";
        if (mediaType == "application/json" || mediaType.EndsWith("+json", StringComparison.Ordinal))
        {
            JsonDocument parsed;
            try
            {
                parsed = JsonDocument.Parse(body);
            }
            catch (JsonException ex)
            {
                return [$"the {what} is not JSON: {ex.Message}"];
            }

            using (parsed)
            {
                return Validate(schemaPointer, parsed.RootElement).Select(e => $"{what} {e}").ToList();
            }
        }

        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return [$"the {what} ({mediaType}) is not UTF-8 text"];
        }

        return Validate(schemaPointer, JsonSerializer.SerializeToElement(text)).Select(e => $"{what} {e}").ToList();
    }

    /// <summary>The object at a pointer, following <c>$ref</c>s to components, with the pointer it was found at.</summary>
    private (string Pointer, JsonObject Node) Resolve(string pointer)
    {
        for (var hops = 0; hops < 8; hops++)
        {
            var node = At(pointer);
            if (node["$ref"] is not JsonValue reference)
            {
                return (pointer, node);
            }

            pointer = ((string)reference!).TrimStart('#');
        }

        throw new InvalidOperationException($"The document's $ref chain at {pointer} is too long.");
    }

    private JsonObject At(string pointer)
    {
        JsonNode? node = _document;
        foreach (var segment in pointer.Split('/').Skip(1))
        {
            var name = segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            node = node is JsonArray array ? array[int.Parse(name, System.Globalization.CultureInfo.InvariantCulture)] : node?[name];
        }

        return node as JsonObject ?? throw new InvalidOperationException($"The document has no object at {pointer}.");
    }

    private static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    /// <summary>A JSON pointer as a URI fragment: each segment percent-encoded (<c>{</c>, <c>}</c>, <c>+</c> of media types).</summary>
    private static string FragmentOf(string pointer) => string.Join('/', pointer.Split('/').Select(Uri.EscapeDataString));

    private static string Shorten(string text) => text.Length <= 600 ? text : text[..600] + "…";
}
