using System.Net;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>Every kind of body the emulator answers with validates against Polar's own OpenAPI schema.</summary>
public sealed class ContractTests(EmulatorFixture emulator) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _client = emulator.Client;

    [Fact]
    public async Task Created_customer_is_a_valid_Customer()
    {
        var request = $$"""{"email":"{{PolarHttp.UniqueEmail()}}","name":"Ann","external_id":"{{PolarHttp.UniqueId()}}","metadata":{"plan":"pro","seats":3,"ratio":0.5,"beta":true},"billing_address":{"country":"FR","city":"Paris"},"tax_id":"FR61954506077","locale":"fr"}""";
        PolarSchema.AssertValid("CustomerCreate", request);

        using var response = await _client.PostJsonAsync("v1/customers/", request);

        PolarSchema.AssertValid("Customer", await response.ExpectAsync(HttpStatusCode.Created));
    }

    [Fact]
    public async Task Team_customer_is_a_valid_Customer()
    {
        using var response = await _client.PostJsonAsync("v1/customers/", $$"""{"type":"team","name":"Team A","email":"{{PolarHttp.UniqueEmail()}}"}""");

        PolarSchema.AssertValid("Customer", await response.ExpectAsync(HttpStatusCode.Created));
    }

    [Fact]
    public async Task Read_customer_by_id_and_by_external_id_are_valid_Customers()
    {
        var externalId = PolarHttp.UniqueId();
        var customer = await _client.CreateCustomerAsync(externalId: externalId);

        using var byId = await _client.GetAsync($"v1/customers/{customer.Id()}");
        using var byExternalId = await _client.GetAsync($"v1/customers/external/{externalId}");

        PolarSchema.AssertValid("Customer", await byId.ExpectAsync(HttpStatusCode.OK));
        PolarSchema.AssertValid("Customer", await byExternalId.ExpectAsync(HttpStatusCode.OK));
    }

    [Fact]
    public async Task Customer_list_is_a_valid_ListResource()
    {
        await _client.CreateCustomerAsync();

        using var response = await _client.GetAsync("v1/customers/?limit=5");

        PolarSchema.AssertValid("ListResource_Customer_", await response.ExpectAsync(HttpStatusCode.OK));
    }

    [Fact]
    public async Task Customer_state_with_active_meters_is_a_valid_CustomerState()
    {
        var externalId = PolarHttp.UniqueId();
        await _client.CreateCustomerAsync(externalId: externalId);
        await _client.IngestAsync($$"""[{"name":"api_usage","external_customer_id":"{{externalId}}","metadata":{"units":-5} }]""");

        using var response = await _client.GetAsync($"v1/customers/external/{externalId}/state");

        var state = await response.ExpectAsync(HttpStatusCode.OK);
        PolarSchema.AssertValid("CustomerState", state);
        Assert.Equal(5, Assert.Single(state.GetProperty("active_meters").EnumerateArray()).GetProperty("balance").GetDouble());
    }

    [Fact]
    public async Task Created_and_updated_meters_are_valid_Meters_and_their_list_a_valid_ListResource()
    {
        var request = """{"name":"Contract meter","filter":{"conjunction":"or","clauses":[{"property":"name","operator":"eq","value":"a"},{"conjunction":"and","clauses":[{"property":"tier","operator":"gte","value":2},{"property":"beta","operator":"eq","value":true}]}]},"aggregation":{"func":"count"},"metadata":{"team":"billing"}}""";
        PolarSchema.AssertValid("MeterCreate", request);

        using var created = await _client.PostJsonAsync("v1/meters/", request);
        var meter = await created.ExpectAsync(HttpStatusCode.Created);
        using var read = await _client.GetAsync($"v1/meters/{meter.Id()}");
        using var archived = await _client.PatchJsonAsync($"v1/meters/{meter.Id()}", """{"is_archived":true}""");
        using var list = await _client.GetAsync("v1/meters/?query=contract");

        PolarSchema.AssertValid("Meter", meter);
        PolarSchema.AssertValid("Meter", await read.ExpectAsync(HttpStatusCode.OK));
        PolarSchema.AssertValid("Meter", await archived.ExpectAsync(HttpStatusCode.OK));
        PolarSchema.AssertValid("ListResource_Meter_", await list.ExpectAsync(HttpStatusCode.OK));
    }

    [Fact]
    public async Task Ingest_answer_is_a_valid_EventsIngestResponse()
    {
        var customer = await _client.CreateCustomerAsync();
        var request = $$"""{"events":[{"name":"api_usage","customer_id":"{{customer.Id()}}","external_id":"{{PolarHttp.UniqueId()}}","timestamp":"2026-01-01T00:00:00Z","metadata":{"units":2,"_llm":{"vendor":"v","model":"m","input_tokens":1,"output_tokens":2,"total_tokens":3} } }]}""";
        PolarSchema.AssertValid("EventsIngest", request);

        using var response = await _client.PostJsonAsync("v1/events/ingest", request);

        PolarSchema.AssertValid("EventsIngestResponse", await response.ExpectAsync(HttpStatusCode.OK));
    }

    [Fact]
    public async Task Event_list_is_a_valid_ListResource_of_UserEvents()
    {
        var externalId = PolarHttp.UniqueId();
        var grantId = PolarHttp.UniqueId("grant");
        var customer = await _client.CreateCustomerAsync(externalId: externalId);
        await _client.IngestAsync($$"""
            [{"name":"api_usage","customer_id":"{{customer.Id()}}","metadata":{"grant_id":"{{grantId}}","units":-5,"ratio":0.5,"beta":true} },
             {"name":"api_usage","external_customer_id":"{{externalId}}","metadata":{"grant_id":"{{grantId}}"} },
             {"name":"api_usage","external_customer_id":"{{PolarHttp.UniqueId()}}","metadata":{"grant_id":"{{grantId}}"} }]
            """);

        using var response = await _client.GetAsync($"v1/events/?metadata[grant_id]={grantId}&limit=100");

        var page = await response.ExpectAsync(HttpStatusCode.OK);
        PolarSchema.AssertValid("ListResource_Event_", page);
        Assert.Equal(3, page.GetProperty("items").GetArrayLength());
        foreach (var item in page.GetProperty("items").EnumerateArray())
        {
            PolarSchema.AssertValid("UserEvent", item);
        }
    }

    [Fact]
    public async Task Customer_meter_and_its_list_are_valid()
    {
        var customer = await _client.CreateCustomerAsync();
        await _client.IngestAsync($$"""[{"name":"api_usage","customer_id":"{{customer.Id()}}","metadata":{"units":1} }]""");

        using var list = await _client.GetAsync($"v1/customer-meters/?customer_id={customer.Id()}");
        var page = await list.ExpectAsync(HttpStatusCode.OK);
        var item = Assert.Single(page.GetProperty("items").EnumerateArray());
        using var read = await _client.GetAsync($"v1/customer-meters/{item.Id()}");

        PolarSchema.AssertValid("ListResource_CustomerMeter_", page);
        PolarSchema.AssertValid("CustomerMeter", await read.ExpectAsync(HttpStatusCode.OK));
    }

    [Fact]
    public async Task Missing_resources_are_valid_ResourceNotFound_bodies()
    {
        using var customer = await _client.GetAsync($"v1/customers/{Guid.NewGuid()}");
        using var meter = await _client.GetAsync($"v1/meters/{Guid.NewGuid()}");
        using var customerMeter = await _client.GetAsync($"v1/customer-meters/{Guid.NewGuid()}");

        foreach (var response in new[] { customer, meter, customerMeter })
        {
            var body = await response.ExpectAsync(HttpStatusCode.NotFound);
            PolarSchema.AssertValid("ResourceNotFound", body);
            Assert.Equal("Not found", body.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task Validation_refusals_are_valid_HTTPValidationError_bodies()
    {
        using var schemaRefusal = await _client.PostJsonAsync("v1/events/ingest", """{"events":[{"name":"x"}]}""");
        using var serviceRefusal = await _client.PostJsonAsync("v1/events/ingest", $$"""{"events":[{"name":"x","customer_id":"{{Guid.NewGuid()}}"}]}""");
        using var pathRefusal = await _client.GetAsync("v1/meters/not-a-uuid");
        using var queryRefusal = await _client.GetAsync("v1/customers/?page=0&sorting=size");
        using var eventQueryRefusal = await _client.GetAsync("v1/events/?source=robot&depth=9");

        foreach (var response in new[] { schemaRefusal, serviceRefusal, pathRefusal, queryRefusal, eventQueryRefusal })
        {
            PolarSchema.AssertValid("HTTPValidationError", await response.ExpectAsync(HttpStatusCode.UnprocessableEntity));
        }
    }

    [Fact]
    public void Schema_check_refuses_a_customer_without_its_required_nullable_fields()
    {
        var incomplete = $$"""{"id":"{{Guid.NewGuid()}}","created_at":"2026-01-01T00:00:00Z","email":"a@acme.io","type":"individual","metadata":{} }""";

        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => PolarSchema.AssertValid("Customer", incomplete));
    }
}
