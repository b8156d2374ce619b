using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace PolarEmulator.Store;

/// <summary>A JSON object seen as a read-only dictionary, without copying it (for <c>MeterEventFacts.Metadata</c>).</summary>
internal sealed class JsonObjectView(JsonElement value) : IReadOnlyDictionary<string, JsonElement>
{
    private readonly JsonElement _value = value;

    private bool IsObject => _value.ValueKind == JsonValueKind.Object;

    public JsonElement this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

    public IEnumerable<string> Keys => this.Select(p => p.Key);

    public IEnumerable<JsonElement> Values => this.Select(p => p.Value);

    public int Count => IsObject ? _value.GetPropertyCount() : 0;

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out JsonElement value)
    {
        value = default;
        return IsObject && _value.TryGetProperty(key, out value);
    }

    public IEnumerator<KeyValuePair<string, JsonElement>> GetEnumerator()
    {
        if (!IsObject)
        {
            yield break;
        }

        foreach (var property in _value.EnumerateObject())
        {
            yield return new KeyValuePair<string, JsonElement>(property.Name, property.Value);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
