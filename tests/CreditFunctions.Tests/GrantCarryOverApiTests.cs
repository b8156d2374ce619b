using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using Microsoft.Extensions.DependencyInjection;

namespace CreditFunctions.Tests;

/// <summary><c>POST /api/grants</c> with <c>carryOver</c>: the grant event is flagged for carry-over; anything but a boolean is a 400 naming it.</summary>
public sealed class GrantCarryOverApiTests : IAsyncLifetime
{
    private App _app = null!;

    public async Task InitializeAsync() => _app = await App.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private Task<ApiResponse> PostAsync(string grantId, string extra) =>
        _app.Api.GrantAsync(new MemoryStream(Encoding.UTF8.GetBytes(
            $$"""{"customer":{"externalId":"user-co","email":"co@credits.dev"},"units":100,"grantId":"{{grantId}}"{{extra}}}""")), null, CancellationToken.None);

    private async Task<JsonElement?> CarryOverFlagAsync(string grantId)
    {
        var found = await _app.Services.GetRequiredService<IPolarGateway>().FindEventsByMetadataAsync(GrantMetadata.GrantId, [grantId]);
        var recorded = Assert.Single(found.Events[grantId]);
        return recorded.Metadata!.TryGetValue(GrantMetadata.CarryOver, out var flag) ? flag : null;
    }

    [Fact]
    public async Task A_grant_with_carryOver_true_is_flagged_on_its_event_and_one_without_is_not()
    {
        var carried = await PostAsync("g-co", ""","carryOver":true""");
        var plain = await PostAsync("g-plain", ""","carryOver":false""");

        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (carried.Status, plain.Status));
        // The answer says so, and only when true.
        Assert.True(JsonDocument.Parse(carried.Body).RootElement.GetProperty("carryOver").GetBoolean());
        Assert.False(JsonDocument.Parse(plain.Body).RootElement.TryGetProperty("carryOver", out _));

        Assert.Equal(JsonValueKind.True, (await CarryOverFlagAsync("g-co"))?.ValueKind);
        Assert.Null(await CarryOverFlagAsync("g-plain"));
    }

    [Theory]
    [InlineData(""","carryOver":"true" """)]
    [InlineData(""","carryOver":1 """)]
    public async Task A_carryOver_that_is_not_a_boolean_is_400_naming_the_field(string extra)
    {
        var response = await PostAsync("g-bad", extra);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        var error = Assert.Single(JsonDocument.Parse(response.Body).RootElement.GetProperty("errors").EnumerateArray());
        Assert.Equal("carryOver", error.GetProperty("field").GetString());
        Assert.Contains("JSON boolean", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
