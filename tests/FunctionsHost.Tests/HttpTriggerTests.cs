using System.Net;
using FunctionsHost.Tests.Host;

namespace FunctionsHost.Tests;

/// <summary>The HTTP functions invoked through the worker's own pipeline: RpcHttp in, status, headers and body out.</summary>
[Collection(SharedWorker.Name)]
public sealed class HttpTriggerTests(AppUnderHost app)
{
    private static readonly Dictionary<string, string> NoHeaders = [];

    [Fact]
    public async Task A_grant_is_created_and_its_repeat_answers_the_same_grant()
    {
        var id = "host-grant-" + app.Run;
        var body = $$"""{"customer":{"externalId":"{{id}}","email":"{{id}}@credits.dev"},"units":75,"grantId":"{{id}}","reason":"worker protocol"}""";

        var first = await app.Host.PostAsync("api/grants", body, "application/json");
        var repeat = await app.Host.PostAsync("api/grants", body, "application/json");

        Assert.True(first.Status == HttpStatusCode.Created, first.ToString());
        Assert.StartsWith("application/json", first.Header("Content-Type"));
        Assert.Equal("granted", (string?)first.Json["status"]);
        Assert.Equal(75m, (decimal)first.Json["units"]!);
        Assert.True(repeat.Status == HttpStatusCode.OK, repeat.ToString());
        Assert.Equal((string?)first.Json["eventId"], (string?)repeat.Json["eventId"]);
        var balance = await app.Host.GetAsync($"api/customers/{id}/balance");
        Assert.Equal(75m, (decimal)balance.Json["balance"]!);
    }

    [Fact]
    public async Task An_idempotency_key_header_reaches_the_function()
    {
        var id = "host-key-" + app.Run;
        var body = $$"""{"customer":{"externalId":"{{id}}","email":"{{id}}@credits.dev"},"units":5}""";

        var granted = await app.Host.PostAsync("api/grants", body, "application/json", new Dictionary<string, string> { ["Idempotency-Key"] = id });

        Assert.True(granted.Status == HttpStatusCode.Created, granted.ToString());
        Assert.Equal(id, (string?)granted.Json["grantId"]);
    }

    [Fact]
    public async Task A_balance_reads_the_route_value_and_the_meter_query()
    {
        var id = "host-balance-" + app.Run;
        var grant = await app.Host.PostAsync("api/grants",
            $$"""{"customer":{"externalId":"{{id}}","email":"{{id}}@credits.dev"},"units":30,"grantId":"{{id}}"}""", "application/json");
        Assert.True(grant.Status == HttpStatusCode.Created, grant.ToString());

        var balance = await app.Host.GetAsync($"api/customers/{id}/balance?meter={Uri.EscapeDataString("API Calls")}");

        Assert.True(balance.Status == HttpStatusCode.OK, balance.ToString());
        Assert.Equal(id, (string?)balance.Json["externalCustomerId"]);
        Assert.Equal("API Calls", (string?)balance.Json["meter"]);
        Assert.Equal(30m, (decimal)balance.Json["balance"]!);
    }

    [Fact]
    public async Task A_bad_body_is_a_problem_answer_not_a_failed_invocation()
    {
        var answer = await app.Host.PostAsync("api/grants", """{"customer":{"externalId":"x"},"units":"ten"}""", "application/json");

        Assert.True(answer.Status == HttpStatusCode.BadRequest, answer.ToString());
        Assert.StartsWith("application/problem+json", answer.Header("Content-Type"));
        Assert.Equal("urn:credit-functions:problem:invalid-request", (string?)answer.Json["type"]);
    }

    [Fact]
    public async Task An_unknown_customer_balance_is_404()
    {
        var answer = await app.Host.GetAsync($"api/customers/nobody-{app.Run}/balance", NoHeaders);

        Assert.True(answer.Status == HttpStatusCode.NotFound, answer.ToString());
    }
}
