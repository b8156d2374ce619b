using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Storage.Bulk;
using PolarEmulator;

namespace CreditFunctions.Tests.Customers;

/// <summary>
/// The customer directory as the Functions app wires it (a table in Azurite, scoped to the emulator's organization):
/// what a grant to a known customer costs, where a grant goes when the customer behind a trusted entry was deleted,
/// and bulk jobs' rows to ids that no customer holds.
/// </summary>
public sealed class DirectoryAppTests : IAsyncLifetime
{
    private readonly string _table = "directory" + Guid.NewGuid().ToString("N")[..12];
    private App _app = null!;

    public async Task InitializeAsync() => _app = await App.StartAsync(settings: new Dictionary<string, string?>
    {
        ["AzureWebJobsStorage"] = BulkApp.StorageConnection,
        ["CustomerDirectory:Table"] = _table,
        // The meter is read once and cached, as in production (the fixture's default reads it every time).
        ["Polar:MeterCacheSeconds"] = "300",
    });

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await new Azure.Data.Tables.TableClient(BulkApp.StorageConnection, _table).DeleteAsync();
    }

    private Task<ApiResponse> GrantAsync(string externalId, decimal units, string grantId, string? email = null) =>
        _app.Api.GrantAsync(new MemoryStream(Encoding.UTF8.GetBytes(email is null
            ? $$"""{"customer":{"externalId":"{{externalId}}"},"units":{{units}},"grantId":"{{grantId}}"}"""
            : $$"""{"customer":{"externalId":"{{externalId}}","email":"{{email}}"},"units":{{units}},"grantId":"{{grantId}}"}""")),
            null, CancellationToken.None);

    private static JsonElement Body(ApiResponse response) => JsonDocument.Parse(response.Body).RootElement;

    private static Guid? GuidOrNull(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetGuid() : null;

    private HttpClient Polar()
    {
        var client = new HttpClient { BaseAddress = _app.Emulator.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _app.Emulator.Token);
        return client;
    }

    [Fact]
    public async Task A_grant_to_a_customer_the_directory_knows_costs_one_polar_request_the_ingest()
    {
        var first = await GrantAsync("user-1", 5, "g-0", "ada@lovelace.dev");
        Assert.Equal(HttpStatusCode.Created, first.Status);
        var before = _app.Emulator.RequestCount;
        var ingestsBefore = _app.Emulator.RequestCountOf("POST /v1/events/ingest");

        for (var i = 1; i <= 10; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await GrantAsync("user-1", 1, $"g-{i}")).Status);
        }

        Assert.Equal(10, _app.Emulator.RequestCount - before);
        Assert.Equal(10, _app.Emulator.RequestCountOf("POST /v1/events/ingest") - ingestsBefore);
        Assert.Equal(15m, Body(await _app.Api.GetBalanceAsync("user-1", null, CancellationToken.None)).GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task A_grant_to_an_external_id_whose_customer_was_deleted_and_replaced_goes_to_the_new_holder_never_to_the_deleted_one()
    {
        var created = Body(await GrantAsync("x-1", 7, "g-a", "first@lovelace.dev"));
        var deletedId = created.GetProperty("customerId").GetGuid();
        using var polar = Polar();
        (await polar.DeleteAsync($"v1/customers/{deletedId}")).EnsureSuccessStatusCode();
        // Polar wants a Content-Length: a buffered body, not a streamed one.
        var replacement = await polar.PostAsync("v1/customers/",
            new StringContent("""{"email":"second@lovelace.dev","external_id":"x-1"}""", Encoding.UTF8, "application/json"));
        replacement.EnsureSuccessStatusCode();
        var holderId = (await replacement.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        // The directory still trusts its entry for x-1 (confirmed seconds ago, when the first customer was created).
        var requests = _app.Emulator.RequestCount;
        var grant = await GrantAsync("x-1", 3, "g-b");

        Assert.Equal(HttpStatusCode.Created, grant.Status);
        Assert.Equal(1, _app.Emulator.RequestCount - requests);
        // The answer names no deleted customer: a customer known only from the directory is not named at all.
        Assert.NotEqual(deletedId, GuidOrNull(Body(grant), "customerId"));
        var events = await polar.GetFromJsonAsync<JsonElement>("v1/events/?metadata[grant_id]=g-b");
        var recorded = Assert.Single(events.GetProperty("items").EnumerateArray());
        Assert.Equal("x-1", recorded.GetProperty("external_customer_id").GetString());
        Assert.NotEqual(deletedId, GuidOrNull(recorded, "customer_id"));
        var balance = Body(await _app.Api.GetBalanceAsync("x-1", null, CancellationToken.None));
        Assert.Equal(holderId, balance.GetProperty("customerId").GetGuid());
        Assert.Equal(3m, balance.GetProperty("balance").GetDecimal());
    }
}

/// <summary>Bulk jobs (upload and queue) with rows to external ids that no Polar customer holds.</summary>
public sealed class DirectoryBulkJobTests : IAsyncLifetime
{
    private BulkApp _app = null!;

    public async Task InitializeAsync() => _app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = 3 });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private const string Csv = "external_customer_id,units\nuser-1,10\ntypo-user-2,20\nuser-3,30\n";

    [Fact]
    public async Task Rows_to_ids_no_customer_holds_are_granted_with_the_note_and_counted_as_awaiting_a_customer()
    {
        var submission = await _app.SubmitAsync(Csv);
        await _app.DrainAsync();

        var status = await _app.StatusAsync(submission.JobId);
        Assert.Equal((3L, 1L), (status.Totals.Granted, status.Totals.AwaitingCustomer ?? 0));
        var typo = Assert.Single(Bulk.Csv.Results(await _app.ResultsAsync(status)), r => r["external_customer_id"] == "typo-user-2");
        Assert.Equal("granted", typo["status"]);
        Assert.Contains("no Polar customer has external id 'typo-user-2' yet", typo["reason"], StringComparison.Ordinal);
        Assert.Contains("180 minutes", typo["reason"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_require_existing_customers_those_rows_are_rejected_and_the_others_granted()
    {
        var submission = await _app.SubmitAsync(Csv, submit: new BulkSubmitOptions("test-batch", RequireExistingCustomers: true));
        await _app.DrainAsync();

        var status = await _app.StatusAsync(submission.JobId);
        Assert.True(status.RequireExistingCustomers);
        Assert.Equal((2L, 1L, (long?)null), (status.Totals.Granted, status.Totals.Rejected, status.Totals.AwaitingCustomer));
        var typo = Assert.Single(Bulk.Csv.Results(await _app.ResultsAsync(status)), r => r["external_customer_id"] == "typo-user-2");
        Assert.Equal("rejected", typo["status"]);
        Assert.Contains("add an email column", typo["reason"], StringComparison.Ordinal);
        Assert.Equal(2, _app.Emulator.EventCount);
        // The same file with customers required is another job (its id covers the option).
        Assert.NotEqual((await _app.SubmitAsync(Csv)).JobId, submission.JobId);
    }

    [Fact]
    public async Task The_upload_refuses_a_require_existing_customers_value_that_is_not_true_or_false_naming_it()
    {
        var answer = await _app.Api.SubmitAsync(new MemoryStream(Encoding.UTF8.GetBytes(Csv)), null, null, null, "b", null, "yes",
            new Uri("https://app.example/api/bulk-grants"), CancellationToken.None);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Contains("requireExistingCustomers", Encoding.UTF8.GetString(answer.Body), StringComparison.Ordinal);
        Assert.Contains("must be true or false", Encoding.UTF8.GetString(answer.Body), StringComparison.Ordinal);
    }
}
