using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;

namespace CreditFunctions.Tests;

/// <summary>
/// <c>POST /api/grants</c> against the emulator: a grant id reused for another grant is a 409, a true repeat a 200. The
/// emulator's event store lags behind ingest as Polar's does, so each repeat's read-back finds its first use only by waiting.
/// </summary>
public sealed class GrantIdConflictApiTests : IAsyncLifetime
{
    private App _app = null!;

    public async Task InitializeAsync() =>
        _app = await App.StartAsync(new PolarEmulator.EmulatorOptions { SeedMeter = true, EventStoreLag = TimeSpan.FromSeconds(1) });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private Task<ApiResponse> PostAsync(string json) =>
        _app.Api.GrantAsync(new MemoryStream(Encoding.UTF8.GetBytes(json)), null, CancellationToken.None);

    private static JsonElement Body(ApiResponse response) => JsonDocument.Parse(response.Body).RootElement;

    private static string Grant(string externalId, string units = "5", string grantId = "g-1", string email = "") =>
        $$"""{"customer":{"externalId":"{{externalId}}"{{(email.Length == 0 ? "" : $",\"email\":\"{email}\"")}}},"units":{{units}},"grantId":"{{grantId}}"}""";

    private async Task<decimal> BalanceAsync(string externalId)
    {
        var response = await _app.Api.GetBalanceAsync(externalId, null, CancellationToken.None);
        return response.Status == HttpStatusCode.OK ? Body(response).GetProperty("balance").GetDecimal() : 0;
    }

    [Fact]
    public async Task A_grant_id_reused_for_another_customer_is_409_naming_the_first_use()
    {
        await PostAsync(Grant("user-44", email: "ada@lovelace.dev"));

        var response = await PostAsync(Grant("user-45", email: "bob@lovelace.dev"));

        Assert.Equal(HttpStatusCode.Conflict, response.Status);
        var body = Body(response);
        Assert.Equal(Problem.TypePrefix + "grant-id-conflict", body.GetProperty("type").GetString());
        var detail = body.GetProperty("detail").GetString()!;
        Assert.Contains("5 units to external id 'user-44' on meter 'API Calls'", detail, StringComparison.Ordinal);
        Assert.Contains("use a new grant id", detail, StringComparison.Ordinal);
        Assert.Equal(0m, await BalanceAsync("user-45"));
        Assert.Equal(5m, await BalanceAsync("user-44"));
    }

    [Fact]
    public async Task A_grant_id_reused_with_other_units_is_409()
    {
        await PostAsync(Grant("user-44", units: "5", email: "ada@lovelace.dev"));

        var response = await PostAsync(Grant("user-44", units: "1000"));

        Assert.Equal(HttpStatusCode.Conflict, response.Status);
        Assert.Contains("differs in units", Body(response).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(5m, await BalanceAsync("user-44"));
    }

    [Fact]
    public async Task The_same_customer_by_customer_id_then_by_external_id_is_200_duplicate()
    {
        var first = await PostAsync(Grant("user-44", email: "ada@lovelace.dev"));
        var customerId = Body(first).GetProperty("customerId").GetString();
        var byCustomerId = await PostAsync($$"""{"customer":{"customerId":"{{customerId}}"},"units":5,"grantId":"g-2"}""");

        var byExternalId = await PostAsync(Grant("user-44", grantId: "g-2"));

        Assert.Equal(HttpStatusCode.Created, byCustomerId.Status);
        Assert.Equal(HttpStatusCode.OK, byExternalId.Status);
        Assert.Equal("duplicate", Body(byExternalId).GetProperty("status").GetString());
        Assert.Equal(10m, await BalanceAsync("user-44"));
    }

    [Fact]
    public async Task An_external_id_grant_repeated_by_customer_id_once_the_customer_exists_is_200_duplicate()
    {
        // The first grant goes to an external id no customer has yet; the customer is created by a later grant.
        await PostAsync(Grant("user-44", grantId: "g-early"));
        var created = await PostAsync(Grant("user-44", grantId: "g-create", email: "ada@lovelace.dev"));
        var customerId = Body(created).GetProperty("customerId").GetString();

        var repeat = await PostAsync($$"""{"customer":{"customerId":"{{customerId}}"},"units":5,"grantId":"g-early"}""");

        Assert.Equal(HttpStatusCode.OK, repeat.Status);
        Assert.Equal("duplicate", Body(repeat).GetProperty("status").GetString());
    }
}
