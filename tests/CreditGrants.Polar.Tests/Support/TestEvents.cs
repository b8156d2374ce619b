using System.Text.Json;
using CreditGrants.Polar.Models;

namespace CreditGrants.Polar.Tests.Support;

/// <summary>Events and metadata for tests, built the way the app builds them.</summary>
public static class TestEvents
{
    public static readonly DateTimeOffset Now = new(2026, 4, 15, 12, 0, 0, TimeSpan.Zero);

    public static PolarEvent Usage(string customer, decimal units, string? externalId = null, DateTimeOffset? timestamp = null) =>
        new("api_usage", null, customer, externalId, timestamp, Metadata(("units", PolarMetadata.Number(units))));

    public static PolarEvent Named(string name, params (string Key, JsonElement Value)[] metadata) =>
        new(name, null, "customer-1", null, null, metadata.Length == 0 ? null : Metadata(metadata));

    public static IReadOnlyDictionary<string, JsonElement> Metadata(params (string Key, JsonElement Value)[] entries) =>
        entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);

    public static JsonElement Raw(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
