using System.Net;
using System.Text;
using CreditFunctions.Functions;
using CreditFunctions.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace CreditFunctions.Tests;

public sealed class FunctionTests : IAsyncLifetime
{
    private App _app = null!;

    public async Task InitializeAsync() => _app = await App.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task GrantCredits_reads_the_idempotency_key_header_and_writes_the_answer()
    {
        var request = new FakeHttpRequestData("POST", new Uri("http://localhost/api/grants"),
            """{"customer":{"externalId":"user-9","email":"ada@lovelace.dev"},"units":3}"""u8.ToArray(), ("Idempotency-Key", "header-key"));

        var response = (FakeHttpResponseData)await new GrantCredits(_app.Api).Run(request, CancellationToken.None);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(ApiResponse.Json, response.Headers.GetValues("Content-Type").Single());
        Assert.Contains("\"grantId\":\"header-key\"", response.BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetBalance_reads_the_meter_from_the_query()
    {
        var request = new FakeHttpRequestData("GET", new Uri("http://localhost/api/customers/nobody/balance?meter=Other%20Meter"), []);

        var response = (FakeHttpResponseData)await new GetBalance(_app.Api).Run(request, "nobody", CancellationToken.None);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(ApiResponse.ProblemJson, response.Headers.GetValues("Content-Type").Single());
    }

    [Fact]
    public async Task Problems_carry_their_extra_headers()
    {
        var request = new FakeHttpRequestData("POST", new Uri("http://localhost/api/grants"), Encoding.UTF8.GetBytes("not json"));

        var response = (FakeHttpResponseData)await new GrantCredits(_app.Api).Run(request, CancellationToken.None);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("invalid-request", response.BodyText, StringComparison.Ordinal);
    }
}

public sealed class StartupTests
{
    [Fact]
    public async Task The_app_refuses_to_start_without_a_polar_token()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Polar:Server"] = "sandbox" });
        builder.Services.AddCreditFunctions(builder.Configuration);
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Polar:AccessToken", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_app_refuses_to_start_with_a_bad_polar_server()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Polar:Server"] = "staging",
            ["Polar:AccessToken"] = "polar_oat_x",
        });
        builder.Services.AddCreditFunctions(builder.Configuration);
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("'staging'", error.Message, StringComparison.Ordinal);
    }
}
