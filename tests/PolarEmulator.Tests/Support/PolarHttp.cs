using System.Net;
using System.Text;
using System.Text.Json;

namespace PolarEmulator.Tests.Support;

/// <summary>What the tests send and read: buffered JSON bodies (Polar refuses chunked ones) and parsed answers.</summary>
public static class PolarHttp
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, string json) =>
        client.PostAsync(path, Json(json));

    public static Task<HttpResponseMessage> PatchJsonAsync(this HttpClient client, string path, string json) =>
        client.PatchAsync(path, Json(json));

    public static async Task<JsonElement> BodyAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts the status, then returns the body (showing it when the status is wrong).</summary>
    public static async Task<JsonElement> ExpectAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status} but got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text.Length == 0 ? "null" : text);
        return document.RootElement.Clone();
    }

    public static string UniqueEmail(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}@acme.io";

    public static string UniqueId(string prefix = "id") => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>Creates a customer and returns its body.</summary>
    public static async Task<JsonElement> CreateCustomerAsync(this HttpClient client, string? email = null, string? externalId = null)
    {
        var body = externalId is null
            ? JsonSerializer.Serialize(new Dictionary<string, string> { ["email"] = email ?? UniqueEmail() })
            : JsonSerializer.Serialize(new Dictionary<string, string> { ["email"] = email ?? UniqueEmail(), ["external_id"] = externalId });
        using var response = await client.PostJsonAsync("v1/customers/", body);
        return await response.ExpectAsync(HttpStatusCode.Created);
    }

    /// <summary>Creates a meter from its filter and aggregation JSON and returns its body.</summary>
    public static async Task<JsonElement> CreateMeterAsync(this HttpClient client, string filter, string aggregation, string? name = null)
    {
        using var response = await client.PostJsonAsync("v1/meters/",
            $$"""{"name":"{{name ?? UniqueId("meter")}}","filter":{{filter}},"aggregation":{{aggregation}} }""");
        return await response.ExpectAsync(HttpStatusCode.Created);
    }

    /// <summary>A meter counting events of one name.</summary>
    public static Task<JsonElement> CreateMeterForEventAsync(this HttpClient client, string eventName, string aggregation) =>
        client.CreateMeterAsync($$"""{"conjunction":"and","clauses":[{"property":"name","operator":"eq","value":"{{eventName}}"}]}""", aggregation);

    public static async Task<JsonElement> IngestAsync(this HttpClient client, string eventsJson)
    {
        using var response = await client.PostJsonAsync("v1/events/ingest", $$"""{"events":{{eventsJson}} }""");
        return await response.ExpectAsync(HttpStatusCode.OK);
    }

    /// <summary>The customer's one customer meter on a meter, or fails.</summary>
    public static async Task<JsonElement> CustomerMeterAsync(this HttpClient client, string customerId, string meterId)
    {
        using var response = await client.GetAsync($"v1/customer-meters/?customer_id={customerId}&meter_id={meterId}");
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        var item = Assert.Single(body.GetProperty("items").EnumerateArray());
        return item;
    }

    /// <summary><c>GET /v1/events/?{query}</c>: expects 200 and a body valid as Polar's <c>ListResource_Event_</c>.</summary>
    public static async Task<JsonElement> ListEventsAsync(this HttpClient client, string query)
    {
        using var response = await client.GetAsync("v1/events/?" + query);
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        PolarSchema.AssertValid("ListResource_Event_", body);
        return body;
    }

    public static string Id(this JsonElement resource) => resource.GetProperty("id").GetString()!;
}
