using System.Net;
using Microsoft.Extensions.Time.Testing;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>Event ingestion: validation all or nothing, deduplication, and events sent before their customer.</summary>
public sealed class EventTests : IAsyncLifetime
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

    private async Task<string> SeedMeterIdAsync()
    {
        using var response = await _client.GetAsync("v1/meters/?query=API%20Calls");
        return Assert.Single((await response.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray()).Id();
    }

    private async Task<double> BalanceAsync(string customerId) =>
        (await _client.CustomerMeterAsync(customerId, await SeedMeterIdAsync())).GetProperty("balance").GetDouble();

    private async Task<int> CustomerMeterCountAsync(string customerId)
    {
        using var response = await _client.GetAsync($"v1/customer-meters/?customer_id={customerId}");
        return (await response.ExpectAsync(HttpStatusCode.OK)).GetProperty("pagination").GetProperty("total_count").GetInt32();
    }

    private async Task<System.Text.Json.JsonElement> RefusedAsync(string events)
    {
        using var response = await _client.PostJsonAsync("v1/events/ingest", $$"""{"events":{{events}} }""");
        return await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
    }

    [Fact]
    public async Task Empty_event_list_is_valid()
    {
        var result = await _client.IngestAsync("[]");

        Assert.Equal("""{"inserted":0,"duplicates":0}""", result.GetRawText());
    }

    [Fact]
    public async Task Ingest_with_one_future_timestamp_inserts_nothing()
    {
        var customer = await _client.CreateCustomerAsync();
        var future = Now.AddSeconds(1).ToString("O");

        var body = await RefusedAsync($$"""[{"name":"api_usage","customer_id":"{{customer.Id()}}","metadata":{"units":1} },{"name":"api_usage","customer_id":"{{customer.Id()}}","timestamp":"{{future}}","metadata":{"units":1} }]""");

        var issue = Assert.Single(body.GetProperty("detail").EnumerateArray());
        Assert.Equal("""["body","events",1,"timestamp"]""", issue.GetProperty("loc").GetRawText());
        Assert.Equal(0, await CustomerMeterCountAsync(customer.Id()));
    }

    [Fact]
    public async Task Timestamp_equal_to_now_and_any_past_time_are_accepted()
    {
        var customer = await _client.CreateCustomerAsync();

        var result = await _client.IngestAsync($$"""[{"name":"x","customer_id":"{{customer.Id()}}","timestamp":"{{Now:O}}"},{"name":"x","customer_id":"{{customer.Id()}}","timestamp":"1999-01-01T00:00:00+02:00"}]""");

        Assert.Equal(2, result.GetProperty("inserted").GetInt32());
    }

    [Fact]
    public async Task Timestamp_without_time_zone_is_422_timezone_aware()
    {
        var customer = await _client.CreateCustomerAsync();

        var body = await RefusedAsync($$"""[{"name":"x","customer_id":"{{customer.Id()}}","timestamp":"2026-01-01T00:00:00"}]""");

        Assert.Equal("timezone_aware", body.GetProperty("detail")[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task Ingest_with_one_unknown_customer_id_inserts_nothing()
    {
        var customer = await _client.CreateCustomerAsync();

        var body = await RefusedAsync($$"""[{"name":"api_usage","customer_id":"{{customer.Id()}}","metadata":{"units":1} },{"name":"api_usage","customer_id":"{{Guid.NewGuid()}}"}]""");

        Assert.Equal("PolarRequestValidationError", body.GetProperty("error").GetString());
        var issue = Assert.Single(body.GetProperty("detail").EnumerateArray());
        Assert.Equal("""["body","events",1,"customer_id"]""", issue.GetProperty("loc").GetRawText());
        Assert.Equal(0, await CustomerMeterCountAsync(customer.Id()));
    }

    [Fact]
    public async Task Event_with_organization_id_is_422_organization_token()
    {
        var body = await RefusedAsync($$"""[{"name":"x","external_customer_id":"c","organization_id":"{{_server.OrganizationId}}"}]""");

        var issue = Assert.Single(body.GetProperty("detail").EnumerateArray());
        Assert.Equal(("organization_token", """["body","events",0,"organization_id"]"""), (issue.GetProperty("type").GetString(), issue.GetProperty("loc").GetRawText()));
    }

    [Theory]
    [InlineData("""{"external_customer_id":"c"}""", """["body","events",0,"name"]""")]
    [InlineData("""{"name":"x"}""", """["body","events",0,"customer_id"]""")]
    [InlineData("""{"name":"x","customer_id":"not-a-uuid"}""", """["body","events",0,"customer_id"]""")]
    [InlineData("""{"name":"x","external_customer_id":"c","metadata":{"units":""} }""", """["body","events",0,"metadata","units"]""")]
    [InlineData("""{"name":"x","external_customer_id":"c","metadata":{"nested":{"a":1} } }""", """["body","events",0,"metadata","nested","str"]""")]
    [InlineData("""{"name":"x","external_customer_id":"c\u0000"}""", """["body","events",0,"external_customer_id"]""")]
    [InlineData("""{"name":"x","external_customer_id":"c","metadata":{"note":"a\u0000b"} }""", """["body","events",0,"metadata","note"]""")]
    public async Task Invalid_event_is_422_at_its_index_and_field(string invalidEvent, string expectedLoc)
    {
        var body = await RefusedAsync($"[{invalidEvent}]");

        Assert.Equal("RequestValidationError", body.GetProperty("error").GetString());
        Assert.Equal(expectedLoc, body.GetProperty("detail")[0].GetProperty("loc").GetRawText());
    }

    [Fact]
    public async Task Name_over_128_characters_is_422()
    {
        var body = await RefusedAsync($$"""[{"name":"{{new string('n', 129)}}","external_customer_id":"c"}]""");

        Assert.Equal("string_too_long", body.GetProperty("detail")[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task Metadata_with_more_than_50_keys_is_422()
    {
        var metadata = string.Join(',', Enumerable.Range(0, 51).Select(i => $"\"k{i}\":{i}"));

        var body = await RefusedAsync($$"""[{"name":"x","external_customer_id":"c","metadata":{ {{metadata}} } }]""");

        Assert.Equal("""["body","events",0,"metadata"]""", body.GetProperty("detail")[0].GetProperty("loc").GetRawText());
    }

    [Fact]
    public async Task Reserved_cost_and_llm_metadata_objects_are_accepted()
    {
        var result = await _client.IngestAsync("""[{"name":"llm","external_customer_id":"c","metadata":{"_cost":{"amount":12,"currency":"usd"},"_llm":{"vendor":"v","model":"m","input_tokens":1,"output_tokens":2,"total_tokens":3} } }]""");

        Assert.Equal(1, result.GetProperty("inserted").GetInt32());
    }

    [Fact]
    public async Task Event_with_both_customer_id_and_external_customer_id_is_a_customer_id_event()
    {
        var customer = await _client.CreateCustomerAsync();

        await _client.IngestAsync($$"""[{"name":"api_usage","customer_id":"{{customer.Id()}}","external_customer_id":"someone-else","metadata":{"units":-4} }]""");

        Assert.Equal(4, await BalanceAsync(customer.Id()));
    }

    [Fact]
    public async Task Event_with_both_customer_ids_is_422_with_strict_event_references()
    {
        await using var strict = await PolarEmulatorServer.StartAsync(new EmulatorOptions { StrictEventReferences = true, TimeProvider = _time });
        using var client = EmulatorFixture.ClientFor(strict);
        var customer = await client.CreateCustomerAsync();

        using var response = await client.PostJsonAsync("v1/events/ingest",
            $$"""{"events":[{"name":"x","customer_id":"{{customer.Id()}}","external_customer_id":"c"}]}""");

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("""["body","events",0]""", body.GetProperty("detail")[0].GetProperty("loc").GetRawText());
    }

    [Fact]
    public async Task Repeated_external_id_is_counted_as_duplicate_and_not_inserted_again()
    {
        var customer = await _client.CreateCustomerAsync();
        var grant = PolarHttp.UniqueId("grant");
        var events = $$"""[{"name":"api_usage","customer_id":"{{customer.Id()}}","external_id":"{{grant}}","metadata":{"units":-10} }]""";

        var first = await _client.IngestAsync(events);
        var second = await _client.IngestAsync(events);

        Assert.Equal("""{"inserted":1,"duplicates":0}""", first.GetRawText());
        Assert.Equal("""{"inserted":0,"duplicates":1}""", second.GetRawText());
        Assert.Equal(10, await BalanceAsync(customer.Id()));
    }

    [Fact]
    public async Task External_id_repeated_within_one_request_is_inserted_once()
    {
        var customer = await _client.CreateCustomerAsync();
        var grant = PolarHttp.UniqueId("grant");
        var one = $$"""{"name":"api_usage","customer_id":"{{customer.Id()}}","external_id":"{{grant}}","metadata":{"units":-10} }""";

        var result = await _client.IngestAsync($"[{one},{one}]");

        Assert.Equal("""{"inserted":1,"duplicates":1}""", result.GetRawText());
        Assert.Equal(10, await BalanceAsync(customer.Id()));
    }

    [Fact]
    public async Task External_id_is_deduplicated_across_event_names_and_customers()
    {
        var grant = PolarHttp.UniqueId("grant");
        await _client.IngestAsync($$"""[{"name":"a","external_customer_id":"one","external_id":"{{grant}}"}]""");

        var result = await _client.IngestAsync($$"""[{"name":"b","external_customer_id":"two","external_id":"{{grant}}"}]""");

        Assert.Equal(1, result.GetProperty("duplicates").GetInt32());
    }

    [Fact]
    public async Task Events_without_external_id_are_never_deduplicated()
    {
        var customer = await _client.CreateCustomerAsync();
        var usage = $$"""{"name":"api_usage","customer_id":"{{customer.Id()}}","metadata":{"units":2} }""";

        var result = await _client.IngestAsync($"[{usage},{usage}]");

        Assert.Equal(2, result.GetProperty("inserted").GetInt32());
        Assert.Equal(-4, await BalanceAsync(customer.Id()));
    }

    [Fact]
    public async Task Events_for_an_external_customer_id_sent_before_the_customer_count_once_it_exists()
    {
        var externalId = PolarHttp.UniqueId("early");
        await _client.IngestAsync($$"""[{"name":"api_usage","external_customer_id":"{{externalId}}","metadata":{"units":-25} }]""");

        var customer = await _client.CreateCustomerAsync(externalId: externalId);

        Assert.Equal(25, await BalanceAsync(customer.Id()));
    }

    [Fact]
    public async Task Events_for_an_external_customer_id_belong_to_no_one_else()
    {
        var customer = await _client.CreateCustomerAsync(externalId: PolarHttp.UniqueId());
        await _client.IngestAsync($$"""[{"name":"api_usage","external_customer_id":"{{PolarHttp.UniqueId()}}","metadata":{"units":-25} }]""");

        Assert.Equal(0, await CustomerMeterCountAsync(customer.Id()));
    }

    [Fact]
    public async Task Customer_first_user_event_at_is_the_earliest_event_timestamp()
    {
        var customer = await _client.CreateCustomerAsync();
        await _client.IngestAsync($$"""[{"name":"x","customer_id":"{{customer.Id()}}","timestamp":"2026-02-01T00:00:00Z"},{"name":"x","customer_id":"{{customer.Id()}}","timestamp":"2026-01-01T00:00:00Z"}]""");

        using var response = await _client.GetAsync($"v1/customers/{customer.Id()}");

        var read = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), read.GetProperty("first_user_event_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Parent_id_naming_no_event_is_accepted()
    {
        var result = await _client.IngestAsync("""[{"name":"x","external_customer_id":"c","parent_id":"nobody-yet"}]""");

        Assert.Equal(1, result.GetProperty("inserted").GetInt32());
    }

    [Fact]
    public async Task Parent_id_must_name_a_known_event_with_strict_event_references()
    {
        await using var strict = await PolarEmulatorServer.StartAsync(new EmulatorOptions { StrictEventReferences = true, TimeProvider = _time });
        using var client = EmulatorFixture.ClientFor(strict);

        using var response = await client.PostJsonAsync("v1/events/ingest", """{"events":[{"name":"x","external_customer_id":"c","parent_id":"nobody"}]}""");

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("parent_id", body.GetProperty("detail")[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task Parent_id_may_name_an_event_by_its_id()
    {
        var tag = PolarHttp.UniqueId("parent");
        await _client.IngestAsync($$"""[{"name":"root","external_customer_id":"c","metadata":{"tag":"{{tag}}"} }]""");
        using var listed = await _client.GetAsync($"v1/events/?metadata[tag]={tag}");
        var parentId = (await listed.ExpectAsync(HttpStatusCode.OK)).GetProperty("items")[0].Id();

        await _client.IngestAsync($$"""[{"name":"child","external_customer_id":"c","parent_id":"{{parentId}}","metadata":{"tag":"{{tag}}-child"} }]""");

        using var children = await _client.GetAsync($"v1/events/?parent_id={parentId}");
        var child = Assert.Single((await children.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray());
        Assert.Equal(parentId, child.GetProperty("parent_id").GetString());
    }

    [Fact]
    public async Task Timestamps_keep_at_most_six_fractional_digits()
    {
        var customer = await _client.CreateCustomerAsync();
        var tag = PolarHttp.UniqueId("precise");
        await _client.IngestAsync($$"""[{"name":"x","customer_id":"{{customer.Id()}}","timestamp":"2026-01-01T00:00:00.1234567Z","metadata":{"tag":"{{tag}}"} }]""");

        using var listed = await _client.GetAsync($"v1/events/?metadata[tag]={tag}");

        var item = (await listed.ExpectAsync(HttpStatusCode.OK)).GetProperty("items")[0];
        Assert.Equal("2026-01-01T00:00:00.123456Z", item.GetProperty("timestamp").GetString());
    }
}
