using System.Net;
using System.Text.Json;
using CreditFunctions.Http;
using CreditGrants.Polar.Http;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.DependencyInjection;

namespace CreditFunctions.Tests.Identity;

/// <summary>Issue #18 through the grant API: no lookalike id gets a grant or a customer, and one grant id is one grant.</summary>
public sealed class IdentityApiTests : IAsyncLifetime
{
    private const string Nfc = "jos\u00E9-u01";
    private const string Nfd = "jose\u0301-u01";

    private App _app = null!;

    public async Task InitializeAsync() => _app = await App.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private PolarClient Polar => _app.Services.GetRequiredService<PolarClient>();

    private Task<ApiResponse> PostAsync(object body, string? idempotencyKey = null) =>
        _app.Api.GrantAsync(new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(body)), idempotencyKey, CancellationToken.None);

    private static JsonElement Body(ApiResponse response) => JsonDocument.Parse(response.Body).RootElement;

    private async Task<decimal?> BalanceAsync(string externalId)
    {
        var answer = await _app.Api.GetBalanceAsync(externalId, null, CancellationToken.None);
        return answer.Status == HttpStatusCode.OK ? Body(answer).GetProperty("balance").GetDecimal() : null;
    }

    [Fact]
    public async Task An_nfd_id_with_an_email_creates_no_second_customer_beside_the_nfc_one()
    {
        await Polar.CreateCustomerAsync(new CustomerCreate("jose@ruiz.dev", "José Ruiz", Nfc));

        var answer = await PostAsync(new { customer = new { externalId = Nfd, email = "jose.ruiz@credits.dev", name = "José Ruiz" }, units = 40, grantId = "nfd-1" });

        Assert.Equal(HttpStatusCode.NotFound, answer.Status);
        var detail = Body(answer).GetProperty("detail").GetString()!;
        Assert.Contains("not in Unicode normalization form C", detail, StringComparison.Ordinal);
        Assert.Contains($"'{Nfc}'", detail, StringComparison.Ordinal);
        Assert.Null(await BalanceAsync(Nfd));
        Assert.Equal(0m, await BalanceAsync(Nfc));
        var sameName = await Polar.ListCustomersAsync(new CustomerListQuery(Query: "José"));
        Assert.Single(sameName.Items);
    }

    [Fact]
    public async Task An_nfd_id_that_is_exactly_a_customers_id_in_polar_is_that_customers()
    {
        var holder = await Polar.CreateCustomerAsync(new CustomerCreate("nfd@credits.dev", null, Nfd));

        var answer = await PostAsync(new { customer = new { externalId = Nfd }, units = 15, grantId = "nfd-2" });

        Assert.Equal(HttpStatusCode.Created, answer.Status);
        Assert.Equal(holder.Id.ToString(), Body(answer).GetProperty("customerId").GetString());
        Assert.Equal(15m, await BalanceAsync(Nfd));
    }

    [Theory]
    [InlineData("acme\u200D-g01")]
    [InlineData("acme-g01\u200F")]
    [InlineData("\uFEFFacme-g01")]
    public async Task An_id_with_an_invisible_character_no_customer_holds_is_refused_and_creates_nobody(string externalId)
    {
        var answer = await PostAsync(new { customer = new { externalId, email = "acme@credits.dev" }, units = 10, grantId = "inv-" + externalId.Length });

        Assert.Equal(HttpStatusCode.NotFound, answer.Status);
        Assert.DoesNotContain(Body(answer).GetProperty("detail").GetString()!, c => char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format);
        Assert.Empty((await Polar.ListCustomersAsync(new CustomerListQuery(Email: "acme@credits.dev"))).Items);
    }

    [Fact]
    public async Task A_grant_id_with_a_trailing_space_is_refused_naming_the_trimmed_id_and_grants_nothing()
    {
        var answer = await PostAsync(new { customer = new { externalId = "g3-user", email = "g3@credits.dev" }, units = 75, grantId = "promo-g3 " });

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        var error = Body(answer).GetProperty("errors")[0];
        Assert.Equal("grantId", error.GetProperty("field").GetString());
        Assert.Contains("send 'promo-g3'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Null(await BalanceAsync("g3-user"));
    }

    [Fact]
    public async Task An_idempotency_key_with_a_trailing_space_is_refused_naming_the_header()
    {
        var answer = await PostAsync(new { customer = new { externalId = "g4-user", email = "g4@credits.dev" }, units = 75 }, "promo-g4 ");

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        var error = Body(answer).GetProperty("errors")[0];
        Assert.Equal(GrantApi.IdempotencyKeyHeader, error.GetProperty("field").GetString());
        Assert.Contains("send 'promo-g4'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_trimmed_grant_id_is_one_grant_whichever_way_it_comes_in_again()
    {
        var body = new { customer = new { externalId = "g5-user", email = "g5@credits.dev" }, units = 75, grantId = "promo-g5" };
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(body)).Status);

        Assert.Equal(HttpStatusCode.OK, (await PostAsync(body, "promo-g5")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync(body with { grantId = "promo-g5 " })).Status);
        Assert.Equal(75m, await BalanceAsync("g5-user"));
    }
}
