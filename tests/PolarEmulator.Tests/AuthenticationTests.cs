using System.Net;
using System.Net.Http.Headers;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>Bearer tokens and scopes: Polar's 401 and 403 shapes.</summary>
public sealed class AuthenticationTests(EmulatorFixture emulator) : IClassFixture<EmulatorFixture>
{
    [Fact]
    public async Task Request_without_authorization_is_401_Unauthorized_with_bearer_challenge()
    {
        using var client = new HttpClient { BaseAddress = emulator.Server.BaseAddress };

        using var response = await client.GetAsync("v1/meters/");

        var body = await response.ExpectAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("""{"error":"Unauthorized","detail":"Unauthorized"}""", body.GetRawText());
        Assert.Equal("Bearer realm=\"polar\"", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Request_with_a_non_bearer_scheme_is_401_Unauthorized()
    {
        using var client = new HttpClient { BaseAddress = emulator.Server.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", emulator.Server.Token);

        using var response = await client.GetAsync("v1/meters/");

        var body = await response.ExpectAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("Unauthorized", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Request_with_a_wrong_token_is_401_invalid_token_without_detail()
    {
        using var client = EmulatorFixture.ClientFor(emulator.Server, "polar_oat_wrong");

        using var response = await client.GetAsync("v1/meters/");

        var body = await response.ExpectAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("invalid_token", body.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("error_description").GetString()));
        Assert.False(body.TryGetProperty("detail", out _));
    }

    [Fact]
    public async Task Generated_token_is_an_organization_token()
    {
        Assert.StartsWith("polar_oat_", emulator.Server.Token, StringComparison.Ordinal);

        using var response = await emulator.Client.GetAsync("v1/meters/");

        await response.ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Token_without_the_scope_a_route_needs_is_403_insufficient_scope()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { Scopes = ["customers:read", "meters:read"] });
        using var client = EmulatorFixture.ClientFor(server);

        using var read = await client.GetAsync("v1/meters/");
        using var write = await client.PostJsonAsync("v1/meters/", """{"name":"abc","filter":{"conjunction":"and","clauses":[]},"aggregation":{"func":"count"} }""");
        using var ingest = await client.PostJsonAsync("v1/events/ingest", """{"events":[]}""");
        using var balances = await client.GetAsync("v1/customer-meters/");

        await read.ExpectAsync(HttpStatusCode.OK);
        foreach (var refused in new[] { write, ingest, balances })
        {
            var body = await refused.ExpectAsync(HttpStatusCode.Forbidden);
            Assert.Equal("insufficient_scope", body.GetProperty("error").GetString());
        }
    }

    [Fact]
    public async Task Write_scope_also_allows_reading()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions { Scopes = ["customers:write"] });
        using var client = EmulatorFixture.ClientFor(server);

        using var response = await client.GetAsync("v1/customers/");

        await response.ExpectAsync(HttpStatusCode.OK);
    }
}
