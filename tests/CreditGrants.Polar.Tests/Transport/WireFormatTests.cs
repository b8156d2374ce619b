using System.Net;
using System.Text.Json;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Transport;

/// <summary>What goes on the wire: routes, headers, lengths and bodies Polar accepts.</summary>
public sealed class WireFormatTests
{
    private static StubHandler PolarLikeStub() => new StubHandler().Always(request => (request.Method.Method, request.Path) switch
    {
        ("POST", "/v1/customers/") => StubHandler.Json(HttpStatusCode.Created, PolarJson.Customer(Guid.NewGuid(), "ada@lovelace.dev")),
        ("POST", "/v1/meters/") => StubHandler.Json(HttpStatusCode.Created, PolarJson.Meter(Guid.NewGuid(), "API Calls")),
        ("POST", "/v1/events/ingest") => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(PolarJson.Events(request).Count)),
        ("GET", "/v1/meters/") => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page()),
        ("GET", "/v1/customers/") or ("GET", "/v1/customer-meters/") => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page()),
        ("GET", _) when request.Path.StartsWith("/v1/customers/", StringComparison.Ordinal) =>
            StubHandler.Json(HttpStatusCode.OK, PolarJson.Customer(Guid.NewGuid(), "ada@lovelace.dev")),
        _ => StubHandler.Json(HttpStatusCode.NotFound, """{"detail":"Not Found"}"""),
    });

    /// <summary>Every call the gateway makes, each with a body where the operation has one.</summary>
    private static async Task ExerciseEveryOperation(PolarTestHost host)
    {
        var gateway = host.Gateway;
        await gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev", "Ada", "user-1",
            TestEvents.Metadata(("plan", PolarMetadata.Text("pro")), ("seats", PolarMetadata.Number(3)))));
        await gateway.FindCustomerByEmailAsync("ada@lovelace.dev");
        await gateway.FindCustomerByExternalIdAsync("user 1/é");
        await gateway.GetCustomerAsync(Guid.NewGuid());
        await gateway.EnsureMeterAsync("API Calls", "api_usage", "units");
        await gateway.GetCustomerMeterAsync(Guid.NewGuid(), Guid.NewGuid());
        await gateway.IngestAsync(
        [
            TestEvents.Usage("user-1", -10, "grant-1", TestEvents.Now.AddMinutes(-5)),
            new PolarEvent("api_usage", Guid.NewGuid(), null, "grant-2", null, TestEvents.Metadata(
                ("units", PolarMetadata.Number(-2.5m)), ("note", PolarMetadata.Text("welcome")), ("paid", PolarMetadata.Boolean(false)),
                ("_cost", TestEvents.Raw("""{"amount":12,"currency":"usd"}""")))),
            new PolarEvent("api_usage", null, "user-2", null, null, null),
        ]);
    }

    [Fact]
    public async Task Bodies_carry_a_content_length_and_are_not_chunked()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);

        await ExerciseEveryOperation(host);

        var withBodies = stub.Requests.Where(r => r.Body is not null).ToList();
        Assert.Equal(3, withBodies.Count);
        Assert.All(withBodies, r =>
        {
            Assert.Equal(r.Body!.Length, r.ContentLength);
            Assert.NotEqual(true, r.Chunked);
            Assert.Equal("application/json", r.Header("Content-Type")?.Split(';')[0]);
        });
    }

    [Fact]
    public async Task Collection_routes_end_with_a_slash_and_ingest_has_none()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);

        await ExerciseEveryOperation(host);

        var paths = stub.Requests.Select(r => $"{r.Method} {r.Path}").ToHashSet();
        Assert.Contains("POST /v1/customers/", paths);
        Assert.Contains("GET /v1/customers/", paths);
        Assert.Contains("GET /v1/meters/", paths);
        Assert.Contains("POST /v1/meters/", paths);
        Assert.Contains("GET /v1/customer-meters/", paths);
        Assert.Contains("POST /v1/events/ingest", paths);
        Assert.DoesNotContain(stub.Requests, r => r.Path is "/v1/customers" or "/v1/meters" or "/v1/customer-meters" or "/v1/events/ingest/");
    }

    [Fact]
    public async Task Every_request_carries_the_bearer_token_and_the_api_version()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);

        await ExerciseEveryOperation(host);

        Assert.NotEmpty(stub.Requests);
        Assert.All(stub.Requests, r =>
        {
            Assert.Equal($"Bearer {PolarTestHost.Token}", r.Header("Authorization"));
            Assert.Equal("2026-04", r.Header("Polar-Version"));
        });
    }

    [Fact]
    public async Task No_body_carries_an_organization_id()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);

        await ExerciseEveryOperation(host);

        Assert.All(stub.Requests.Where(r => r.Body is not null),
            r => Assert.DoesNotContain("organization_id", r.BodyText, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_body_validates_against_polars_openapi_schema()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);

        await ExerciseEveryOperation(host);

        var withBodies = stub.Requests.Where(r => r.Body is not null).ToList();
        Assert.NotEmpty(withBodies);
        Assert.All(withBodies, r => Assert.Empty(PolarOpenApi.Validate(r.Method, r.Path, r.Body!)));
    }

    [Theory]
    [InlineData("""{"events":[{"external_customer_id":"u"}]}""")]
    [InlineData("""{"events":[{"name":"e","external_customer_id":"u","metadata":{"note":""}}]}""")]
    [InlineData("""{"events":[{"name":"e","external_customer_id":"u","timestamp":"yesterday"}]}""")]
    [InlineData("""{"events":[{"name":"e","external_customer_id":"u","metadata":{"nested":{"a":1}}}]}""")]
    [InlineData("""{"evts":[]}""")]
    public void Schema_check_catches_an_ingest_body_polar_would_refuse(string json)
    {
        // Guards the test above: the validator must see these as invalid, or passing it would prove nothing.
        Assert.NotEmpty(PolarOpenApi.Validate(HttpMethod.Post, "/v1/events/ingest", System.Text.Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Schema_check_accepts_a_minimal_valid_ingest_body()
    {
        var body = """{"events":[{"name":"e","external_customer_id":"u","timestamp":"2026-04-01T10:00:00Z","metadata":{"units":-1}}]}"""u8.ToArray();

        Assert.Empty(PolarOpenApi.Validate(HttpMethod.Post, "/v1/events/ingest", body));
    }

    [Fact]
    public async Task Bodies_are_snake_case_with_nulls_left_out()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);

        await host.Gateway.IngestAsync([new PolarEvent("api_usage", null, "user-1", "grant-1", null, null)]);

        var sent = Assert.Single(PolarJson.Events(stub.Requests.Single()));
        Assert.Equal(["external_customer_id", "external_id", "name"], sent.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Timestamps_are_sent_with_a_time_zone()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);
        var at = new DateTimeOffset(2026, 4, 1, 8, 30, 0, TimeSpan.FromHours(2));

        await host.Gateway.IngestAsync([TestEvents.Usage("user-1", -1, "grant-1", at)]);

        var timestamp = Assert.Single(PolarJson.Events(stub.Requests.Single())).GetProperty("timestamp").GetString()!;
        Assert.Equal(at, DateTimeOffset.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Matches("(Z|[+-][0-9]{2}:[0-9]{2})$", timestamp);
    }

    [Fact]
    public async Task External_customer_id_is_escaped_in_the_path()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Customer(Guid.NewGuid(), "a@b.dev", "team a é")));
        await using var host = PolarTestHost.ForStub(stub);

        var customer = await host.Gateway.FindCustomerByExternalIdAsync("team a é");

        Assert.Equal("/v1/customers/external/team%20a%20%C3%A9", stub.Requests.Single().Uri.AbsolutePath);
        Assert.Equal("team a é", customer!.ExternalId);
    }

    [Theory]
    [InlineData("acme-g07/state")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("a%2Fb")]
    [InlineData("who?me")]
    [InlineData("tag#1")]
    [InlineData("back\\slash")]
    public async Task An_external_id_that_would_change_the_paths_meaning_is_looked_up_in_the_list_and_matched_exactly(string externalId)
    {
        // Polar's server decodes the path before routing: 'acme-g07/state' in the path would read customer acme-g07's state.
        var holder = Guid.NewGuid();
        var stub = new StubHandler().Always(request => request.Path == "/v1/customers/"
            ? StubHandler.Json(HttpStatusCode.OK, PolarJson.Page(
                PolarJson.Customer(Guid.NewGuid(), "prefix@b.dev", externalId + "-other"), PolarJson.Customer(holder, "a@b.dev", externalId)))
            : StubHandler.Json(HttpStatusCode.OK, PolarJson.Customer(Guid.NewGuid(), "wrong@b.dev", "acme-g07")));
        await using var host = PolarTestHost.ForStub(stub);

        var customer = await host.Gateway.FindCustomerByExternalIdAsync(externalId);

        var request = Assert.Single(stub.Requests);
        Assert.Equal("/v1/customers/", request.Uri.AbsolutePath);
        Assert.Equal(externalId, System.Web.HttpUtility.ParseQueryString(request.Uri.Query)["query"]);
        Assert.Equal(holder, customer!.Id);
    }

    [Fact]
    public async Task A_path_unsafe_external_id_no_customer_holds_exactly_is_not_found()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page(PolarJson.Customer(Guid.NewGuid(), "a@b.dev", "acme/g07-2"))));
        await using var host = PolarTestHost.ForStub(stub);

        Assert.Null(await host.Gateway.FindCustomerByExternalIdAsync("acme/g07"));
    }

    [Fact]
    public async Task An_answer_for_another_external_id_is_never_taken_for_the_customer()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Customer(Guid.NewGuid(), "a@b.dev", "acme-g07")));
        await using var host = PolarTestHost.ForStub(stub);

        var error = await Assert.ThrowsAsync<PolarException>(() => host.Gateway.FindCustomerByExternalIdAsync("acme-g08"));

        Assert.Contains("'acme-g08'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'acme-g07'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Customer_list_filters_by_email_as_a_query_parameter()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);

        await host.Gateway.FindCustomerByEmailAsync("ada+1@lovelace.dev");

        var query = stub.Requests.Single().Uri.Query;
        Assert.Contains("email=ada%2B1%40lovelace.dev", query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Customer_meter_lookup_filters_by_customer_and_meter()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);
        var (customer, meter) = (Guid.NewGuid(), Guid.NewGuid());

        await host.Gateway.GetCustomerMeterAsync(customer, meter);

        var query = stub.Requests.Single().Uri.Query;
        Assert.Contains($"customer_id={customer}", query, StringComparison.Ordinal);
        Assert.Contains($"meter_id={meter}", query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Meter_created_by_ensure_sums_the_property_over_the_named_events()
    {
        var stub = PolarLikeStub();
        await using var host = PolarTestHost.ForStub(stub);

        await host.Gateway.EnsureMeterAsync("API Calls", "api_usage", "units");

        using var body = JsonDocument.Parse(stub.Requests.Single(r => r.Method == HttpMethod.Post).Body!);
        var root = body.RootElement;
        Assert.Equal("API Calls", root.GetProperty("name").GetString());
        Assert.Equal("sum", root.GetProperty("aggregation").GetProperty("func").GetString());
        Assert.Equal("units", root.GetProperty("aggregation").GetProperty("property").GetString());
        var clause = Assert.Single(root.GetProperty("filter").GetProperty("clauses").EnumerateArray());
        Assert.Equal("name", clause.GetProperty("property").GetString());
        Assert.Equal("eq", clause.GetProperty("operator").GetString());
        Assert.Equal("api_usage", clause.GetProperty("value").GetString());
    }
}
