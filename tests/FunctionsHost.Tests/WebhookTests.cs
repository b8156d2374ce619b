using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using FunctionsHost.Tests.Host;

namespace FunctionsHost.Tests;

/// <summary>
/// <c>POST /api/polar/webhooks</c> through the worker (issue #21): anonymous for the host, a bare 401 without Polar's
/// signature, 202 with it; every exchange held to docs/openapi.json.
/// </summary>
[Collection(SharedWorker.Name)]
public sealed class WebhookTriggerTests(AppUnderHost app)
{
    private static Dictionary<string, string> Signed(string body, string id, string secret = AppUnderHost.WebhookSecret)
    {
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
        return new() { ["webhook-id"] = id, ["webhook-timestamp"] = timestamp, ["webhook-signature"] = "v1," + Convert.ToBase64String(mac) };
    }

    private static string Body(string externalId) =>
        PolarWebhookPayloads.Customer("customer.created", Guid.NewGuid(), externalId, $"{externalId}@credits.dev", DateTimeOffset.UtcNow);

    [Fact]
    public async Task A_signed_delivery_is_accepted_without_a_function_key()
    {
        var id = "msg_host_" + app.Run;
        var body = Body("host-webhook-" + app.Run);

        var answer = await app.Host.PostAsync("api/polar/webhooks", body, "application/json", Signed(body, id));

        Assert.True(answer.Status == HttpStatusCode.Accepted, answer.ToString());
        Assert.Equal("accepted", (string?)answer.Json["outcome"]);
        Assert.Equal(id, (string?)answer.Json["webhookId"]);
    }

    [Fact]
    public async Task A_delivery_signed_with_another_secret_is_a_bare_401()
    {
        var body = Body("host-webhook-bad-" + app.Run);

        var answer = await app.Host.PostAsync("api/polar/webhooks", body, "application/json", Signed(body, "msg_bad_" + app.Run, "whsec_not_ours"));

        Assert.True(answer.Status == HttpStatusCode.Unauthorized, answer.ToString());
        Assert.Empty(answer.Body);
        Assert.Null(answer.Header("Content-Type"));
    }
}

/// <summary>
/// End to end (issue #21): a standalone Polar emulator, in its own process, sends its signed deliveries over HTTP to the
/// published app under the worker-protocol host (the host's HTTP front), whose queue function feeds the customer directory:
/// a customer created in the emulator is known to the app within seconds, and forgotten when deleted.
/// </summary>
public sealed class WebhookEndToEndTests : IAsyncLifetime, IDisposable
{
    private const string Token = "polar_oat_webhook_end_to_end";
    private const string Secret = "whsec_ZW5kIHRvIGVuZCB3ZWJob29rIHNlY3JldA";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private readonly HttpClient _polar = new();
    private Process? _emulator;
    private WorkerHost? _worker;
    private HostHttpFront? _front;
    private QueueTriggerEngine? _queue;

