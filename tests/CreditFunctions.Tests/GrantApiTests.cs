using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;
using CreditGrants.Polar.Http;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests;

public sealed class GrantApiTests : IAsyncLifetime
{
    private App _app = null!;

    public async Task InitializeAsync() => _app = await App.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private Task<ApiResponse> PostAsync(string json, string? idempotencyKey = null) =>
        _app.Api.GrantAsync(new MemoryStream(Encoding.UTF8.GetBytes(json)), idempotencyKey, CancellationToken.None);

    private static JsonElement Body(ApiResponse response) => JsonDocument.Parse(response.Body).RootElement;

    private static string Grant(string grantId = "g-1", string externalId = "user-1", string email = "ada@lovelace.dev", string units = "100",
        string extra = "") =>
        $$"""{"customer":{"externalId":"{{externalId}}","email":"{{email}}"},"units":{{units}},"grantId":"{{grantId}}"{{extra}}}""";

    private static void AssertProblem(ApiResponse response, HttpStatusCode status, string type)
    {
        Assert.Equal(status, response.Status);
        Assert.Equal(ApiResponse.ProblemJson, response.ContentType);
        Assert.Equal(Problem.TypePrefix + type, Body(response).GetProperty("type").GetString());
        Assert.Equal((int)status, Body(response).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task A_new_grant_is_201_with_the_outcome()
    {
        var response = await PostAsync(Grant(extra: ""","reason":"Free trial" """));

        Assert.Equal(HttpStatusCode.Created, response.Status);
        var body = Body(response);
        Assert.Equal("granted", body.GetProperty("status").GetString());
        Assert.Equal("g-1", body.GetProperty("grantId").GetString());
        Assert.True(body.GetProperty("customerCreated").GetBoolean());
        Assert.Equal(100m, body.GetProperty("units").GetDecimal());
        Assert.Equal("API Calls", body.GetProperty("meter").GetString());
        Assert.StartsWith("cg_", body.GetProperty("eventId").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_grant_again_is_200_duplicate_and_changes_no_balance()
    {
        await PostAsync(Grant());

        var again = await PostAsync(Grant());
        var balance = await _app.Api.GetBalanceAsync("user-1", null, CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal("duplicate", Body(again).GetProperty("status").GetString());
        Assert.Equal(100m, Body(balance).GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task The_idempotency_key_header_is_the_grant_id()
    {
        var response = await PostAsync("""{"customer":{"externalId":"user-1","email":"ada@lovelace.dev"},"units":5}""", "key-7");

        Assert.Equal(HttpStatusCode.Created, response.Status);
        Assert.Equal("key-7", Body(response).GetProperty("grantId").GetString());
    }

    [Fact]
    public async Task The_same_value_in_header_and_body_is_accepted()
    {
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(Grant(grantId: "k"), "k")).Status);
    }

    [Fact]
    public async Task Different_grant_ids_in_header_and_body_are_400()
    {
        var response = await PostAsync(Grant(grantId: "a"), "b");

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-request");
        Assert.Equal("grantId", Body(response).GetProperty("errors")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task A_request_without_any_grant_id_is_400()
    {
        var response = await PostAsync("""{"customer":{"externalId":"user-1"},"units":5}""");

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-request");
        Assert.Contains("could grant twice", Body(response).GetProperty("errors")[0].GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_json_is_400()
    {
        AssertProblem(await PostAsync("""{"customer": """), HttpStatusCode.BadRequest, "invalid-request");
    }

    [Fact]
    public async Task An_unknown_field_is_400_naming_it()
    {
        var response = await PostAsync(Grant(extra: ""","unit":5"""));

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-request");
        Assert.Equal("unit", Body(response).GetProperty("errors")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task Units_as_text_are_400_naming_the_value()
    {
        var response = await PostAsync(Grant(units: "\"100\""));

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-request");
        var error = Body(response).GetProperty("errors")[0];
        Assert.Equal("units", error.GetProperty("field").GetString());
        Assert.Equal("\"100\"", error.GetProperty("value").GetString());
    }

    [Fact]
    public async Task Field_errors_are_listed_each_with_value_and_message()
    {
        var response = await PostAsync(Grant(units: "-3", email: "not-an-email"));

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-request");
        var fields = Body(response).GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("field").GetString()).ToList();
        Assert.Equal(["customer.email", "units"], fields);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413()
    {
        var response = await PostAsync(Grant(extra: $$""","reason":"{{new string('r', 70_000)}}" """));

        AssertProblem(response, HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    [Fact]
    public async Task An_unknown_meter_is_404()
    {
        AssertProblem(await PostAsync(Grant(extra: ""","meter":"No Such Meter" """)), HttpStatusCode.NotFound, "meter-not-found");
    }

    [Fact]
    public async Task An_unknown_polar_customer_id_is_404()
    {
        var response = await PostAsync($$"""{"customer":{"customerId":"{{Guid.NewGuid()}}"},"units":5,"grantId":"g"}""");

        AssertProblem(response, HttpStatusCode.NotFound, "customer-not-found");
    }

    [Fact]
    public async Task An_email_that_belongs_to_another_customer_is_409()
    {
        await PostAsync(Grant(grantId: "g-1", externalId: "user-1"));

        var response = await PostAsync(Grant(grantId: "g-2", externalId: "user-2"));

        AssertProblem(response, HttpStatusCode.Conflict, "customer-conflict");
    }

    [Fact]
    public async Task A_meter_that_counts_instead_of_summing_is_422()
    {
        var client = _app.Services.GetRequiredService<PolarClient>();
        await client.CreateMeterAsync(new MeterCreate("Request Count", MeterFilter.NameEquals("api_usage"), new MeterAggregation("count")));

        var response = await PostAsync(Grant(extra: ""","meter":"Request Count" """));

        AssertProblem(response, HttpStatusCode.UnprocessableEntity, "meter-not-grantable");
        Assert.Contains("sums a numeric property", Body(response).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_balance_of_an_unknown_customer_is_404()
    {
        AssertProblem(await _app.Api.GetBalanceAsync("nobody", null, CancellationToken.None), HttpStatusCode.NotFound, "customer-not-found");
    }

    [Fact]
    public async Task The_balance_shows_the_granted_credits()
    {
        await PostAsync(Grant(units: "250"));

        var response = await _app.Api.GetBalanceAsync("user-1", "API Calls", CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, response.Status);
        var body = Body(response);
        Assert.Equal(250m, body.GetProperty("balance").GetDecimal());
        Assert.Equal(-250m, body.GetProperty("consumedUnits").GetDecimal());
        Assert.Equal(0, body.GetProperty("creditedUnits").GetInt64());
        Assert.Equal("API Calls", body.GetProperty("meter").GetString());
    }
}

public sealed class GrantApiOutageTests
{
    [Fact]
    public async Task Polar_failing_after_retries_is_503_with_retry_after()
    {
        await using var app = await App.StartAsync(new EmulatorOptions { SeedMeter = true, Faults = new FaultOptions { Seed = 1, ErrorRate = 1.0 } });

        var response = await app.Api.GrantAsync(new MemoryStream("""{"customer":{"externalId":"u"},"units":1,"grantId":"g"}"""u8.ToArray()),
            null, CancellationToken.None);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.Status);
        Assert.True(int.Parse(response.Headers["Retry-After"], System.Globalization.CultureInfo.InvariantCulture) >= 1);
    }

    [Fact]
    public async Task A_refused_token_is_502_and_the_body_holds_no_token()
    {
        const string WrongToken = "polar_oat_wrong_token_value_123";
        await using var app = await App.StartAsync(token: WrongToken);

        var response = await app.Api.GrantAsync(new MemoryStream("""{"customer":{"externalId":"u"},"units":1,"grantId":"g"}"""u8.ToArray()),
            null, CancellationToken.None);

        Assert.Equal(HttpStatusCode.BadGateway, response.Status);
        var text = Encoding.UTF8.GetString(response.Body);
        Assert.DoesNotContain(WrongToken, text, StringComparison.Ordinal);
        Assert.Contains("token", text, StringComparison.Ordinal);
    }
}
