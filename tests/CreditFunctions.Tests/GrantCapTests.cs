using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;
using CreditFunctions.Tests.Bulk;

namespace CreditFunctions.Tests;

/// <summary>
/// The grant API's daily caps, counted in Azurite across instances: a leaked key cannot grant more than a customer's or the
/// organization's cap in a UTC day; repeats and failures use no cap.
/// </summary>
public sealed class GrantCapTests : IAsyncLifetime
{
    private readonly string _table = "caps" + Guid.NewGuid().ToString("N")[..12];
    private readonly List<App> _apps = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }

        await new Azure.Data.Tables.TableClient(BulkApp.StorageConnection, _table).DeleteAsync();
    }

    private async Task<App> InstanceAsync(PolarEmulator.EmulatorOptions? emulator = null)
    {
        var app = await App.StartAsync(emulator, new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = BulkApp.StorageConnection,
            ["GrantCaps:Enabled"] = "true",
            ["GrantCaps:Table"] = _table,
            ["GrantCaps:MaxUnitsPerCustomerPerDay"] = "100",
            ["GrantCaps:MaxUnitsPerDay"] = "250",
        });
        _apps.Add(app);
        return app;
    }

    private static Task<ApiResponse> PostAsync(App app, string customer, decimal units, string grantId) =>
        app.Api.GrantAsync(new MemoryStream(Encoding.UTF8.GetBytes(
            $$"""{"customer":{"externalId":"{{customer}}","email":"{{customer}}@lovelace.dev"},"units":{{units}},"grantId":"{{grantId}}"}""")),
            null, CancellationToken.None);

    private static JsonElement Body(ApiResponse response) => JsonDocument.Parse(response.Body).RootElement;

    [Fact]
    public async Task A_customer_gets_no_more_than_its_daily_cap_and_the_refusal_names_it()
    {
        var app = await InstanceAsync();

        var first = await PostAsync(app, "cap-1", 60, "g-1");
        var over = await PostAsync(app, "cap-1", 50, "g-2");
        var fits = await PostAsync(app, "cap-1", 40, "g-3");

        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.TooManyRequests, HttpStatusCode.Created), (first.Status, over.Status, fits.Status));
        Assert.Equal(Problem.TypePrefix + "grant-cap-reached", Body(over).GetProperty("type").GetString());
        Assert.Contains("customer's daily cap of 100 units", Body(over).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(int.Parse(over.Headers["Retry-After"], System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 86_400);
        var balance = Body(await app.Api.GetBalanceAsync("cap-1", null, CancellationToken.None));
        Assert.Equal(100m, balance.GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task A_repeated_grant_uses_no_cap()
    {
        var app = await InstanceAsync();

        await PostAsync(app, "cap-2", 90, "g-1");
        var repeat = await PostAsync(app, "cap-2", 90, "g-1");
        var rest = await PostAsync(app, "cap-2", 10, "g-2");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Created), (repeat.Status, rest.Status));
    }

    [Fact]
    public async Task Two_instances_at_once_never_pass_the_organizations_cap_together()
    {
        var first = await InstanceAsync();
        var second = await InstanceAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            PostAsync(i % 2 == 0 ? first : second, $"org-{i}", 50, $"org-g-{i}")));

        Assert.Equal(5, answers.Count(a => a.Status == HttpStatusCode.Created));
        Assert.All(answers.Where(a => a.Status != HttpStatusCode.Created), a =>
            Assert.Contains("organization's daily cap of 250 units", Body(a).GetProperty("detail").GetString(), StringComparison.Ordinal));
    }
}
