using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using FunctionsHost.Tests.Host;
using FunctionsHost.Tests.Rpc;

namespace FunctionsHost.Tests;

/// <summary>The expiry timer ticked as the host ticks it: a TimerInfo input to <c>ExpireGrants</c>, which expires the grants its table lists as due.</summary>
[Collection(SharedWorker.Name)]
public sealed class ExpiryTimerTests(AppUnderHost app)
{
    [Fact]
    public async Task A_tick_takes_back_the_unspent_credits_of_a_grant_whose_expiry_has_passed()
    {
        var customer = $"expiry-{app.Run}";
        var signup = await app.Host.PostAsync("api/grants",
            $$"""{"customer":{"externalId":"{{customer}}","email":"{{customer}}@credits.dev"},"units":1,"grantId":"{{customer}}-signup"}""", "application/json");
        Assert.True(signup.Status == HttpStatusCode.Created, signup.ToString());
        var now = DateTimeOffset.UtcNow;
        var expiry = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(-1);
        // A promotion granted three hours ago that expired at the last whole hour but one, as the app records both.
        await IngestGrantAsync(customer, $"{customer}-promo", 50, now.AddHours(-3), expiry);
        await RecordExpiryAsync(customer, $"{customer}-promo", 50, expiry, now.AddHours(-3));

        var tick = await app.Host.InvokeAsync("ExpireGrants", [TimerTriggerTests.Timer(app, "ExpireGrants", isPastDue: false)]);

        Assert.True(tick.Result.Status == StatusResult.Types.Status.Success, tick.Result.Exception?.Message);
        Assert.Equal(1m, (decimal)(await app.Host.GetAsync($"api/customers/{customer}/balance")).Json["balance"]!);
    }

    /// <summary>The grant event as the app builds it, dated in the past (Polar accepts past timestamps).</summary>
    private async Task IngestGrantAsync(string customer, string grantId, decimal units, DateTimeOffset at, DateTimeOffset expiresAt)
    {
        using var http = new HttpClient { BaseAddress = app.Emulator.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", app.Emulator.Token);
        var body = new JsonObject
        {
            ["events"] = new JsonArray(new JsonObject
            {
                ["name"] = "api_usage",
                ["external_customer_id"] = customer,
                ["external_id"] = "cg_test_" + grantId,
                ["timestamp"] = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                ["metadata"] = new JsonObject
                {
                    ["units"] = -units,
                    ["grant_id"] = grantId,
                    ["grant_source"] = "test",
                    ["grant_meter"] = "API Calls",
                    ["grant_expires_at"] = expiresAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                },
            }),
        };
        using var response = await http.PostAsync("v1/events/ingest", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>The row the app writes in its expiry table (Expiry:Table): partition the UTC hour, row key the SHA-256 of the grant id.</summary>
    private async Task RecordExpiryAsync(string customer, string grantId, decimal units, DateTimeOffset expiresAt, DateTimeOffset recordedAt)
    {
        var table = new TableClient(app.Host.Settings["AzureWebJobsStorage"], app.Host.Settings["Expiry__Table"]);
        await table.CreateIfNotExistsAsync();
        await table.UpsertEntityAsync(new TableEntity(expiresAt.UtcDateTime.ToString("yyyyMMddHH", CultureInfo.InvariantCulture),
            Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(grantId))))
        {
            ["GrantId"] = grantId,
            ["ExternalCustomerId"] = customer,
            ["Meter"] = "API Calls",
            ["Units"] = units.ToString(CultureInfo.InvariantCulture),
            ["ExpiresAt"] = expiresAt,
            ["RecordedAt"] = recordedAt,
        });
    }
}
