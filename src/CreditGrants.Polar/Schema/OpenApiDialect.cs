using System.Text.Json.Nodes;

namespace CreditGrants.Polar.Schema;

/// <summary>Polar's OpenAPI 3.1 schemas as plain JSON Schema 2020-12, for a validator that does not know OpenAPI's dialect.</summary>
public static class OpenApiDialect
{
    /// <summary>
    /// Removes, in place, the OpenAPI 3.1 dialect's own keywords (<c>discriminator</c>, <c>example</c>, <c>xml</c>,
    /// <c>externalDocs</c>, <c>x-…</c>) from a document's <c>components/schemas</c>, which plain JSON Schema 2020-12 does
    /// not know; they are annotations and change no verdict (<c>oneOf</c> still decides). Property names (under
    /// <c>properties</c>, <c>$defs</c>, <c>patternProperties</c>) that look like those keywords are kept.
    /// </summary>
    /// <param name="schemas">The <c>components/schemas</c> object: its members are schema names.</param>
    public static void StripKeywords(JsonNode schemas)
    {
        ArgumentNullException.ThrowIfNull(schemas);
        Strip(schemas, namesProperties: true);
    }

    private static void Strip(JsonNode node, bool namesProperties)
    {
        switch (node)
        {
            case JsonObject schema:
                foreach (var key in schema.Select(p => p.Key).ToList())
                {
                    if (!namesProperties && (key is "discriminator" or "example" or "xml" or "externalDocs" || key.StartsWith("x-", StringComparison.Ordinal)))
                    {
                        schema.Remove(key);
                    }
                    else if (schema[key] is { } child)
                    {
                        Strip(child, namesProperties: !namesProperties && key is "properties" or "$defs" or "patternProperties");
                    }
                }

                break;
            case JsonArray items:
                foreach (var item in items.OfType<JsonNode>())
                {
                    Strip(item, namesProperties: false);
                }

                break;
        }
    }
}
