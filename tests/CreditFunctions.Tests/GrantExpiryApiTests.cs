using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;

namespace CreditFunctions.Tests;

/// <summary><c>POST /api/grants</c> with an expiry: the answer says when it takes effect; a bad value is a 400 naming it.</summary>
public sealed class GrantExpiryApiTests : IAsyncLifetime
{
    private readonly string _table = "expiries" + Guid.NewGuid().ToString("N")[..16];
    private App _app = null!;

    public async Task InitializeAsync() => _app = await App.StartAsync(settings: new()
    {
        ["AzureWebJobsStorage"] = Bulk.BulkApp.StorageConnection,
        ["Expiry:Table"] = _table,
    });

    public async Task DisposeAsync()
    {
        await CreditGrants.Storage.StorageAccount.FromConnectionString(Bulk.BulkApp.StorageConnection).Tables.DeleteTableAsync(_table);
        await _app.DisposeAsync();
    }

    private Task<ApiResponse> PostAsync(string extra) =>
        _app.Api.GrantAsync(new MemoryStream(Encoding.UTF8.GetBytes(
            $$"""{"customer":{"externalId":"user-1","email":"ada@lovelace.dev"},"units":100,"grantId":"g-exp"{{extra}}}""")), null, CancellationToken.None);

    private static JsonElement Body(ApiResponse response) => JsonDocument.Parse(response.Body).RootElement;

    [Fact]
    public async Task A_grant_with_expiresAt_answers_when_the_expiry_takes_effect()
    {
        var response = await PostAsync(""","expiresAt":"2030-06-01T09:30:00+02:00" """);

        Assert.Equal(HttpStatusCode.Created, response.Status);
        Assert.Equal("2030-06-01T07:30:00Z", Body(response).GetProperty("expiresAt").GetString());
        Assert.Equal("2030-06-01T08:00:00Z", Body(response).GetProperty("expiryTakesEffectAt").GetString());
    }

    [Fact]
    public async Task A_grant_without_an_expiry_answers_no_expiry_fields()
    {
        var response = await PostAsync("");

        Assert.Equal(HttpStatusCode.Created, response.Status);
        Assert.False(Body(response).TryGetProperty("expiresAt", out _));
    }

    [Theory]
    [InlineData(""","expiresAt":"2030-06-01T09:30:00" """, "expiresAt", "has no offset")]
    [InlineData(""","expiresAt":"2020-06-01T09:30:00Z" """, "expiresAt", "is in the past")]
    [InlineData(""","expiresIn":"P1M" """, "expiresIn", "years or months")]
    [InlineData(""","expiresIn":"P30D","expiresAt":"2030-06-01T09:30:00Z" """, "expiresIn", "not both")]
    [InlineData(""","expiresAt":1893456000 """, "expiresAt", "must be a JSON string")]
    public async Task A_bad_expiry_is_400_naming_the_field(string extra, string field, string message)
    {
        var response = await PostAsync(extra);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        var error = Assert.Single(Body(response).GetProperty("errors").EnumerateArray());
        Assert.Equal(field, error.GetProperty("field").GetString());
        Assert.Contains(message, Body(response).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