    public async Task InitializeAsync()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "PolarEmulator.dll"), "--port", "0", "--token", Token, "--seed-meter" })
        {
            start.ArgumentList.Add(argument);
        }

        _emulator = Process.Start(start)!;
        var server = await ReadBaseAddressAsync(_emulator);
        _polar.BaseAddress = server;
        _polar.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);

        var settings = AppSettings.Sample();
        settings["Polar__Server"] = server.AbsoluteUri;
        settings["Polar__AccessToken"] = Token;
        settings["Polar__WebhookSecrets__0"] = Secret;
        foreach (var (key, value) in AppUnderHost.IsolatedStorage(_run))
        {
            settings[key] = value;
        }

        _worker = await WorkerHost.StartAsync(AppSettings.AppDirectory, settings, AppUnderHost.StartupLimit);
        _front = await HostHttpFront.StartAsync(_worker);
        _queue = await QueueTriggerEngine.StartAsync(_worker, "ProcessPolarWebhook");
        var endpoint = await _polar.PostAsync("__emulator/webhooks/endpoints",
            Json(new JsonObject { ["url"] = new Uri(_front.Address, "api/polar/webhooks").AbsoluteUri, ["secret"] = Secret }));
        Assert.True(endpoint.StatusCode == HttpStatusCode.Created, await endpoint.Content.ReadAsStringAsync());
    }

    public async Task DisposeAsync()
    {
        if (_queue is not null)
        {
            await _queue.DisposeAsync();
        }

        if (_front is not null)
        {
            await _front.DisposeAsync();
        }

        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        if (_emulator is { HasExited: false })
        {
            _emulator.Kill(entireProcessTree: true);
            await _emulator.WaitForExitAsync();
        }

        Dispose();
    }

    public void Dispose()
    {
        _emulator?.Dispose();
        _polar.Dispose();
    }

    [Fact]
    public async Task A_customer_created_in_polar_reaches_the_customer_directory_through_signed_webhooks_and_leaves_it_when_deleted()
    {
        var externalId = "e2e-" + _run;
        var customerId = await CreateCustomerAsync(externalId);

        var entry = await WaitAsync(() => DirectoryEntryAsync(externalId), e => e is not null, "the directory entry");
        Assert.Equal(customerId, entry!["CustomerId"]?.ToString());

        var deleted = await _polar.DeleteAsync($"v1/customers/{customerId}");
        Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
        await WaitAsync(() => DirectoryEntryAsync(externalId), e => e is null, "the entry's removal");

        // Every delivery was signed by the emulator, verified by the app, answered 202 and processed once. (Its first attempt may
        // time out on a loaded build machine while the worker warms up: Polar retries, as the emulator does; the answer time is
        // measured in docs/webhooks.md, not asserted here.)
        var deliveries = JsonNode.Parse(await _polar.GetStringAsync("__emulator/webhooks/deliveries"))!["items"]!.AsArray();
        Assert.Contains(deliveries, d => (string?)d!["type"] == "customer.created");
        Assert.Contains(deliveries, d => (string?)d!["type"] == "customer.deleted");
        Assert.All(deliveries, d => Assert.Equal("succeeded", (string?)d!["status"]));
        Assert.All(deliveries, d => Assert.Equal(202, (int?)d!["attempts"]!.AsArray()[^1]!["status"]));
        Assert.Empty(_front!.Failures);
        Assert.All(_queue!.Forwarder.Deliveries, d => Assert.True(d.Succeeded, d.Error));
    }

    [Fact]
    public async Task Carry_over_credits_survive_the_reset_of_a_subscription_started_in_polar_through_signed_webhooks()
    {
        var externalId = "e2e-co-" + _run;
        var customerId = await CreateCustomerAsync(externalId);
        var meterId = (string)JsonNode.Parse(await _polar.GetStringAsync("v1/meters/"))!["items"]![0]!["id"]!;
        // A carry-over grant of 100 and a plain one of 40, as the app writes them (docs/credit-lifecycle.md), then 30 units used.
        var now = DateTimeOffset.UtcNow;
        var ingest = await _polar.PostAsync("v1/events/ingest", Json(new JsonObject
        {
            ["events"] = new JsonArray(
                Grant(externalId, "e2e-co-promo-" + _run, 100, carryOver: true, now.AddSeconds(-3)),
                Grant(externalId, "e2e-co-plain-" + _run, 40, carryOver: false, now.AddSeconds(-2)),
                new JsonObject
                {
                    ["name"] = "api_usage", ["external_customer_id"] = externalId, ["timestamp"] = Time(now.AddSeconds(-1)),
                    ["metadata"] = new JsonObject { ["units"] = 30 },
                }),
        }));
        Assert.True(ingest.IsSuccessStatusCode, await ingest.Content.ReadAsStringAsync());

        // A subscription with a metered price on the meter resets it (wiping 110 unspent units) and credits Polar's 10.
        var subscribed = await _polar.PostAsync("__emulator/subscriptions", Json(new JsonObject
        {
            ["customer_id"] = customerId, ["meter_id"] = meterId, ["units"] = 10, ["metered_price"] = true,
        }));
        Assert.True(subscribed.IsSuccessStatusCode, await subscribed.Content.ReadAsStringAsync());

        // The promo's 70 unspent units come back, dated at the reset; the plain grant's 40 do not.
        // Grant rules stored beside the app (a signup rule) may grant on customer.created too: their grants are counted apart.
        var clock = Stopwatch.StartNew();
        (double? Balance, double Carried, double Rules) seen = (null, 0, 0);
        // The balance and the event list lag apart (balances are recomputed, the event store is fed asynchronously): wait for both.
        while ((seen.Balance - seen.Rules, seen.Carried) != (80, 70) && clock.Elapsed < Limit)
        {
            await Task.Delay(200);
            var events = JsonNode.Parse(await _polar.GetStringAsync($"v1/events/?customer_id={customerId}&limit=100"))!["items"]!.AsArray()
                .Select(e => e!["metadata"]!).ToList();
            seen = (await BalanceAsync(customerId, meterId),
                -events.Where(m => (string?)m["grant_source"] == "carry-over").Sum(m => (double)m["units"]!),
                -events.Where(m => ((string?)m["grant_source"])?.StartsWith("rule:", StringComparison.Ordinal) == true).Sum(m => (double)m["units"]!));
        }

        Assert.True((seen.Balance - seen.Rules, seen.Carried) == (80, 70), $"{seen} after {clock.Elapsed}");
        Assert.All(_queue!.Forwarder.Deliveries, d => Assert.True(d.Succeeded, d.Error));
    }

    /// <summary>Creates a customer in the emulator (Polar sends <c>customer.created</c>); its Polar id.</summary>
    private async Task<string> CreateCustomerAsync(string externalId)
    {
        var created = await _polar.PostAsync("v1/customers/", Json(new JsonObject { ["email"] = $"{externalId}@credits.dev", ["external_id"] = externalId }));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        return (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
    }

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static JsonObject Grant(string externalId, string grantId, int units, bool carryOver, DateTimeOffset at)
    {
        var metadata = new JsonObject
        {
            ["units"] = -units, ["grant_id"] = grantId, ["grant_source"] = "e2e", ["grant_meter"] = "API Calls",
        };
        if (carryOver)
        {
            metadata["grant_carry_over"] = true;
        }

        return new JsonObject
        {
            ["name"] = "api_usage", ["external_customer_id"] = externalId, ["external_id"] = "cg_" + grantId, ["timestamp"] = Time(at), ["metadata"] = metadata,
        };
    }

    private async Task<double?> BalanceAsync(string customerId, string meterId)
    {
        var meters = JsonNode.Parse(await _polar.GetStringAsync($"v1/customer-meters/?customer_id={customerId}&meter_id={meterId}"))!["items"]!.AsArray();
        return meters.Count == 0 ? null : (double?)meters[0]!["balance"];
    }

    /// <summary>The directory's row for an external id (the table the worker's settings name), read as the app wrote it.</summary>
    private async Task<TableEntity?> DirectoryEntryAsync(string externalId)
    {
        var table = new TableClient(_worker!.Settings["AzureWebJobsStorage"], _worker.Settings["CustomerDirectory__Table"]);
        await table.CreateIfNotExistsAsync();
        await foreach (var entity in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"ExternalId eq {externalId}")))
        {
            return entity;
        }

        return null;
    }

    private static async Task<T> WaitAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            Assert.True(clock.Elapsed < Limit, $"{what} did not come within {Limit}");
            await Task.Delay(200);
        }
    }

    private static async Task<Uri> ReadBaseAddressAsync(Process emulator)
    {
        const string prefix = "Polar emulator listening on ";
        using var timeout = new CancellationTokenSource(Limit);
        while (await emulator.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                // Keep reading its output so it never blocks on a full pipe.
                _ = emulator.StandardOutput.ReadToEndAsync(CancellationToken.None);
                _ = emulator.StandardError.ReadToEndAsync(CancellationToken.None);
                return new Uri(line[prefix.Length..].Trim());
            }
        }

        throw new InvalidOperationException($"The emulator exited before listening: {await emulator.StandardError.ReadToEndAsync(CancellationToken.None)}");
    }

    private static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");
}
