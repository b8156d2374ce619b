using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace PolarEmulator.Tests.Support;

/// <summary>Polar's own OpenAPI schema (docs/polar/openapi-2026-04.subset.json), ready to validate bodies against its components.</summary>
public static partial class PolarSchema
{
    private const string FileName = "openapi-2026-04.subset.json";
    private static readonly Uri DocumentUri = new("https://polar.emulator.test/openapi.json");
    private static readonly Lazy<BuildOptions> Build = new(CreateBuildOptions);
    private static readonly Dictionary<string, JsonSchema> Schemas = [];
    private static readonly Lock SchemasLock = new();

    /// <summary>The schema's path: docs/polar/ copied into the test output by the project file.</summary>
    public static string Locate() => PolarContractFile.Locate(FileName);

    /// <summary>Fails the test with every schema error unless <paramref name="body"/> is a valid <paramref name="component"/>.</summary>
    public static void AssertValid(string component, JsonElement body)
    {
        var options = new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true, FormatRegistry = Formats() };
        var result = Schema(component).Evaluate(body, options);
        if (!result.IsValid)
        {
            var errors = new[] { result }.Concat(result.Details ?? [])
                .Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key} {e.Value}"));
            Assert.Fail($"Body is not a valid {component}:\n{string.Join("\n", errors)}\n{body.GetRawText()}");
        }
    }

    public static void AssertValid(string component, string json)
    {
        using var document = JsonDocument.Parse(json);
        AssertValid(component, document.RootElement);
    }

    private static JsonSchema Schema(string component)
    {
        lock (SchemasLock)
        {
            if (!Schemas.TryGetValue(component, out var schema))
            {
                schema = JsonSchema.FromText(
                    $$"""{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"{{DocumentUri}}#/components/schemas/{{component}}"}""",
                    Build.Value);
                Schemas[component] = schema;
            }

            return schema;
        }
    }

    private static BuildOptions CreateBuildOptions()
    {
        var document = JsonNode.Parse(File.ReadAllText(Locate()))!;
        CreditGrants.Polar.Schema.OpenApiDialect.StripKeywords(document["components"]!["schemas"]!);
        var registry = new SchemaRegistry();
        registry.Register(DocumentUri, new JsonElementBaseDocument(JsonSerializer.SerializeToElement(document), DocumentUri));
        return new BuildOptions { SchemaRegistry = registry };
    }

    private static FormatRegistry Formats()
    {
        var registry = new FormatRegistry();
        registry.Register(new PredicateFormat("uuid4", static e => e.ValueKind != JsonValueKind.String || (Guid.TryParse(e.GetString(), out var g) && g.Version == 4)));
        // Polar's date-times are RFC 3339 with a zone and at most 6 fractional digits (Python's microseconds).
        registry.Register(new PredicateFormat("date-time", static e => e.ValueKind != JsonValueKind.String || PolarDateTime().IsMatch(e.GetString()!)));
        return registry;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")]
    private static partial System.Text.RegularExpressions.Regex PolarDateTime();
}
