using System.Text.Json.Nodes;

namespace Infrastructure.Tests;

/// <summary>
/// What <c>bicep snapshot</c> predicts a deployment of main.bicep with one parameter file
/// creates: every resource of every module, with parameters and variables evaluated.
/// Values only Azure knows (a principal id, an endpoint) stay ARM expressions.
/// </summary>
public sealed class DeploymentSnapshot
{
    public DeploymentSnapshot(string parameterFile, string json)
    {
        ParameterFile = parameterFile;
        Json = json;
        var root = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidOperationException($"The snapshot of {parameterFile} is empty.");
        Resources = root["predictedResources"]!.AsArray().Select(r => r!.AsObject()).ToArray();
        Diagnostics = root["diagnostics"]?.AsArray() ?? [];
        Outputs = root["outputs"]?.AsObject() ?? [];
    }

    public string ParameterFile { get; }

    /// <summary>The snapshot as the CLI wrote it.</summary>
    public string Json { get; }

    public IReadOnlyList<JsonObject> Resources { get; }

    public JsonArray Diagnostics { get; }

    public JsonObject Outputs { get; }

    public IEnumerable<JsonObject> OfType(string type) =>
        Resources.Where(r => string.Equals(Text(r["type"]), type, StringComparison.OrdinalIgnoreCase));

    public JsonObject Only(string type)
    {
        var matches = OfType(type).ToArray();
        Assert.True(matches.Length == 1, $"{ParameterFile}: expected one {type}, found {matches.Length}.");
        return matches[0];
    }

    public JsonObject FunctionApp => Only("Microsoft.Web/sites");

    public string IdentityId => Text(Only("Microsoft.ManagedIdentity/userAssignedIdentities")["id"])!;

    public string StorageAccountName => Text(Only("Microsoft.Storage/storageAccounts")["name"])!;

    /// <summary>The function app's settings (its config/appsettings resource).</summary>
    public IReadOnlyDictionary<string, string> AppSettings
    {
        get
        {
            var config = OfType("Microsoft.Web/sites/config")
                .Single(r => Text(r["name"])!.EndsWith("/appsettings", StringComparison.Ordinal));
            return config["properties"]!.AsObject().ToDictionary(p => p.Key, p => Text(p.Value) ?? "", StringComparer.Ordinal);
        }
    }

    /// <summary>Last segment of each child resource's name (a container's, a queue's, a table's).</summary>
    public IReadOnlyList<string> ChildNames(string type) =>
        OfType(type).Select(r => Text(r["name"])!.Split('/')[^1]).ToArray();

    /// <summary>A JSON value as text (strings as they are, other values as JSON); null when absent.</summary>
    public static string? Text(JsonNode? node) => node switch
    {
        null => null,
        JsonValue value when value.TryGetValue(out string? text) => text,
        _ => node.ToJsonString(),
    };
}
