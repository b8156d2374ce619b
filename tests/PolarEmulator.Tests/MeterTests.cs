using System.Net;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>Meters: validation, aggregations, filters, balances and when a definition freezes.</summary>
public sealed class MeterTests(EmulatorFixture emulator) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _client = emulator.Client;

    /// <summary>Creates a meter over a fresh event name, a customer, ingests the metadata objects, and returns consumed units.</summary>
    private async Task<double> ConsumedAsync(string aggregation, params string[] metadata)
    {
        var eventName = PolarHttp.UniqueId("event");
        var meter = await _client.CreateMeterForEventAsync(eventName, aggregation);
        var customer = await _client.CreateCustomerAsync();
        await _client.IngestAsync("[" + string.Join(',', metadata.Select(m => $$"""{"name":"{{eventName}}","customer_id":"{{customer.Id()}}","metadata":{{m}} }""")) + "]");
        return (await _client.CustomerMeterAsync(customer.Id(), meter.Id())).GetProperty("consumed_units").GetDouble();
    }

    [Fact]
    public async Task Count_counts_matching_events_whatever_their_values()
    {
        Assert.Equal(3, await ConsumedAsync("""{"func":"count"}""", """{"units":-10}""", """{"units":3}""", "{}"));
    }

    [Fact]
    public async Task Sum_adds_only_json_numbers()
    {
        Assert.Equal(7.5, await ConsumedAsync("""{"func":"sum","property":"units"}""", """{"units":5}""", """{"units":2.5}""", """{"units":"100"}""", """{"other":1}"""));
    }

    [Fact]
    public async Task Sum_reads_a_metadata_prefixed_property()
    {
        Assert.Equal(4, await ConsumedAsync("""{"func":"sum","property":"metadata.units"}""", """{"units":1}""", """{"units":3}"""));
    }

    [Fact]
    public async Task Max_is_the_largest_number()
    {
        Assert.Equal(9, await ConsumedAsync("""{"func":"max","property":"units"}""", """{"units":-4}""", """{"units":9}""", """{"units":2}"""));
    }

    [Fact]
    public async Task Min_is_the_smallest_number()
    {
        Assert.Equal(-4, await ConsumedAsync("""{"func":"min","property":"units"}""", """{"units":-4}""", """{"units":9}"""));
    }

    [Fact]
    public async Task Avg_is_the_mean_of_the_numbers()
    {
        Assert.Equal(4, await ConsumedAsync("""{"func":"avg","property":"units"}""", """{"units":2}""", """{"units":6}""", """{"units":"x"}"""));
    }

    [Fact]
    public async Task Unique_counts_distinct_values()
    {
        Assert.Equal(2, await ConsumedAsync("""{"func":"unique","property":"user"}""", """{"user":"a"}""", """{"user":"b"}""", """{"user":"a"}"""));
    }

    [Fact]
    public async Task Grant_then_usage_leaves_the_difference_as_balance()
    {
        var eventName = PolarHttp.UniqueId("event");
        var meter = await _client.CreateMeterForEventAsync(eventName, """{"func":"sum","property":"units"}""");
        var customer = await _client.CreateCustomerAsync();

        await _client.IngestAsync($$"""[{"name":"{{eventName}}","customer_id":"{{customer.Id()}}","metadata":{"units":-10} }]""");
        await _client.IngestAsync($$"""[{"name":"{{eventName}}","customer_id":"{{customer.Id()}}","metadata":{"units":3} }]""");

        var balance = await _client.CustomerMeterAsync(customer.Id(), meter.Id());
        Assert.Equal(-7, balance.GetProperty("consumed_units").GetDouble());
        Assert.Equal(0, balance.GetProperty("credited_units").GetInt64());
        Assert.Equal(7, balance.GetProperty("balance").GetDouble());
    }

    [Fact]
    public async Task Negative_grants_alone_give_a_balance_of_minus_their_sum()
    {
        Assert.Equal(-35, await ConsumedAsync("""{"func":"sum","property":"units"}""", """{"units":-10}""", """{"units":-25}"""));
    }

    [Fact]
    public async Task And_filter_needs_every_clause()
    {
        var filter = """{"conjunction":"and","clauses":[{"property":"name","operator":"eq","value":"tagged"},{"property":"tier","operator":"gte","value":2}]}""";
        var meter = await _client.CreateMeterAsync(filter, """{"func":"count"}""");
        var customer = await _client.CreateCustomerAsync();

        await _client.IngestAsync($$"""[{"name":"tagged","customer_id":"{{customer.Id()}}","metadata":{"tier":3} },{"name":"tagged","customer_id":"{{customer.Id()}}","metadata":{"tier":1} },{"name":"other","customer_id":"{{customer.Id()}}","metadata":{"tier":5} }]""");

        Assert.Equal(1, (await _client.CustomerMeterAsync(customer.Id(), meter.Id())).GetProperty("consumed_units").GetDouble());
    }

    [Fact]
    public async Task Or_filter_needs_any_clause_and_nests()
    {
        var filter = """{"conjunction":"or","clauses":[{"property":"name","operator":"eq","value":"first"},{"conjunction":"and","clauses":[{"property":"name","operator":"like","value":"sec"},{"property":"beta","operator":"eq","value":true}]}]}""";
        var meter = await _client.CreateMeterAsync(filter, """{"func":"count"}""");
        var customer = await _client.CreateCustomerAsync();

        await _client.IngestAsync($$"""[{"name":"first","customer_id":"{{customer.Id()}}"},{"name":"second","customer_id":"{{customer.Id()}}","metadata":{"beta":true} },{"name":"second","customer_id":"{{customer.Id()}}","metadata":{"beta":"true"} }]""");

        Assert.Equal(2, (await _client.CustomerMeterAsync(customer.Id(), meter.Id())).GetProperty("consumed_units").GetDouble());
    }

    [Fact]
    public async Task Empty_clause_list_matches_every_event()
    {
        var meter = await _client.CreateMeterAsync("""{"conjunction":"and","clauses":[]}""", """{"func":"count"}""");
        var customer = await _client.CreateCustomerAsync();

        await _client.IngestAsync($$"""[{"name":"{{PolarHttp.UniqueId()}}","customer_id":"{{customer.Id()}}"}]""");

        Assert.Equal(1, (await _client.CustomerMeterAsync(customer.Id(), meter.Id())).GetProperty("consumed_units").GetDouble());
    }

    [Fact]
    public async Task Meter_created_after_events_counts_them()
    {
        var eventName = PolarHttp.UniqueId("event");
        var customer = await _client.CreateCustomerAsync();
        await _client.IngestAsync($$"""[{"name":"{{eventName}}","customer_id":"{{customer.Id()}}","metadata":{"units":-4} }]""");

        var meter = await _client.CreateMeterForEventAsync(eventName, """{"func":"sum","property":"units"}""");

        Assert.Equal(4, (await _client.CustomerMeterAsync(customer.Id(), meter.Id())).GetProperty("balance").GetDouble());
    }

    [Fact]
    public async Task Customer_without_matching_events_has_no_customer_meter()
    {
        var meter = await _client.CreateMeterForEventAsync(PolarHttp.UniqueId("event"), """{"func":"count"}""");
        var customer = await _client.CreateCustomerAsync();

        using var response = await _client.GetAsync($"v1/customer-meters/?customer_id={customer.Id()}&meter_id={meter.Id()}");

        Assert.Empty((await response.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray());
    }

    [Theory]
    [InlineData("""{"name":"ab","filter":{"conjunction":"and","clauses":[]},"aggregation":{"func":"count"} }""", """["body","name"]""")]
    [InlineData("""{"name":"abc","filter":{"conjunction":"xor","clauses":[]},"aggregation":{"func":"count"} }""", """["body","filter","conjunction"]""")]
    [InlineData("""{"name":"abc","filter":{"conjunction":"and","clauses":[{"property":"units","operator":"eq","value":1.5}]},"aggregation":{"func":"count"} }""", """["body","filter","clauses",0,"value","str"]""")]
    [InlineData("""{"name":"abc","filter":{"conjunction":"and","clauses":[{"property":"units","operator":"eq","value":3000000000}]},"aggregation":{"func":"count"} }""", """["body","filter","clauses",0,"value","str"]""")]
    [InlineData("""{"name":"abc","filter":{"conjunction":"and","clauses":[{"property":"units","operator":"is","value":1}]},"aggregation":{"func":"count"} }""", """["body","filter","clauses",0,"operator"]""")]
    [InlineData("""{"name":"abc","filter":{"conjunction":"and","clauses":[]},"aggregation":{"func":"sum"} }""", """["body","aggregation","sum","property"]""")]
    [InlineData("""{"name":"abc","filter":{"conjunction":"and","clauses":[]},"aggregation":{"func":"median","property":"x"} }""", """["body","aggregation"]""")]
    public async Task Invalid_meter_is_422_at_the_field(string body, string expectedLoc)
    {
        using var response = await _client.PostJsonAsync("v1/meters/", body);

        var refusal = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal(expectedLoc, refusal.GetProperty("detail")[0].GetProperty("loc").GetRawText());
    }

    [Fact]
    public async Task Meter_with_organization_id_is_422_organization_token()
    {
        using var response = await _client.PostJsonAsync("v1/meters/", $$"""{"name":"abc","filter":{"conjunction":"and","clauses":[]},"aggregation":{"func":"count"},"organization_id":"{{emulator.Server.OrganizationId}}"}""");

        var refusal = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("organization_token", refusal.GetProperty("detail")[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task Meter_names_need_not_be_unique()
    {
        var name = PolarHttp.UniqueId("twin");
        await _client.CreateMeterAsync("""{"conjunction":"and","clauses":[]}""", """{"func":"count"}""", name);
        await _client.CreateMeterAsync("""{"conjunction":"and","clauses":[]}""", """{"func":"count"}""", name);

        using var response = await _client.GetAsync($"v1/meters/?query={name.ToUpperInvariant()}");

        Assert.Equal(2, (await response.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Filter_of_a_meter_without_events_can_change()
    {
        var meter = await _client.CreateMeterForEventAsync(PolarHttp.UniqueId("event"), """{"func":"count"}""");

        using var response = await _client.PatchJsonAsync($"v1/meters/{meter.Id()}", """{"aggregation":{"func":"sum","property":"units"} }""");

        Assert.Equal("sum", (await response.ExpectAsync(HttpStatusCode.OK)).GetProperty("aggregation").GetProperty("func").GetString());
    }

    [Fact]
    public async Task Filter_of_a_meter_with_events_is_422_forbidden()
    {
        var eventName = PolarHttp.UniqueId("event");
        var meter = await _client.CreateMeterForEventAsync(eventName, """{"func":"count"}""");
        await _client.IngestAsync($$"""[{"name":"{{eventName}}","external_customer_id":"someone"}]""");

        using var response = await _client.PatchJsonAsync($"v1/meters/{meter.Id()}", """{"filter":{"conjunction":"and","clauses":[]} }""");

        var refusal = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("forbidden", refusal.GetProperty("detail")[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task Archived_meter_is_listed_only_when_asked()
    {
        var name = PolarHttp.UniqueId("archived");
        var meter = await _client.CreateMeterAsync("""{"conjunction":"and","clauses":[]}""", """{"func":"count"}""", name);

        using var archive = await _client.PatchJsonAsync($"v1/meters/{meter.Id()}", """{"is_archived":true,"name":"renamed"}""");
        var archived = await archive.ExpectAsync(HttpStatusCode.OK);
        using var active = await _client.GetAsync("v1/meters/?query=renamed&is_archived=false");
        using var all = await _client.GetAsync("v1/meters/?query=renamed&is_archived=true");

        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, archived.GetProperty("archived_at").ValueKind);
        Assert.DoesNotContain((await active.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray(), m => m.Id() == meter.Id());
        Assert.Contains((await all.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray(), m => m.Id() == meter.Id());
    }

    [Fact]
    public async Task Customer_meter_id_is_stable_for_the_pair()
    {
        var eventName = PolarHttp.UniqueId("event");
        var meter = await _client.CreateMeterForEventAsync(eventName, """{"func":"count"}""");
        var customer = await _client.CreateCustomerAsync();
        await _client.IngestAsync($$"""[{"name":"{{eventName}}","customer_id":"{{customer.Id()}}"}]""");
        var first = (await _client.CustomerMeterAsync(customer.Id(), meter.Id())).Id();

        await _client.IngestAsync($$"""[{"name":"{{eventName}}","customer_id":"{{customer.Id()}}"}]""");

        Assert.Equal(first, (await _client.CustomerMeterAsync(customer.Id(), meter.Id())).Id());
    }

    [Fact]
    public async Task Customer_meters_filter_by_external_customer_id()
    {
        var externalId = PolarHttp.UniqueId();
        var customer = await _client.CreateCustomerAsync(externalId: externalId);
        await _client.IngestAsync($$"""[{"name":"api_usage","customer_id":"{{customer.Id()}}","metadata":{"units":1} }]""");

        using var response = await _client.GetAsync($"v1/customer-meters/?external_customer_id={externalId}");

        var items = (await response.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray().ToList();
        Assert.NotEmpty(items);
        Assert.All(items, item => Assert.Equal(customer.Id(), item.GetProperty("customer_id").GetString()));
    }
}
