using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary><c>GET /v1/events/</c>: its filters, paging, sorting, scopes and refusals, as Polar's schema gives them.</summary>
public sealed class EventListTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 4, 15, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private PolarEmulatorServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, TimeProvider = _time });
        _client = EmulatorFixture.ClientFor(_server);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private Task<JsonElement> ListAsync(string query) => _client.ListEventsAsync(query);

    private static List<string> GrantIds(JsonElement page) =>
        [.. page.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("metadata").GetProperty("grant_id").GetString()!)];

    private static int Total(JsonElement page) => page.GetProperty("pagination").GetProperty("total_count").GetInt32();

    [Fact]
    public async Task Repeated_metadata_values_match_events_holding_any_of_them()
    {
        await _client.IngestAsync("""
            [{"name":"api_usage","external_customer_id":"u-1","metadata":{"grant_id":"g-a","units":-1}},
             {"name":"api_usage","external_customer_id":"u-1","metadata":{"grant_id":"g-b","units":-2}},
             {"name":"api_usage","external_customer_id":"u-1","metadata":{"grant_id":"g-c","units":-3}}]
            """);

        var page = await ListAsync("metadata%5Bgrant_id%5D=g-a&metadata[grant_id]=g-c&metadata[grant_id]=g-missing&sorting=timestamp");

        Assert.Equal(["g-a", "g-c"], GrantIds(page));
        Assert.Equal(2, Total(page));
    }

    [Fact]
    public async Task Two_metadata_keys_must_both_match()
    {
        await _client.IngestAsync("""
            [{"name":"api_usage","external_customer_id":"u-1","metadata":{"grant_id":"g-1","grant_source":"cli"}},
             {"name":"api_usage","external_customer_id":"u-1","metadata":{"grant_id":"g-2","grant_source":"http"}}]
            """);

        var page = await ListAsync("metadata[grant_id]=g-1&metadata[grant_id]=g-2&metadata[grant_source]=http");

        Assert.Equal(["g-2"], GrantIds(page));
    }

    [Fact]
    public async Task Metadata_numbers_and_booleans_match_by_their_JSON_text()
    {
        await _client.IngestAsync("""[{"name":"n","external_customer_id":"u-1","metadata":{"grant_id":"g-n","tier":2,"beta":true}}]""");

        Assert.Equal(["g-n"], GrantIds(await ListAsync("metadata[tier]=2&metadata[beta]=true")));
        Assert.Empty(GrantIds(await ListAsync("metadata[tier]=3")));
    }

    [Fact]
    public async Task Pages_cover_every_match_once_with_total_count_and_max_page()
    {
        var events = string.Join(",", Enumerable.Range(1, 5).Select(i =>
            $$"""{"name":"paged","external_customer_id":"u-1","timestamp":"2026-04-0{{i}}T00:00:00Z","metadata":{"grant_id":"p-{{i}}"} }"""));
        await _client.IngestAsync($"[{events}]");

        var pages = new List<JsonElement>();
        for (var page = 1; page <= 3; page++)
        {
            pages.Add(await ListAsync($"name=paged&limit=2&page={page}&sorting=timestamp"));
        }

        Assert.Equal(["p-1", "p-2", "p-3", "p-4", "p-5"], pages.SelectMany(GrantIds));
        Assert.All(pages, p => Assert.Equal(5, Total(p)));
        Assert.All(pages, p => Assert.Equal(3, p.GetProperty("pagination").GetProperty("max_page").GetInt32()));
        Assert.Empty(GrantIds(await ListAsync("name=paged&limit=2&page=4")));
    }

    [Fact]
    public async Task Default_sorting_is_newest_first_and_limit_is_capped_at_100()
    {
        var events = string.Join(",", Enumerable.Range(0, 120).Select(i =>
            $$"""{"name":"many","external_customer_id":"u-1","timestamp":"{{Now.AddMinutes(-120 + i):O}}","metadata":{"grant_id":"m-{{i}}"} }"""));
        await _client.IngestAsync($"[{events}]");

        var page = await ListAsync("name=many&limit=500");

        var ids = GrantIds(page);
        Assert.Equal(100, ids.Count);
        Assert.Equal("m-119", ids[0]);
        Assert.Equal(120, Total(page));
    }

    [Fact]
    public async Task Customer_filters_match_an_event_sent_by_external_id_once_its_customer_exists()
    {
        var customer = await _client.CreateCustomerAsync(externalId: "u-42");
        await _client.IngestAsync($$"""
            [{"name":"api_usage","external_customer_id":"u-42","metadata":{"grant_id":"by-external"} },
             {"name":"api_usage","customer_id":"{{customer.Id()}}","metadata":{"grant_id":"by-id"} },
             {"name":"api_usage","external_customer_id":"someone-else","metadata":{"grant_id":"other"} }]
            """);

        var byCustomerId = await ListAsync($"customer_id={customer.Id()}&source=user&sorting=timestamp");
        var byExternalId = await ListAsync("external_customer_id=u-42&source=user&sorting=timestamp");

        Assert.Equal(["by-external", "by-id"], GrantIds(byCustomerId));
        Assert.Equal(["by-external", "by-id"], GrantIds(byExternalId));
        var first = byCustomerId.GetProperty("items")[0];
        Assert.Equal(customer.Id(), first.GetProperty("customer").Id());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("customer_id").ValueKind);
        Assert.Equal("u-42", first.GetProperty("external_customer_id").GetString());
        Assert.Equal("user", first.GetProperty("source").GetString());
    }

    [Fact]
    public async Task Name_source_time_and_query_filters_narrow_the_list()
    {
        await _client.IngestAsync("""
            [{"name":"api_usage","external_customer_id":"u-1","timestamp":"2026-04-01T00:00:00Z","metadata":{"grant_id":"early"}},
             {"name":"api_usage","external_customer_id":"u-1","timestamp":"2026-04-10T00:00:00Z","metadata":{"grant_id":"late"}},
             {"name":"storage_usage","external_customer_id":"u-1","timestamp":"2026-04-10T00:00:00Z","metadata":{"grant_id":"storage"}}]
            """);

        Assert.Equal(["late"], GrantIds(await ListAsync("name=api_usage&start_timestamp=2026-04-05T00:00:00Z")));
        Assert.Equal(["early"], GrantIds(await ListAsync("name=api_usage&end_timestamp=2026-04-05T00:00:00%2B00:00")));
        Assert.Equal(["storage"], GrantIds(await ListAsync($"query=STORAGE&organization_id={_server.OrganizationId}")));
        Assert.Equal(3, Total(await ListAsync("source=user")));
        Assert.Equal(0, Total(await ListAsync("source=system")));
    }

    [Fact]
    public async Task Meter_id_and_filter_keep_the_events_a_meter_filter_matches()
    {
        using var meters = await _client.GetAsync("v1/meters/?query=API%20Calls");
        var meterId = Assert.Single((await meters.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray()).Id();
        await _client.IngestAsync("""
            [{"name":"api_usage","external_customer_id":"u-1","metadata":{"grant_id":"counted","units":-5}},
             {"name":"other","external_customer_id":"u-1","metadata":{"grant_id":"not-counted","units":-5}}]
            """);
        var filter = Uri.EscapeDataString("""{"conjunction":"and","clauses":[{"property":"name","operator":"eq","value":"other"}]}""");

        Assert.Equal(["counted"], GrantIds(await ListAsync($"meter_id={meterId}")));
        Assert.Equal(["not-counted"], GrantIds(await ListAsync($"filter={filter}")));
    }

    [Fact]
    public async Task Unknown_meter_id_is_422_on_query_meter_id()
    {
        using var response = await _client.GetAsync($"v1/events/?meter_id={Guid.NewGuid()}");

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("""["query","meter_id"]""", body.GetProperty("detail")[0].GetProperty("loc").GetRawText());
    }

    [Fact]
    public async Task Query_without_organization_id_is_422()
    {
        using var response = await _client.GetAsync("v1/events/?query=api");

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("""["query","organization_id"]""", body.GetProperty("detail")[0].GetProperty("loc").GetRawText());
    }

    [Fact]
    public async Task Depth_and_parent_id_follow_parent_links()
    {
        await _client.IngestAsync("""
            [{"name":"root","external_customer_id":"u-1","external_id":"e-root","metadata":{"grant_id":"root"}},
             {"name":"child","external_customer_id":"u-1","external_id":"e-child","parent_id":"e-root","metadata":{"grant_id":"child"}},
             {"name":"grandchild","external_customer_id":"u-1","parent_id":"e-child","metadata":{"grant_id":"grandchild"}}]
            """);

        var all = await ListAsync("sorting=timestamp");
        var root = all.GetProperty("items")[0];

        Assert.Equal(["root"], GrantIds(await ListAsync("depth=0")));
        Assert.Equal(["root", "child"], GrantIds(await ListAsync("depth=1&sorting=timestamp")));
        Assert.Equal(["child"], GrantIds(await ListAsync($"parent_id={root.Id()}")));
        Assert.Equal(1, root.GetProperty("child_count").GetInt32());
        Assert.Equal(root.Id(), all.GetProperty("items")[1].GetProperty("parent_id").GetString());
    }

    [Fact]
    public async Task Event_ids_are_stable_between_reads()
    {
        await _client.IngestAsync("""[{"name":"api_usage","external_customer_id":"u-1","metadata":{"grant_id":"stable"}}]""");

        var first = (await ListAsync("metadata[grant_id]=stable")).GetProperty("items")[0].Id();
        var second = (await ListAsync("metadata[grant_id]=stable")).GetProperty("items")[0].Id();

        Assert.Equal(first, second);
        Assert.Equal(4, Guid.Parse(first).Version);
    }

    [Fact]
    public async Task One_event_is_read_by_its_id_and_an_unknown_id_is_404()
    {
        await _client.IngestAsync("""[{"name":"api_usage","external_customer_id":"u-1","metadata":{"grant_id":"by-id"}}]""");
        var listed = (await ListAsync("metadata[grant_id]=by-id")).GetProperty("items")[0];

        using var read = await _client.GetAsync($"v1/events/{listed.Id()}");
        using var unknown = await _client.GetAsync($"v1/events/{Guid.NewGuid()}");
        using var notUuid = await _client.GetAsync("v1/events/ingest");

        var body = await read.ExpectAsync(HttpStatusCode.OK);
        PolarSchema.AssertValid("UserEvent", body);
        Assert.Equal(listed.GetRawText(), body.GetRawText());
        PolarSchema.AssertValid("ResourceNotFound", await unknown.ExpectAsync(HttpStatusCode.NotFound));
        await notUuid.ExpectAsync(HttpStatusCode.UnprocessableEntity);
    }

    [Theory]
    [InlineData("source=robot", "source")]
    [InlineData("customer_id=not-a-uuid", "customer_id")]
    [InlineData("meter_id=not-a-uuid", "meter_id")]
    [InlineData("depth=6", "depth")]
    [InlineData("limit=0", "limit")]
    [InlineData("sorting=name", "sorting")]
    [InlineData("start_timestamp=yesterday", "start_timestamp")]
    [InlineData("filter=%7Bnot-json", "filter")]
    public async Task Refused_parameters_are_422s_naming_them(string query, string parameter)
    {
        using var response = await _client.GetAsync("v1/events/?" + query);

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        PolarSchema.AssertValid("HTTPValidationError", body);
        var location = body.GetProperty("detail")[0].GetProperty("loc");
        Assert.Equal("query", location[0].GetString());
        Assert.Equal(parameter, location[1].GetString());
    }

    [Theory]
    [InlineData("events:read")]
    [InlineData("events:write")]
    public async Task Either_events_scope_may_list(string scope)
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { Scopes = [scope] });
        using var client = EmulatorFixture.ClientFor(server);

        using var response = await client.GetAsync("v1/events/");

        await response.ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Read_scope_alone_may_not_ingest_and_other_scopes_may_not_list()
    {
        await using var reader = await PolarEmulatorServer.StartAsync(new EmulatorOptions { Scopes = ["events:read"] });
        await using var other = await PolarEmulatorServer.StartAsync(new EmulatorOptions { Scopes = ["customers:read", "meters:read"] });
        using var readerClient = EmulatorFixture.ClientFor(reader);
        using var otherClient = EmulatorFixture.ClientFor(other);

        using var ingest = await readerClient.PostJsonAsync("v1/events/ingest", """{"events":[]}""");
        using var list = await otherClient.GetAsync("v1/events/");

        Assert.Equal(HttpStatusCode.Forbidden, ingest.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);
    }
}
