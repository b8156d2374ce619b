using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CreditGrants.Polar.Tests.Support;

/// <summary>Polar's answers as JSON, for stub handlers.</summary>
public static class PolarJson
{
    public static string Customer(Guid id, string email, string? externalId = null) =>
        new JsonObject
        {
            ["id"] = id.ToString(),
            ["created_at"] = "2026-04-01T10:00:00Z",
            ["modified_at"] = null,
            ["metadata"] = new JsonObject(),
            ["external_id"] = externalId,
            ["email"] = email,
            ["email_verified"] = false,
            ["type"] = "individual",
            ["name"] = null,
            ["organization_id"] = Guid.NewGuid().ToString(),
            ["deleted_at"] = null,
        }.ToJsonString();

    public static string Meter(Guid id, string name, string eventName = "api_usage", string func = "sum", string? property = "units") =>
        new JsonObject
        {
            ["id"] = id.ToString(),
            ["name"] = name,
            ["created_at"] = "2026-04-01T10:00:00Z",
            ["modified_at"] = null,
            ["metadata"] = new JsonObject(),
            ["unit"] = "scalar",
            ["filter"] = new JsonObject
            {
                ["conjunction"] = "and",
                ["clauses"] = new JsonArray(new JsonObject { ["property"] = "name", ["operator"] = "eq", ["value"] = eventName }),
            },
            ["aggregation"] = property is null ? new JsonObject { ["func"] = func } : new JsonObject { ["func"] = func, ["property"] = property },
            ["archived_at"] = null,
            ["organization_id"] = Guid.NewGuid().ToString(),
        }.ToJsonString();

    public static string Page(params string[] items) => Page(1, items);

    public static string Page(int maxPage, params string[] items) =>
        $$$"""{"items":[{{{string.Join(',', items)}}}],"pagination":{"total_count":{{{items.Length.ToString(CultureInfo.InvariantCulture)}}},"max_page":{{{maxPage.ToString(CultureInfo.InvariantCulture)}}}}}""";

    public static string Ingested(int inserted, int duplicates = 0) =>
        $$$"""{"inserted":{{{inserted.ToString(CultureInfo.InvariantCulture)}}},"duplicates":{{{duplicates.ToString(CultureInfo.InvariantCulture)}}}}""";

    /// <summary>Polar's 422 body naming one or more locations, e.g. <c>("body.events.3.customer_id", "msg")</c>.</summary>
    public static string ValidationError(params (string Location, string Message)[] errors) =>
        new JsonObject
        {
            ["error"] = "PolarRequestValidationError",
            ["detail"] = new JsonArray(errors.Select(e => (JsonNode)new JsonObject
            {
                ["type"] = "value_error",
                ["loc"] = new JsonArray(e.Location.Split('.').Select(part =>
                    int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? JsonValue.Create(index) : (JsonNode)JsonValue.Create(part)!).ToArray()),
                ["msg"] = e.Message,
                ["input"] = "x",
            }).ToArray()),
        }.ToJsonString();

    /// <summary>The events of an ingest request body, as sent.</summary>
    public static IReadOnlyList<JsonElement> Events(RecordedRequest request)
    {
        using var body = JsonDocument.Parse(request.Body!);
        return [.. body.RootElement.GetProperty("events").EnumerateArray().Select(e => e.Clone())];
    }

    public static HttpResponseMessage RateLimited(int retryAfterSeconds)
    {
        var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(retryAfterSeconds));
        return response;
    }
}
