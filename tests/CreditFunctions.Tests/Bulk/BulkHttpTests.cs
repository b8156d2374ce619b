using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Functions;
using CreditFunctions.Http;
using CreditGrants.Storage.Bulk;

namespace CreditFunctions.Tests.Bulk;

/// <summary><c>POST /api/bulk-grants</c> and <c>GET /api/bulk-grants/{jobId}</c> through the function classes.</summary>
public sealed class BulkHttpTests : IAsyncLifetime
{
    private const string File = "external_customer_id,units\nuser-1,5\nuser-2,7\n";
    private const int Limit = 4096;
    private BulkApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await BulkApp.StartAsync(settings: new() { ["Bulk:MaxFileBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private Task<FakeHttpResponseData> PostAsync(string body, string query = "", params (string, string)[] headers) =>
        PostAsync(Encoding.UTF8.GetBytes(body), query, headers);

    private async Task<FakeHttpResponseData> PostAsync(byte[] body, string query = "", params (string, string)[] headers)
    {
        // Every upload names its batch unless the test is about the batch itself.
        if (!query.Contains("batch=", StringComparison.Ordinal) && !query.Contains("nobatch", StringComparison.Ordinal))
        {
            query += (query.Length == 0 ? "?" : "&") + "batch=test-batch";
        }

        var request = new FakeHttpRequestData("POST", new Uri($"https://app.example.net/api/bulk-grants{query}"), body,
            [("Content-Type", "text/csv"), .. headers]);
        return (FakeHttpResponseData)await new SubmitBulkGrants(_app.Api).Run(request, CancellationToken.None);
    }

    private async Task<FakeHttpResponseData> GetAsync(string jobId)
    {
        var request = new FakeHttpRequestData("GET", new Uri($"https://app.example.net/api/bulk-grants/{jobId}"), []);
        return (FakeHttpResponseData)await new GetBulkGrantJob(_app.Api).Run(request, jobId, CancellationToken.None);
    }

    private static JsonElement Json(FakeHttpResponseData response) => JsonDocument.Parse(response.BodyText).RootElement;

    private static void AssertProblem(FakeHttpResponseData response, HttpStatusCode status, string type)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(ApiResponse.ProblemJson, response.Headers.GetValues("Content-Type").Single());
        Assert.Equal(Problem.TypePrefix + type, Json(response).GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_file_is_accepted_with_its_job_id_and_status_url()
    {
        var response = await PostAsync(File, "?code=function-key");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = Json(response);
        var jobId = body.GetProperty("jobId").GetString()!;
        Assert.True(BulkJobId.IsWellFormed(jobId));
        Assert.Equal(BulkJobState.Queued, body.GetProperty("status").GetString());
        Assert.True(body.GetProperty("created").GetBoolean());
        var statusUrl = $"https://app.example.net/api/bulk-grants/{jobId}";
        Assert.Equal(statusUrl, body.GetProperty("statusUrl").GetString());
        Assert.Equal(statusUrl, response.Headers.GetValues("Location").Single());
    }

    [Fact]
    public async Task The_same_file_again_is_200_with_the_same_job_id()
    {
        var first = Json(await PostAsync(File));

        var again = await PostAsync(File);

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(first.GetProperty("jobId").GetString(), Json(again).GetProperty("jobId").GetString());
        Assert.False(Json(again).GetProperty("created").GetBoolean());
        Assert.Single(await _app.ReceiveAsync());
    }

    [Fact]
    public async Task Other_defaults_in_the_query_make_another_job()
    {
        var plain = Json(await PostAsync(File)).GetProperty("jobId").GetString();

        var withDefaults = Json(await PostAsync(File, "?meter=API%20Calls&reason=Spring%20promotion")).GetProperty("jobId").GetString();

        Assert.NotEqual(plain, withDefaults);
        var status = Json(await GetAsync(withDefaults!));
        Assert.Equal("API Calls", status.GetProperty("meter").GetString());
        Assert.Equal("Spring promotion", status.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task A_file_over_the_limit_is_413_and_stores_nothing()
    {
        var big = "external_customer_id,units\n" + string.Concat(Enumerable.Repeat("user-1,1\n", Limit / 9 + 1));

        var response = await PostAsync(big);

        AssertProblem(response, HttpStatusCode.RequestEntityTooLarge, "body-too-large");
        Assert.Contains("4,096 bytes", Json(response).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(await _app.ReceiveAsync());
    }

    [Fact]
    public async Task A_declared_length_over_the_limit_is_413_before_reading()
    {
        var response = await PostAsync(File, "", ("Content-Length", (Limit + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)));

        AssertProblem(response, HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    [Fact]
    public async Task An_unusable_header_is_400_naming_the_columns()
    {
        var response = await PostAsync("customer,amount\nuser-1,5\n");

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-bulk-file");
        var detail = Json(response).GetProperty("detail").GetString();
        Assert.Contains("'customer'", detail, StringComparison.Ordinal);
        Assert.Contains("'amount'", detail, StringComparison.Ordinal);
        Assert.Contains("external_customer_id", detail, StringComparison.Ordinal);
        Assert.Empty(await _app.ReceiveAsync());
    }

    [Fact]
    public async Task An_empty_body_is_400()
    {
        var response = await PostAsync("");

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-bulk-file");
        Assert.Contains("empty", Json(response).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_upload_without_a_batch_is_400_naming_the_batch_and_starts_nothing()
    {
        var response = await PostAsync(File, "?nobatch");

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-request");
        var error = Json(response).GetProperty("errors")[0];
        Assert.Equal("batch", error.GetProperty("field").GetString());
        Assert.Contains("credits bulk submit uses the file's name", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(await _app.ReceiveAsync());
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("1")]
    [InlineData("True")]
    public async Task A_dry_run_flag_other_than_true_or_false_is_400(string value)
    {
        var response = await PostAsync(File, "?dryRun=" + value);

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-request");
        Assert.Equal("dryRun", Json(response).GetProperty("errors")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task A_dry_run_upload_checks_every_row_and_grants_nothing()
    {
        var jobId = Json(await PostAsync("external_customer_id,email,units\nuser-1,ada@lovelace.dev,5\nuser-2,grace@hopper.dev,-1\n", "?dryRun=true"))
            .GetProperty("jobId").GetString()!;
        await _app.DrainAsync();

        var status = await _app.StatusAsync(jobId);
        Assert.True(status.DryRun);
        Assert.Equal((1L, 0L, 1L), (status.Totals.WouldGrant, status.Totals.Granted, status.Totals.Rejected));
        Assert.Equal(["would_grant", "rejected"], Csv.Results(await _app.ResultsAsync(status)).Select(r => r["status"]));
        await Assert.ThrowsAsync<CreditGrants.Grants.GrantException>(() => _app.BalanceAsync("user-1"));
    }

    [Fact]
    public async Task A_utf16_upload_is_stored_as_utf8_and_granted()
    {
        var text = "external_customer_id,email,units\nren\u00e9e,renee@lovelace.dev,5\n";

        var jobId = Json(await PostAsync([.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(text)])).GetProperty("jobId").GetString()!;
        await _app.DrainAsync();

        Assert.Equal("completed", (await _app.StatusAsync(jobId)).Status);
        Assert.Equal(5m, await _app.BalanceAsync("ren\u00e9e"));
    }

    private async Task<FakeHttpResponseData> GetResultsAsync(string jobId)
    {
        var request = new FakeHttpRequestData("GET", new Uri($"https://app.example.net/api/bulk-grants/{jobId}/results"), []);
        return (FakeHttpResponseData)await new GetBulkGrantResults(_app.Api).Run(request, jobId, CancellationToken.None);
    }

    [Fact]
    public async Task The_results_of_a_finished_job_stream_as_csv_with_the_function_key()
    {
        var jobId = Json(await PostAsync(File)).GetProperty("jobId").GetString()!;
        var early = await GetResultsAsync(jobId);
        await _app.DrainAsync();

        var response = await GetResultsAsync(jobId);

        AssertProblem(early, HttpStatusCode.Conflict, "bulk-results-not-ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv; charset=utf-8", response.Headers.GetValues("Content-Type").Single());
        Assert.Equal(await _app.ResultsAsync(await _app.StatusAsync(jobId)), response.BodyText);
        Assert.Equal(["granted", "granted"], Csv.Results(response.BodyText).Select(r => r["status"]));
    }

    [Fact]
    public async Task The_results_of_an_unknown_job_are_404()
    {
        AssertProblem(await GetResultsAsync(new string('a', 32)), HttpStatusCode.NotFound, "bulk-job-not-found");
    }

    [Fact]
    public void Every_http_function_of_the_app_needs_a_function_key_except_the_openapi_document_and_polars_webhooks()
    {
        var triggers = typeof(SubmitBulkGrants).Assembly.GetTypes().SelectMany(t => t.GetMethods())
            .SelectMany(m => m.GetParameters())
            .Select(p => p.GetCustomAttributes(typeof(Microsoft.Azure.Functions.Worker.HttpTriggerAttribute), false)
                .Cast<Microsoft.Azure.Functions.Worker.HttpTriggerAttribute>().SingleOrDefault())
            .OfType<Microsoft.Azure.Functions.Worker.HttpTriggerAttribute>()
            .ToList();

        Assert.Contains(triggers, t => t.Route == "bulk-grants/{jobId}/results");
        // The contract holds no secret, and Polar sends no key (its signature authenticates it); everything else needs one.
        string[] anonymous = ["openapi.json", "polar/webhooks"];
        Assert.All(anonymous, route => Assert.Equal(Microsoft.Azure.Functions.Worker.AuthorizationLevel.Anonymous, Assert.Single(triggers, t => t.Route == route).AuthLevel));
        Assert.All(triggers.Where(t => !anonymous.Contains(t.Route)), t => Assert.Equal(Microsoft.Azure.Functions.Worker.AuthorizationLevel.Function, t.AuthLevel));
    }

    [Fact]
    public async Task A_default_reason_over_its_limit_is_400_naming_the_field()
    {
        var response = await PostAsync(File, "?reason=" + new string('r', 501));

        AssertProblem(response, HttpStatusCode.BadRequest, "invalid-request");
        Assert.Equal("reason", Json(response).GetProperty("errors")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task The_status_of_a_submitted_job_is_200_and_says_queued()
    {
        var jobId = Json(await PostAsync(File)).GetProperty("jobId").GetString()!;

        var response = await GetAsync(jobId);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = Json(response);
        Assert.Equal(jobId, body.GetProperty("jobId").GetString());
        Assert.Equal(BulkJobState.Queued, body.GetProperty("status").GetString());
        Assert.Equal(Encoding.UTF8.GetByteCount(File), body.GetProperty("fileBytes").GetInt64());
    }

    [Fact]
    public async Task The_status_of_a_finished_job_has_totals_times_and_the_results_file()
    {
        var jobId = Json(await PostAsync("external_customer_id,units\nuser-1,5\nuser-2,x\n")).GetProperty("jobId").GetString()!;
        await _app.DrainAsync();

        var body = Json(await GetAsync(jobId));

        Assert.Equal(BulkJobState.CompletedWithErrors, body.GetProperty("status").GetString());
        var totals = body.GetProperty("totals");
        Assert.Equal(2, totals.GetProperty("rows").GetInt64());
        Assert.Equal(1, totals.GetProperty("granted").GetInt64());
        Assert.Equal(0, totals.GetProperty("duplicates").GetInt64());
        Assert.Equal(1, totals.GetProperty("rejected").GetInt64());
        Assert.Equal(0, totals.GetProperty("failed").GetInt64());
        Assert.False(totals.TryGetProperty("grantedOrDuplicate", out _));
        Assert.Equal(5m, body.GetProperty("unitsGranted").GetDecimal());
        Assert.True(body.GetProperty("finishedAt").GetDateTimeOffset() >= body.GetProperty("startedAt").GetDateTimeOffset());
        Assert.Equal(0, body.GetProperty("failedChunks").GetArrayLength());
        Assert.Equal($"{jobId}.csv", body.GetProperty("results").GetProperty("blob").GetString());
    }

    [Fact]
    public async Task An_unknown_job_is_404()
    {
        AssertProblem(await GetAsync(new string('e', 32)), HttpStatusCode.NotFound, "bulk-job-not-found");
        AssertProblem(await GetAsync("nope"), HttpStatusCode.NotFound, "bulk-job-not-found");
    }
}
