using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CreditFunctions.Tests.Lifecycle;

/// <summary>The ledger and revocation routes' answers: pages, filters, cursors, and each status of a revocation.</summary>
public sealed class LedgerApiTests : IAsyncLifetime
{
    private App _app = null!;

    public async Task InitializeAsync() => _app = await App.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private LedgerApi Ledger => _app.Services.GetRequiredService<LedgerApi>();

    private static JsonElement Body(ApiResponse response) => JsonDocument.Parse(response.Body).RootElement;

    private async Task GrantAsync(string grantId, int units)
    {
        var json = $$"""{"customer":{"externalId":"api-1","email":"api-1@credits.dev"},"units":{{units}},"grantId":"{{grantId}}"}""";
        Assert.Equal(HttpStatusCode.Created, (await _app.Api.GrantAsync(new MemoryStream(Encoding.UTF8.GetBytes(json)), null, CancellationToken.None)).Status);
    }

    private Task<ApiResponse> RevokeAsync(string grantId, string body) =>
        Ledger.RevokeAsync(grantId, new MemoryStream(Encoding.UTF8.GetBytes(body)), CancellationToken.None);

    [Fact]
    public async Task The_ledger_pages_with_a_cursor_and_filters_by_status()
    {
        foreach (var i in Enumerable.Range(1, 3))
        {
            await GrantAsync($"api-g{i}", 10 * i);
        }

        Assert.Equal(HttpStatusCode.Created, (await RevokeAsync("api-g2", """{"reason":"wrong file"}""")).Status);

        var first = Body(await Ledger.ListAsync("api-1", null, null, null, "2", CancellationToken.None));
        var second = Body(await Ledger.ListAsync("api-1", null, null, first.GetProperty("nextCursor").GetString(), "2", CancellationToken.None));
        var revoked = Body(await Ledger.ListAsync("api-1", null, "revoked", null, null, CancellationToken.None));

        Assert.Equal(["api-g1", "api-g2"], first.GetProperty("grants").EnumerateArray().Select(g => g.GetProperty("grantId").GetString()));
        Assert.Equal(["api-g3"], second.GetProperty("grants").EnumerateArray().Select(g => g.GetProperty("grantId").GetString()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
        var only = Assert.Single(revoked.GetProperty("grants").EnumerateArray());
        Assert.Equal(("revoked", 20m), (only.GetProperty("status").GetString(), only.GetProperty("takenBack").GetDecimal()));
        Assert.Equal("revoked", Assert.Single(revoked.GetProperty("compensations").EnumerateArray()).GetProperty("kind").GetString());
        Assert.Equal(40m, revoked.GetProperty("read").GetProperty("balance").GetDecimal());
    }

    [Theory]
    [InlineData("bogus", null, null, "status")]
    [InlineData(null, "not-a-cursor!", null, "cursor")]
    [InlineData(null, null, "101", "limit")]
    public async Task A_bad_status_cursor_or_limit_is_400_naming_it(string? status, string? cursor, string? limit, string field)
    {
        await GrantAsync("api-bad", 5);

        var answer = await Ledger.ListAsync("api-1", null, status, cursor, limit, CancellationToken.None);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Equal(field, Body(answer).GetProperty("errors")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task A_revocation_is_201_then_200_and_a_different_one_409()
    {
        await GrantAsync("api-r1", 50);

        var made = await RevokeAsync("api-r1", """{"reason":"wrong customer"}""");
        var again = await RevokeAsync("api-r1", """{"reason":"wrong customer"}""");
        var other = await RevokeAsync("api-r1", """{"units":10}""");

        Assert.Equal(HttpStatusCode.Created, made.Status);
        Assert.Equal(("revoked", 50m), (Body(made).GetProperty("status").GetString(), Body(made).GetProperty("takenBack").GetDecimal()));
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal("already_revoked", Body(again).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Conflict, other.Status);
        Assert.Equal(Problem.TypePrefix + "revocation-conflict", Body(other).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Units_above_unspent_are_409_unless_allowed_and_an_unknown_grant_is_404_and_a_bad_body_400()
    {
        await GrantAsync("api-r2", 30);

        var above = await RevokeAsync("api-r2", """{"units":31}""");
        var allowed = await RevokeAsync("api-r2", """{"units":31,"allowNegativeBalance":true}""");
        var unknown = await RevokeAsync("nobody", "{}");
        var bad = await RevokeAsync("api-r2", """{"units":"31","force":true}""");

        Assert.Equal(Problem.TypePrefix + "revoke-exceeds-unspent", Body(above).GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.Created, allowed.Status);
        Assert.True(Body(allowed).GetProperty("balanceGoesNegative").GetBoolean());
        Assert.Contains("balance goes negative", Body(allowed).GetProperty("notes")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Equal(["units", "force"], Body(bad).GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("field").GetString()));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    public async Task Units_of_zero_or_less_are_400_naming_the_field_and_leave_the_grant_revocable(string units)
    {
        await GrantAsync("api-r3", 30);

        var bad = await RevokeAsync("api-r3", $$"""{"units":{{units}}}""");
        var revoked = await RevokeAsync("api-r3", "{}");

        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        var error = Assert.Single(Body(bad).GetProperty("errors").EnumerateArray());
        Assert.Equal(("units", units), (error.GetProperty("field").GetString(), error.GetProperty("value").GetString()));
        Assert.Contains("above 0", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.Created, 30m), (revoked.Status, Body(revoked).GetProperty("takenBack").GetDecimal()));
    }
}
