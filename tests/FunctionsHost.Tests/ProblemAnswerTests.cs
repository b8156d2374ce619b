using System.Net;
using FunctionsHost.Tests.Host;

namespace FunctionsHost.Tests;

/// <summary>
/// Problem answers of the HTTP functions through the worker, each with its documented status and stable type. Like every
/// exchange through the test host, each is also checked against docs/openapi.json.
/// </summary>
[Collection(SharedWorker.Name)]
public sealed class ProblemAnswerTests(AppUnderHost app)
{
    [Fact]
    public async Task An_unknown_bulk_job_is_404_bulk_job_not_found()
    {
        var answer = await app.Host.GetAsync("api/bulk-grants/0123456789abcdef0123456789abcdef");

        AssertProblem(answer, HttpStatusCode.NotFound, "bulk-job-not-found");
    }

    [Fact]
    public async Task The_results_of_an_unknown_bulk_job_are_404_bulk_job_not_found()
    {
        var answer = await app.Host.GetAsync("api/bulk-grants/0123456789abcdef0123456789abcdef/results");

        AssertProblem(answer, HttpStatusCode.NotFound, "bulk-job-not-found");
    }

    [Fact]
    public async Task Revoking_an_occurrence_of_an_unknown_campaign_is_404_campaign_not_found()
    {
        var answer = await app.Host.PostAsync($"api/campaigns/never-run-{app.Run}/occurrences/20261207T080000Z/revoke", """{"reason":"wrong"}""", "application/json");

        AssertProblem(answer, HttpStatusCode.NotFound, "campaign-not-found");
    }

    [Fact]
    public async Task Revoking_a_campaign_occurrence_that_is_no_time_is_400_invalid_request()
    {
        var answer = await app.Host.PostAsync("api/campaigns/launch/occurrences/yesterday/revoke", """{"reason":"wrong"}""", "application/json");

        AssertProblem(answer, HttpStatusCode.BadRequest, "invalid-request");
    }

    [Fact]
    public async Task An_upload_without_a_batch_is_400_invalid_request()
    {
        var answer = await app.Host.PostAsync("api/bulk-grants", "external_customer_id,units\nuser-1,10\n", "text/csv");

        AssertProblem(answer, HttpStatusCode.BadRequest, "invalid-request");
    }

    [Fact]
    public async Task An_upload_with_an_unusable_header_is_400_invalid_bulk_file()
    {
        var answer = await app.Host.PostAsync($"api/bulk-grants?batch=problems-{app.Run}", "who,how_much\nuser-1,10\n", "text/csv");

        AssertProblem(answer, HttpStatusCode.BadRequest, "invalid-bulk-file");
    }

    [Fact]
    public async Task A_grant_to_an_unknown_meter_is_404_meter_not_found()
    {
        var id = "problem-meter-" + app.Run;
        var answer = await app.Host.PostAsync("api/grants",
            $$"""{"customer":{"externalId":"{{id}}","email":"{{id}}@credits.dev"},"units":1,"grantId":"{{id}}","meter":"No Such Meter"}""", "application/json");

        AssertProblem(answer, HttpStatusCode.NotFound, "meter-not-found");
    }

    [Fact]
    public async Task A_grant_id_reused_for_other_units_is_409_grant_id_conflict()
    {
        var id = "problem-conflict-" + app.Run;
        var body = $$"""{"customer":{"externalId":"{{id}}","email":"{{id}}@credits.dev"},"units":UNITS,"grantId":"{{id}}"}""";
        var first = await app.Host.PostAsync("api/grants", body.Replace("UNITS", "5", StringComparison.Ordinal), "application/json");
        Assert.True(first.Status == HttpStatusCode.Created, first.ToString());

        var answer = await app.Host.PostAsync("api/grants", body.Replace("UNITS", "6", StringComparison.Ordinal), "application/json");

        AssertProblem(answer, HttpStatusCode.Conflict, "grant-id-conflict");
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_body_too_large()
    {
        var answer = await app.Host.PostAsync("api/grants", $$"""{"reason":"{{new string('x', 70_000)}}"}""", "application/json");

        AssertProblem(answer, HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    private static void AssertProblem(HostHttpResponse answer, HttpStatusCode status, string type)
    {
        Assert.True(answer.Status == status, answer.ToString());
        Assert.StartsWith("application/problem+json", answer.Header("Content-Type"));
        Assert.Equal("urn:credit-functions:problem:" + type, (string?)answer.Json["type"]);
    }
}
