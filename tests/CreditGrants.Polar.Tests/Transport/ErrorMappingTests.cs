using System.Net;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Transport;

/// <summary>Polar's error answers become <see cref="PolarException"/>s a caller can act on.</summary>
public sealed class ErrorMappingTests
{
    private static async Task<PolarException> FailureOf(HttpStatusCode status, string? json, Func<IPolarGateway, Task> call,
        Action<HttpResponseMessage>? configure = null)
    {
        var stub = new StubHandler().Always(_ =>
        {
            var response = json is null ? new HttpResponseMessage(status) : StubHandler.Json(status, json);
            configure?.Invoke(response);
            return response;
        });
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 0);
        return await Assert.ThrowsAsync<PolarException>(() => call(host.Gateway));
    }

    private static Task Ingest(IPolarGateway gateway) => gateway.IngestAsync([TestEvents.Usage("user-1", -1, "grant-1")]);

    [Fact]
    public async Task Unauthorized_with_polars_own_body_is_unauthorized()
    {
        var failure = await FailureOf(HttpStatusCode.Unauthorized, """{"error":"Unauthorized","detail":"Unauthorized"}""", Ingest,
            r => r.Headers.WwwAuthenticate.ParseAdd("Bearer realm=\"polar\""));

        Assert.Equal(PolarErrorKind.Unauthorized, failure.Kind);
        Assert.Equal(HttpStatusCode.Unauthorized, failure.Status);
        Assert.Equal("Unauthorized", failure.Error);
    }

    [Fact]
    public async Task Unauthorized_with_the_oauth2_body_is_unauthorized()
    {
        var failure = await FailureOf(HttpStatusCode.Unauthorized,
            """{"error":"invalid_token","error_description":"The access token provided is expired, revoked, malformed, or invalid for other reasons."}""",
            Ingest);

        Assert.Equal(PolarErrorKind.Unauthorized, failure.Kind);
        Assert.Equal("invalid_token", failure.Error);
        Assert.Contains("invalid_token", failure.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> ScopedOperations => new()
    {
        { "ingest", "events:write" },
        { "create-customer", "customers:write" },
        { "get-customer", "customers:read" },
        { "find-customer-by-email", "customers:read" },
        { "find-meter", "meters:read" },
        { "customer-meter", "customer_meters:read" },
    };

    private static Task Run(string operation, IPolarGateway gateway) => operation switch
    {
        "ingest" => Ingest(gateway),
        "create-customer" => gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev")),
        "get-customer" => gateway.GetCustomerAsync(Guid.NewGuid()),
        "find-customer-by-email" => gateway.FindCustomerByEmailAsync("ada@lovelace.dev"),
        "find-meter" => gateway.FindMeterAsync("API Calls"),
        "customer-meter" => gateway.GetCustomerMeterAsync(Guid.NewGuid(), Guid.NewGuid()),
        _ => throw new ArgumentOutOfRangeException(nameof(operation)),
    };

    [Theory]
    [MemberData(nameof(ScopedOperations))]
    public async Task Forbidden_is_a_missing_scope_naming_the_scope_the_call_needs(string operation, string scope)
    {
        var failure = await FailureOf(HttpStatusCode.Forbidden,
            """{"error":"insufficient_scope","error_description":"The token does not have the required scope."}""",
            gateway => Run(operation, gateway));

        Assert.Equal(PolarErrorKind.MissingScope, failure.Kind);
        Assert.Equal("insufficient_scope", failure.Error);
        Assert.Contains(scope, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Creating_a_meter_without_the_scope_names_meters_write()
    {
        var stub = new StubHandler()
            .Then(HttpStatusCode.OK, PolarJson.Page())
            .Then(HttpStatusCode.Forbidden, """{"error":"insufficient_scope","error_description":"…"}""");
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 0);

        var failure = await Assert.ThrowsAsync<PolarException>(() => host.Gateway.EnsureMeterAsync("API Calls", "api_usage", "units"));

        Assert.Equal(PolarErrorKind.MissingScope, failure.Kind);
        Assert.Contains("meters:write", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Not_found_is_not_found()
    {
        var id = Guid.NewGuid();

        var failure = await FailureOf(HttpStatusCode.NotFound, """{"error":"ResourceNotFound","detail":"Not found"}""",
            gateway => gateway.GetCustomerAsync(id));

        Assert.Equal(PolarErrorKind.NotFound, failure.Kind);
        Assert.Equal("ResourceNotFound", failure.Error);
        Assert.Contains($"/v1/customers/{id}", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Finding_a_customer_by_an_unknown_external_id_gives_null()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.NotFound, """{"error":"ResourceNotFound","detail":"Not found"}"""));
        await using var host = PolarTestHost.ForStub(stub);

        Assert.Null(await host.Gateway.FindCustomerByExternalIdAsync("nobody"));
    }

    [Fact]
    public async Task Body_too_large_is_request_too_large()
    {
        var failure = await FailureOf(HttpStatusCode.RequestEntityTooLarge, """{"error":"RequestBodyTooLarge","detail":"Request body too large"}""", Ingest);

        Assert.Equal(PolarErrorKind.RequestTooLarge, failure.Kind);
        Assert.Equal("RequestBodyTooLarge", failure.Error);
    }

    [Fact]
    public async Task Validation_error_lists_every_refused_field()
    {
        var body = PolarJson.ValidationError(("body.email", "value is not a valid email address"), ("body.name", "String should have at most 256 characters"));

        var failure = await FailureOf(HttpStatusCode.UnprocessableEntity, body,
            gateway => gateway.CreateCustomerAsync(new CustomerCreate("not-an-email")));

        Assert.Equal(PolarErrorKind.Validation, failure.Kind);
        Assert.Equal("PolarRequestValidationError", failure.Error);
        Assert.Equal(["body.email", "body.name"], failure.Errors.Select(e => e.Path));
        Assert.Equal(["body", "email"], failure.Errors[0].Location);
        Assert.Equal("value is not a valid email address", failure.Errors[0].Message);
        Assert.Equal("value_error", failure.Errors[0].Type);
        Assert.Contains("body.email: value is not a valid email address", failure.Message, StringComparison.Ordinal);
        Assert.Contains("body.name", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validation_error_on_an_event_names_its_index()
    {
        var failure = await FailureOf(HttpStatusCode.UnprocessableEntity, PolarJson.ValidationError(("body.events.7.customer_id", "Customer does not exist.")),
            gateway => gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev")));

        Assert.Equal(7, Assert.Single(failure.Errors).EventIndex);
    }

    [Theory]
    [InlineData("body.email", "A customer with this email address already exists.")]
    [InlineData("body.external_id", "A customer with this external ID already exists.")]
    public async Task Already_exists_is_a_conflict_not_a_validation_error(string location, string message)
    {
        var failure = await FailureOf(HttpStatusCode.UnprocessableEntity, PolarJson.ValidationError((location, message)),
            gateway => gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev", ExternalId: "user-1")));

        Assert.Equal(PolarErrorKind.Conflict, failure.Kind);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, failure.Status);
        Assert.Equal(location, Assert.Single(failure.Errors).Path);
    }

    [Fact]
    public async Task Validation_error_with_a_string_detail_keeps_polars_message()
    {
        var failure = await FailureOf(HttpStatusCode.UnprocessableEntity, """{"error":"organization_token","detail":"Setting organization_id is disallowed when using an organization token."}""",
            gateway => gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev")));

        Assert.Equal(PolarErrorKind.Validation, failure.Kind);
        Assert.Contains("Setting organization_id is disallowed", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rate_limited_carries_retry_after_from_the_header()
    {
        var failure = await FailureOf(HttpStatusCode.TooManyRequests, null, Ingest,
            r => r.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(42)));

        Assert.Equal(PolarErrorKind.RateLimited, failure.Kind);
        Assert.Equal(TimeSpan.FromSeconds(42), failure.RetryAfter);
        Assert.Contains("42 s", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rate_limited_without_retry_after_suggests_a_minute()
    {
        var failure = await FailureOf(HttpStatusCode.TooManyRequests, null, Ingest);

        Assert.Equal(PolarErrorKind.RateLimited, failure.Kind);
        Assert.Equal(TimeSpan.FromSeconds(60), failure.RetryAfter);
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.BadGateway)]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.GatewayTimeout)]
    [InlineData(HttpStatusCode.RequestTimeout)]
    public async Task Server_failure_is_unavailable(HttpStatusCode status)
    {
        var failure = await FailureOf(status, null, Ingest);

        Assert.Equal(PolarErrorKind.Unavailable, failure.Kind);
        Assert.Equal(status, failure.Status);
    }

    [Fact]
    public async Task Length_required_is_unexpected_and_keeps_polars_detail()
    {
        var failure = await FailureOf(HttpStatusCode.LengthRequired, """{"error":"LengthRequired","detail":"Content-Length required"}""", Ingest);

        Assert.Equal(PolarErrorKind.Unexpected, failure.Kind);
        Assert.Equal("LengthRequired", failure.Error);
        Assert.Contains("411", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Content-Length required", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Success_with_a_body_that_is_not_json_is_unexpected()
    {
        var failure = await FailureOf(HttpStatusCode.OK, "<html>proxy error</html>", gateway => gateway.GetCustomerAsync(Guid.NewGuid()));

        Assert.Equal(PolarErrorKind.Unexpected, failure.Kind);
        Assert.Equal(HttpStatusCode.OK, failure.Status);
    }

    [Fact]
    public async Task Error_body_that_is_not_json_still_maps_by_status()
    {
        var failure = await FailureOf(HttpStatusCode.NotFound, "<html>Not Found</html>", gateway => gateway.GetCustomerAsync(Guid.NewGuid()));

        Assert.Equal(PolarErrorKind.NotFound, failure.Kind);
        Assert.Null(failure.Error);
    }

    [Fact]
    public async Task Messages_name_the_route_without_its_query()
    {
        var failure = await FailureOf(HttpStatusCode.Forbidden, """{"error":"insufficient_scope"}""",
            gateway => gateway.FindCustomerByEmailAsync("ada@lovelace.dev"));

        Assert.Contains("GET /v1/customers/", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ada@lovelace.dev", failure.Message, StringComparison.Ordinal);
    }
}
