using System.Text.Json;
using Json.Schema;

namespace CreditGrants.Polar.Tests.Support;

/// <summary>
/// Polar's OpenAPI document (the subset in docs/polar, see its README), used to validate the bodies this client sends.
/// </summary>
public static class PolarOpenApi
{
    private const string FileName = "openapi-2026-04.subset.json";
    private static readonly Uri DocumentUri = new("https://polar.test/openapi-2026-04.json");
    private static readonly Lazy<(JsonElement Root, BuildOptions Build)> Document = new(Load);

    /// <summary>The document's path: docs/polar/ copied into the test output by the project file.</summary>
    public static string Locate() => PolarContractFile.Locate(FileName);

    /// <summary>The schema of the request body of <paramref name="method"/> on <paramref name="path"/> (a concrete path, e.g. /v1/customers/).</summary>
    public static JsonSchema RequestSchema(HttpMethod method, string path)
    {
        var (root, build) = Document.Value;
        var template = PathTemplate(root, path);
        var operation = root.GetProperty("paths").GetProperty(template).GetProperty(method.Method.ToLowerInvariant());
        var reference = operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json")
            .GetProperty("schema").GetProperty("$ref").GetString()!;
        return JsonSchema.FromText(
            $$"""{"$ref":"{{DocumentUri}}{{reference}}"}""", build);
    }

    /// <summary>The schema errors of <paramref name="body"/> as a request to <paramref name="path"/>; empty when it is valid.</summary>
    public static IReadOnlyList<string> Validate(HttpMethod method, string path, byte[] body)
    {
        using var json = JsonDocument.Parse(body);
        var result = RequestSchema(method, path).Evaluate(json.RootElement,
            new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (result.IsValid)
        {
            return [];
        }

        return (result.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key} {e.Value}"))
            .DefaultIfEmpty($"{method} {path}: invalid")
            .ToList();
    }

    /// <summary>The OpenAPI path whose template (<c>/v1/customers/{id}</c>) matches a concrete path.</summary>
    public static string PathTemplate(JsonElement root, string path)
    {
        // The most literal template wins, as in Polar's router: /v1/events/ingest before /v1/events/{id}.
        var parts = path.Split('/');
        return root.GetProperty("paths").EnumerateObject().Select(p => p.Name)
            .Select(candidate => (Candidate: candidate, Parts: candidate.Split('/')))
            .Where(c => c.Parts.Length == parts.Length
                && c.Parts.Zip(parts).All(pair => pair.First == pair.Second || pair.First.StartsWith('{')))
            .OrderByDescending(c => c.Parts.Count(p => !p.StartsWith('{')))
            .Select(c => c.Candidate)
            .FirstOrDefault()
            ?? throw new KeyNotFoundException($"Polar's OpenAPI document has no path matching {path}.");
    }

    private static (JsonElement, BuildOptions) Load()
    {
        var root = JsonDocument.Parse(File.ReadAllBytes(Locate())).RootElement.Clone();
        var registry = new SchemaRegistry();
        registry.Register(DocumentUri, new JsonElementBaseDocument(root, DocumentUri));
        // OpenAPI 3.1 schemas are JSON Schema 2020-12 plus vendor keywords (x-…), which evaluation ignores.
        var dialect = Dialect.Draft202012.With([], allowUnknownKeywords: true);
        return (root, new BuildOptions { SchemaRegistry = registry, Dialect = dialect });
    }
}
