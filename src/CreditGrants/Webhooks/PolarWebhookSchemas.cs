using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using CreditGrants.Polar.Schema;
using Json.Schema;

namespace CreditGrants.Webhooks;

/// <summary>What the schemas say of a webhook body.</summary>
public enum WebhookVerdict
{
    /// <summary>A known event type, and the body is valid against its payload schema.</summary>
    Valid,

    /// <summary>Not JSON, no <c>type</c>, or not valid against its type's payload schema: recorded as rejected with the reason.</summary>
    Invalid,

    /// <summary>An event type the schemas do not describe (one the endpoint was not meant to be subscribed to): recorded as ignored.</summary>
    UnknownType,
}

/// <summary>The verdict on a webhook body, its event type when it has one, and why it is not valid.</summary>
public sealed record WebhookValidation(WebhookVerdict Verdict, string? Type, string? Reason);

/// <summary>
/// Polar's webhook payload schemas: the <c>webhooks</c> section of Polar's OpenAPI document for API version 2026-04
/// (docs/polar/openapi-2026-04.subset.json, embedded), each event type's request body schema with every component it
/// references, evaluated as JSON Schema 2020-12 (JsonSchema.Net). Polar's SDK does not validate payloads; this does, so
/// a handler only ever sees the shape the schema promises. Formats (<c>date-time</c>, <c>uuid4</c>, <c>email</c>) are
/// annotations, as JSON Schema has them by default: a value Polar formats its own way is no reason to refuse an event.
/// </summary>
public sealed class PolarWebhookSchemas
{
    private const string ResourceName = "CreditGrants.Webhooks.polar-openapi.json";
    private const int MaxReasonLength = 1000;
    private static readonly Uri DocumentUri = new("https://credit-functions.local/polar/openapi-2026-04.subset.json");
    private static readonly Lazy<PolarWebhookSchemas> Embedded = new(() => Load(ReadResource()));

    private readonly FrozenDictionary<string, JsonSchema> _schemas;

    private PolarWebhookSchemas(FrozenDictionary<string, JsonSchema> schemas) => _schemas = schemas;

    /// <summary>The schemas of the OpenAPI document embedded in this assembly (built once, on first use).</summary>
    public static PolarWebhookSchemas Default => Embedded.Value;

    /// <summary>The event types the document describes, in ordinal order.</summary>
    public IReadOnlyList<string> EventTypes => [.. _schemas.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Schemas from an OpenAPI 3.1 document's <c>webhooks</c> section (each operation's JSON request body).</summary>
    public static PolarWebhookSchemas Load(string openApiJson)
    {
        var document = JsonNode.Parse(openApiJson) ?? throw new ArgumentException("The OpenAPI document is JSON null.", nameof(openApiJson));
        if (document["components"]?["schemas"] is { } components)
        {
            OpenApiDialect.StripKeywords(components);
        }

        var registry = new SchemaRegistry();
        registry.Register(DocumentUri, new JsonElementBaseDocument(JsonSerializer.SerializeToElement(document, JsonNodeContext.Default.JsonNode), DocumentUri));
        var build = new BuildOptions { SchemaRegistry = registry };
        var schemas = new Dictionary<string, JsonSchema>(StringComparer.Ordinal);
        foreach (var (type, operation) in document["webhooks"]?.AsObject() ?? [])
        {
            var reference = (string?)operation?["post"]?["requestBody"]?["content"]?["application/json"]?["schema"]?["$ref"];
            if (reference is null || !reference.StartsWith('#'))
            {
                continue;
            }

            schemas[type] = JsonSchema.FromText(
                $$"""{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"{{DocumentUri}}{{reference}}"}""", build);
        }

        return new PolarWebhookSchemas(schemas.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>Reads and validates a body (only ever after its signature was verified).</summary>
    public WebhookValidation Validate(ReadOnlyMemory<byte> body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            return new WebhookValidation(WebhookVerdict.Invalid, null, Shorten($"The body is not JSON: {ex.Message}"));
        }

        using (document)
        {
            return Validate(document.RootElement);
        }
    }

    /// <summary>Validates a parsed body.</summary>
    public WebhookValidation Validate(JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object || !payload.TryGetProperty("type", out var typeProperty) || typeProperty.ValueKind != JsonValueKind.String)
        {
            return new WebhookValidation(WebhookVerdict.Invalid, null, "The body is not a webhook payload: no string \"type\".");
        }

        var type = typeProperty.GetString()!;
        if (!_schemas.TryGetValue(type, out var schema))
        {
            return new WebhookValidation(WebhookVerdict.UnknownType, type,
                Shorten($"The event type '{type}' is not one this app knows (docs/webhooks.md lists the events to subscribe to)."));
        }

        var result = schema.Evaluate(payload, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (result.IsValid)
        {
            return new WebhookValidation(WebhookVerdict.Valid, type, null);
        }

        var errors = new[] { result }.Concat(result.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{Location(d.InstanceLocation.ToString())}: {e.Value}"))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var shown = string.Join("; ", errors.Take(5)) + (errors.Count > 5 ? $"; and {errors.Count - 5} more" : "");
        return new WebhookValidation(WebhookVerdict.Invalid, type,
            Shorten($"The {type} payload is not valid against Polar's schema (API version 2026-04): {(errors.Count == 0 ? "not valid" : shown)}."));
    }

    private static string Location(string pointer) => pointer.Length == 0 ? "(the body)" : pointer;

    private static string Shorten(string text) => text.Length <= MaxReasonLength ? text : string.Concat(text.AsSpan(0, MaxReasonLength - 1), "…");

    private static string ReadResource()
    {
        using var stream = typeof(PolarWebhookSchemas).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from the build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

/// <summary>Serialization of a parsed document back to an element (no reflection).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonNode))]
internal sealed partial class JsonNodeContext : System.Text.Json.Serialization.JsonSerializerContext;
