namespace CreditFunctions.Http;

/// <summary>The API's OpenAPI document, docs/openapi.json, embedded in the assembly at build time (one file, one truth).</summary>
public static class OpenApiDocument
{
    /// <summary>The embedded resource's name (the project file gives it).</summary>
    public const string ResourceName = "CreditFunctions.openapi.json";

    private static readonly Lazy<byte[]> Document = new(Load);

    /// <summary>The document's bytes, as committed.</summary>
    public static ReadOnlyMemory<byte> Bytes => Document.Value;

    private static byte[] Load()
    {
        using var stream = typeof(OpenApiDocument).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The assembly has no resource {ResourceName}: the project file embeds docs/openapi.json.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
