using System.Net;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Unit;

/// <summary>How the gateway finds meters and customers in Polar's lists (stub answers, no server).</summary>
public sealed class GatewayMeterLookupTests
{
    [Fact]
    public async Task Meter_is_found_by_exact_case_sensitive_name_among_similar_names()
    {
        var exact = Guid.NewGuid();
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page(
            PolarJson.Meter(Guid.NewGuid(), "api calls"), PolarJson.Meter(exact, "API Calls"), PolarJson.Meter(Guid.NewGuid(), "API Calls v2"))));
        await using var host = PolarTestHost.ForStub(stub);

        var meter = await host.Gateway.FindMeterAsync("API Calls");

        Assert.Equal(exact, meter?.Id);
    }

    [Fact]
    public async Task Meter_search_asks_polar_for_unarchived_meters_matching_the_name()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page()));
        await using var host = PolarTestHost.ForStub(stub);

        await host.Gateway.FindMeterAsync("API Calls");

        var query = stub.Requests.Single().Uri.Query;
        Assert.Contains("query=API%20Calls", query, StringComparison.Ordinal);
        Assert.Contains("is_archived=false", query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Meter_search_reads_every_page()
    {
        var wanted = Guid.NewGuid();
        var stub = new StubHandler()
            .Then(HttpStatusCode.OK, PolarJson.Page(2, PolarJson.Meter(Guid.NewGuid(), "API Calls (old)")))
            .Then(HttpStatusCode.OK, PolarJson.Page(2, PolarJson.Meter(wanted, "API Calls")));
        await using var host = PolarTestHost.ForStub(stub);

        var meter = await host.Gateway.FindMeterAsync("API Calls");

        Assert.Equal(wanted, meter?.Id);
        Assert.Contains("page=1", stub.Requests[0].Uri.Query, StringComparison.Ordinal);
        Assert.Contains("page=2", stub.Requests[1].Uri.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_meters_of_one_name_are_an_error_naming_both()
    {
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page(
            PolarJson.Meter(first, "API Calls"), PolarJson.Meter(second, "API Calls"))));
        await using var host = PolarTestHost.ForStub(stub);

        var refusal = await Assert.ThrowsAsync<MeterNotGrantableException>(() => host.Gateway.FindMeterAsync("API Calls"));

        Assert.Equal(MeterProblem.Ambiguous, refusal.Problem);
        Assert.Contains(first.ToString(), refusal.Message, StringComparison.Ordinal);
        Assert.Contains(second.ToString(), refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_meter_of_that_name_gives_null()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page(PolarJson.Meter(Guid.NewGuid(), "API Calls v2"))));
        await using var host = PolarTestHost.ForStub(stub);

        Assert.Null(await host.Gateway.FindMeterAsync("API Calls"));
    }

    [Fact]
    public async Task Grant_target_for_a_missing_meter_says_so_by_name()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page()));
        await using var host = PolarTestHost.ForStub(stub);

        var refusal = await Assert.ThrowsAsync<MeterNotGrantableException>(() => host.Gateway.GetGrantTargetAsync("Credits"));

        Assert.Equal(MeterProblem.NotFound, refusal.Problem);
        Assert.Contains("'Credits'", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grant_target_for_a_count_meter_is_refused()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page(
            PolarJson.Meter(Guid.NewGuid(), "API Calls", func: "count", property: null))));
        await using var host = PolarTestHost.ForStub(stub);

        var refusal = await Assert.ThrowsAsync<MeterNotGrantableException>(() => host.Gateway.GetGrantTargetAsync("API Calls"));

        Assert.Equal(MeterProblem.NotSummable, refusal.Problem);
    }

    [Fact]
    public async Task Ensure_meter_leaves_an_existing_meter_alone()
    {
        var existing = Guid.NewGuid();
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page(PolarJson.Meter(existing, "API Calls"))));
        await using var host = PolarTestHost.ForStub(stub);

        var (meter, created) = await host.Gateway.EnsureMeterAsync("API Calls", "api_usage", "units");

        Assert.False(created);
        Assert.Equal(existing, meter.Id);
        Assert.DoesNotContain(stub.Requests, r => r.Method == HttpMethod.Post);
    }

    [Fact]
    public async Task Customer_meter_is_null_when_the_customer_has_none()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page()));
        await using var host = PolarTestHost.ForStub(stub);

        Assert.Null(await host.Gateway.GetCustomerMeterAsync(Guid.NewGuid(), Guid.NewGuid()));
    }

    [Fact]
    public async Task Customer_found_by_email_is_null_when_none_matches()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, PolarJson.Page()));
        await using var host = PolarTestHost.ForStub(stub);

        Assert.Null(await host.Gateway.FindCustomerByEmailAsync("ada@lovelace.dev"));
    }
}
