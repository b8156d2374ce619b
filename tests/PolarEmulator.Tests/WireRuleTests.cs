using System.Net;
using System.Text;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>The wire rules that bite: lengths, sizes, slashes, path ids, versions and unknown routes.</summary>
public sealed class WireRuleTests(EmulatorFixture emulator) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _client = emulator.Client;

    [Fact]
    public async Task Chunked_post_without_content_length_is_411_LengthRequired()
    {
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("""{"events":[]}""")));
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/events/ingest") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await _client.SendAsync(request);

        var body = await response.ExpectAsync(HttpStatusCode.LengthRequired);
        Assert.Equal("LengthRequired", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Body_over_ten_mebibytes_is_413_RequestBodyTooLarge()
    {
        var padding = new string(' ', 10 * 1024 * 1024);
        using var content = PolarHttp.Json("""{"events":[]}""" + padding);

        using var response = await _client.PostAsync("v1/events/ingest", content);

        var body = await response.ExpectAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("RequestBodyTooLarge", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Body_of_exactly_ten_mebibytes_is_accepted()
    {
        var json = """{"events":[]}""";
        using var content = PolarHttp.Json(json + new string(' ', (10 * 1024 * 1024) - json.Length));

        using var response = await _client.PostAsync("v1/events/ingest", content);

        await response.ExpectAsync(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("v1/customers")]
    [InlineData("v1/meters")]
    [InlineData("v1/customer-meters")]
    public async Task Collection_route_without_trailing_slash_is_307_to_the_slashed_path(string path)
    {
        using var response = await _client.GetAsync(path + "?limit=1");

        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.Equal(new Uri(emulator.Server.BaseAddress, path + "/?limit=1"), response.Headers.Location);
    }

    [Fact]
    public async Task Unknown_route_is_404_with_bare_detail()
    {
        using var response = await _client.GetAsync("v1/no-such-resource/");

        var body = await response.ExpectAsync(HttpStatusCode.NotFound);
        Assert.Equal("""{"detail":"Not Found"}""", body.GetRawText());
    }

    [Theory]
    [InlineData("v1/customers/not-a-uuid")]
    [InlineData("v1/meters/123")]
    [InlineData("v1/customer-meters/6ba7b810-9dad-11d1-80b4-00c04fd430c8")]
    public async Task Path_id_that_is_not_a_uuid4_is_422_on_path_id(string path)
    {
        using var response = await _client.GetAsync(path);

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("RequestValidationError", body.GetProperty("error").GetString());
        var issue = Assert.Single(body.GetProperty("detail").EnumerateArray());
        Assert.Equal("""["path","id"]""", issue.GetProperty("loc").GetRawText());
    }

    [Fact]
    public async Task Unknown_polar_version_is_404()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/meters/");
        request.Headers.Add("Polar-Version", "2024-01");

        using var response = await _client.SendAsync(request);

        await response.ExpectAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("2026-04")]
    [InlineData("2026-10")]
    [InlineData("2027-01")]
    public async Task Every_version_the_sdk_ships_is_served_and_echoed(string version)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/meters/");
        request.Headers.Add("Polar-Version", version);

        using var response = await _client.SendAsync(request);

        await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(version, Assert.Single(response.Headers.GetValues("Polar-Version")));
    }

    [Fact]
    public async Task Request_without_a_version_is_answered_with_the_default_version()
    {
        using var response = await _client.GetAsync("v1/meters/");

        Assert.Equal("2026-04", Assert.Single(response.Headers.GetValues("Polar-Version")));
    }

    [Theory]
    [InlineData("GET", "v1/customers/export")]
    [InlineData("GET", "v1/subscriptions/")]
    [InlineData("POST", "v1/webhooks/events/6ba7b810-9dad-41d1-80b4-00c04fd430c8/redeliver")]
    public async Task Polar_operation_the_emulator_does_not_serve_is_501_not_a_missing_resource(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? PolarHttp.Json("{}") : null };

        using var response = await _client.SendAsync(request);

        var body = await response.ExpectAsync(HttpStatusCode.NotImplemented);
        Assert.Equal("NotImplemented", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Malformed_json_is_422_json_invalid()
    {
        using var response = await _client.PostJsonAsync("v1/events/ingest", """{"events":[""");

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("json_invalid", body.GetProperty("detail")[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task Request_count_includes_refused_requests()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions());
        using var client = EmulatorFixture.ClientFor(server, "wrong");

        (await client.GetAsync("v1/meters/")).Dispose();
        (await client.GetAsync("nowhere")).Dispose();

        Assert.Equal(2, server.RequestCount);
    }

    [Fact]
    public async Task Server_listens_on_loopback_with_a_trailing_slash_base_address()
    {
        Assert.Equal("127.0.0.1", emulator.Server.BaseAddress.Host);
        Assert.EndsWith("/", emulator.Server.BaseAddress.AbsoluteUri, StringComparison.Ordinal);
        Assert.NotEqual(0, emulator.Server.BaseAddress.Port);
        await Task.CompletedTask;
    }
}
