using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests.Bulk;

/// <summary>
/// Undoing a bulk job (issue #20): <c>POST /api/bulk-grants/{jobId}/revoke</c> takes back what each granted row has unspent,
/// reading each customer's ledger once and ingesting the revocations in batches; a dry run sends nothing; twice changes nothing.
/// </summary>
public sealed class BulkRevokeTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private const int Customers = 100;
    private BulkApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await BulkApp.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = Customers });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private BulkRevokeApi Api => _app.Services.GetRequiredService<BulkRevokeApi>();

    private async Task<(string JobId, Dictionary<string, decimal> Granted)> GrantJobAsync(int rows)
    {
        var (csv, expected) = Csv.Grants(rows, Customers);
        var submission = await _app.SubmitAsync(csv);
        await _app.DrainAsync();
        return (submission.JobId, expected);
    }

    private async Task UseAsync(string customer, decimal units)
    {
        var report = await _app.Services.GetRequiredService<IPolarGateway>().IngestAsync(
            [new PolarEvent("api_usage", null, customer, null, null, new Dictionary<string, JsonElement> { ["units"] = PolarMetadata.Number(units) })]);
        Assert.Equal(0, report.Rejected);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> RevokeAsync(string jobId, string body)
    {
        var answer = await Api.RevokeAsync(jobId, new MemoryStream(Encoding.UTF8.GetBytes(body)), new Uri($"https://app.example/api/bulk-grants/{jobId}/revoke"), CancellationToken.None);
        using var document = JsonDocument.Parse(answer.Body);
        return (answer.Status, document.RootElement.Clone());
    }

    private static Dictionary<string, decimal> RevokedByCustomer(JsonElement body) =>
        body.GetProperty("items").EnumerateArray()
            .GroupBy(r => r.GetProperty("externalCustomerId").GetString()!)
            .ToDictionary(g => g.Key, g => g.Sum(r => r.GetProperty("unitsRevoked").GetDecimal()));

    [Fact]
    public async Task A_10000_row_job_is_revoked_taking_back_only_the_unspent_part_from_customers_with_usage_in_requests_per_customer_not_per_row()
    {
        var (jobId, granted) = await GrantJobAsync(10_000);
        var used = new Dictionary<string, decimal> { ["user-1"] = 50, ["user-2"] = 120.5m, ["user-3"] = 7 };
        foreach (var (customer, units) in used)
        {
            await UseAsync(customer, units);
        }

        var before = _app.Emulator.RequestCount;
        var (status, body) = await RevokeAsync(jobId, """{"reason":"wrong file"}""");
        var requests = _app.Emulator.RequestCount - before;

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10_000, body.GetProperty("rows").GetInt64());
        Assert.Equal(0, body.GetProperty("failed").GetInt64());
        Assert.Equal(Customers, body.GetProperty("customers").GetInt32());
        var revoked = RevokedByCustomer(body);
        foreach (var (customer, units) in granted)
        {
            Assert.Equal(units - used.GetValueOrDefault(customer), revoked[customer]);
            Assert.Equal(0m, await _app.BalanceAsync(customer));
        }

        Assert.Equal(granted.Values.Sum() - used.Values.Sum(), body.GetProperty("unitsRevoked").GetDecimal());
        // Each customer's ledger (100 grants: 2 pages of events, the quantities, the customer meter), the meter, 10 ingests:
        // bounded by the customers, not the 10,000 rows.
        output.WriteLine($"{requests} Polar requests, {body.GetProperty("ledgerRequests").GetInt32()} of them reading ledgers, for 10,000 rows of {Customers} customers");
        Assert.True(requests <= (4 * Customers) + 20, $"{requests} Polar requests for {Customers} customers");
    }

    [Fact]
    public async Task A_dry_run_says_what_each_row_would_take_back_and_sends_nothing()
    {
        var (jobId, granted) = await GrantJobAsync(500);
        await UseAsync("user-7", 3);
        var events = _app.Emulator.EventCount;

        var (status, body) = await RevokeAsync(jobId, """{"reason":"checking","dryRun":true}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("dryRun").GetBoolean());
        Assert.Equal(events, _app.Emulator.EventCount);
        Assert.All(body.GetProperty("items").EnumerateArray(), r => Assert.Equal("would_revoke", r.GetProperty("status").GetString()));
        Assert.Equal(granted.Values.Sum() - 3, body.GetProperty("unitsWouldRevoke").GetDecimal());
        Assert.Equal(granted["user-7"] - 3, RevokedByCustomer(body)["user-7"]);
        Assert.Equal(granted["user-8"], await _app.BalanceAsync("user-8"));
    }

    [Fact]
    public async Task Revoking_a_job_twice_takes_back_once_and_the_second_answers_already_revoked()
    {
        var (jobId, granted) = await GrantJobAsync(300);
        var first = (await RevokeAsync(jobId, """{"reason":"wrong file"}""")).Body;
        await UseAsync("user-4", 1);
        var events = _app.Emulator.EventCount;

        var (status, second) = await RevokeAsync(jobId, """{"reason":"wrong file"}""");

        Assert.Equal(300, first.GetProperty("revoked").GetInt64());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(300, second.GetProperty("alreadyRevoked").GetInt64());
        Assert.Equal(0m, second.GetProperty("unitsRevoked").GetDecimal());
        Assert.Equal(RevokedByCustomer(first), RevokedByCustomer(second));
        Assert.Equal(events, _app.Emulator.EventCount);
        Assert.Equal(granted.Values.Sum(), first.GetProperty("unitsRevoked").GetDecimal());
    }

    [Fact]
    public async Task Rejected_rows_are_not_granted_and_skipped()
    {
        var submission = await _app.SubmitAsync("external_customer_id,units\nuser-1,5\nuser-2,abc\n");
        await _app.DrainAsync();

        var (_, body) = await RevokeAsync(submission.JobId, """{"reason":"wrong file"}""");

        var rows = body.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["revoked", "not_granted"], rows.Select(r => r.GetProperty("status").GetString()));
        Assert.Equal(1, body.GetProperty("customers").GetInt32());
    }

    [Theory]
    [InlineData("{}", "reason")]
    [InlineData("""{"reason":"x","dryRun":"yes"}""", "dryRun")]
    [InlineData("""{"reason":"x","units":3}""", "units")]
    public async Task A_bad_body_is_400_naming_the_field(string body, string field)
    {
        var (status, problem) = await RevokeAsync("0123456789abcdef0123456789abcdef", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(problem.GetProperty("errors").EnumerateArray(), e => e.GetProperty("field").GetString() == field);
    }

    [Fact]
    public async Task An_unknown_job_is_404()
    {
        var (status, _) = await RevokeAsync("0123456789abcdef0123456789abcdef", """{"reason":"x"}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
    }
}
