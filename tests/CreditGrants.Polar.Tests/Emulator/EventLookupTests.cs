using System.Net;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Emulator;

/// <summary>Finding events again by a metadata value: many values per <c>GET /v1/events/</c> request, every page read.</summary>
public sealed class EventLookupTests
{
    private static PolarEvent Grant(string grantId, string externalCustomerId = "user-1", decimal units = -5) =>
        new("api_usage", null, externalCustomerId, "cg_" + grantId, null,
            TestEvents.Metadata(("units", PolarMetadata.Number(units)), ("grant_id", PolarMetadata.Text(grantId))));

    [Fact]
    public async Task Looking_up_250_ids_takes_3_requests_and_finds_each_event()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var ids = Enumerable.Range(0, 250).Select(i => $"grant-{i:D4}").ToList();
        await polar.Gateway.IngestAsync([.. ids.Select(id => Grant(id))]);
        var before = polar.Server.RequestCount;

        var lookup = await polar.Gateway.FindEventsByMetadataAsync("grant_id", ids);

        Assert.Equal(3, lookup.Requests);
        Assert.Equal(3, polar.Server.RequestCount - before);
        Assert.Equal(250, lookup.Events.Count);
        Assert.All(ids, id => Assert.Equal(id, Assert.Single(lookup.Events[id]).Metadata!["grant_id"].GetString()));
    }

    [Fact]
    public async Task A_system_event_holding_the_value_is_never_found_as_a_grant()
    {
        await using var polar = await EmulatorHost.StartAsync();
        await polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev", ExternalId: "grant-like"));
        using var http = new HttpClient { BaseAddress = polar.Server.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", polar.Server.Token);
        var unfiltered = await http.GetStringAsync("v1/events/?metadata%5Bcustomer_external_id%5D=grant-like");
        Assert.Contains("\"customer.created\"", unfiltered, StringComparison.Ordinal);

        var lookup = await polar.Gateway.FindEventsByMetadataAsync("customer_external_id", ["grant-like"]);

        Assert.Empty(lookup.Events);
    }

    [Fact]
    public async Task Ids_no_event_holds_are_absent_and_cost_nothing_extra()
    {
        await using var polar = await EmulatorHost.StartAsync();
        await polar.Gateway.IngestAsync([Grant("known")]);

        var lookup = await polar.Gateway.FindEventsByMetadataAsync("grant_id", ["known", "unknown", "known"]);

        Assert.Equal(1, lookup.Requests);
        Assert.Equal(["known"], lookup.Events.Keys);
    }

    [Fact]
    public async Task Events_beyond_one_page_are_read_from_the_next_pages_oldest_first()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        // 150 events hold the same value (no external id, so Polar keeps them all): more than one page of 100.
        await polar.Gateway.IngestAsync([.. Enumerable.Range(0, 150).Select(i =>
            Grant("common-id", units: -i) with { ExternalId = null, Timestamp = start.AddSeconds(i) })]);

        var lookup = await polar.Gateway.FindEventsByMetadataAsync("grant_id", ["common-id"]);

        Assert.Equal(2, lookup.Requests);
        var events = lookup.Events["common-id"];
        Assert.Equal(150, events.Count);
        Assert.Equal(events.OrderBy(e => e.Timestamp).Select(e => e.Id), events.Select(e => e.Id));
    }

    [Fact]
    public async Task A_found_event_names_the_customer_it_counts_for()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var customer = await polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@creditfunctions.dev", ExternalId: "user-44"));
        await polar.Gateway.IngestAsync([Grant("by-external", "user-44")]);

        var found = Assert.Single((await polar.Gateway.FindEventsByMetadataAsync("grant_id", ["by-external"])).Events["by-external"]);

        Assert.Equal("user-44", found.ExternalCustomerId);
        Assert.Null(found.CustomerId);
        Assert.Equal(customer.Id, found.Customer!.Id);
        Assert.Equal(-5m, found.Metadata!["units"].GetDecimal());
    }

    [Fact]
    public async Task Long_values_are_split_so_no_request_carries_more_than_the_query_limit()
    {
        await using var polar = await EmulatorHost.StartAsync();
        // 40 values of 200 characters: 100 per request would make a query of over 20,000 characters.
        var ids = Enumerable.Range(0, 40).Select(i => $"{i:D3}-" + new string('x', 196)).ToList();

        var lookup = await polar.Gateway.FindEventsByMetadataAsync("grant_id", ids);

        // Each value takes 224 query characters (metadata%5Bgrant_id%5D=… and its '&'): 26 fit in 6,000.
        Assert.Equal(2, lookup.Requests);
    }

    [Fact]
    public async Task Values_go_as_repeated_metadata_parameters_of_user_events_oldest_first()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK, """{"items":[],"pagination":{"total_count":0,"max_page":0}}"""));
        await using var host = PolarTestHost.ForStub(stub);

        await host.Gateway.FindEventsByMetadataAsync("grant_id", ["g 1", "g&2"]);

        var request = Assert.Single(stub.Requests);
        Assert.Equal("/v1/events/", request.Path);
        Assert.Equal("?source=user&sorting=timestamp&metadata%5Bgrant_id%5D=g%201&metadata%5Bgrant_id%5D=g%262&page=1&limit=100",
            request.Uri.Query);
    }

    [Fact]
    public async Task When_Polar_refuses_repeated_values_each_is_looked_up_alone_from_then_on()
    {
        var stub = new StubHandler()
            .Then(HttpStatusCode.UnprocessableEntity, """{"detail":[{"type":"string_type","loc":["query","metadata"],"msg":"Input should be a valid string","input":["a","b"]}]}""")
            .Always(request => StubHandler.Json(HttpStatusCode.OK, request.Uri.Query.Contains("=a&", StringComparison.Ordinal)
                ? """{"items":[{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","timestamp":"2026-04-01T00:00:00Z","name":"api_usage","source":"user","customer_id":null,"external_customer_id":"u-1","customer":null,"metadata":{"grant_id":"a","units":-5}}],"pagination":{"total_count":1,"max_page":1}}"""
                : """{"items":[],"pagination":{"total_count":0,"max_page":0}}"""));
        await using var host = PolarTestHost.ForStub(stub);

        var first = await host.Gateway.FindEventsByMetadataAsync("grant_id", ["a", "b"]);
        var second = await host.Gateway.FindEventsByMetadataAsync("grant_id", ["c", "d"]);

        Assert.Equal(3, first.Requests);
        Assert.Equal(["a"], first.Events.Keys);
        Assert.Equal(2, second.Requests);
        Assert.Equal(5, stub.Count);
    }

    [Fact]
    public async Task Events_a_server_returns_without_a_value_asked_for_are_ignored()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.OK,
            """{"items":[{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","timestamp":"2026-04-01T00:00:00Z","name":"api_usage","source":"user","customer_id":null,"external_customer_id":"u-1","customer":null,"metadata":{"grant_id":"other"}}],"pagination":{"total_count":1,"max_page":1}}"""));
        await using var host = PolarTestHost.ForStub(stub);

        var lookup = await host.Gateway.FindEventsByMetadataAsync("grant_id", ["wanted"]);

        Assert.Empty(lookup.Events);
    }
}
