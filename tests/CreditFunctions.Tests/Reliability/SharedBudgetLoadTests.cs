using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Functions;
using CreditFunctions.Http;
using CreditFunctions.Tests.Bulk;
using CreditFunctions.Tests.Engine;
using CreditGrants.Storage.Bulk;
using PolarEmulator;

namespace CreditFunctions.Tests.Reliability;

/// <summary>
/// One Polar budget for every instance, under load: three worker instances on the trigger engine and an API instance run a
/// bulk job and a stream of HTTP grants against an emulator that allows only so many requests a minute (as Polar does per
/// organization). With the budget shared through the table, Polar never answers 429, the job and every grant end exactly,
/// and HTTP grants keep succeeding while the job runs. <c>RELIABILITY_SCALE=full</c> runs the figures (100 requests a
/// minute, a 10,000-row job) and writes them to <c>RELIABILITY_BUDGET_REPORT</c>.
/// </summary>
public sealed class SharedBudgetLoadTests
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    [Fact]
    public async Task Three_workers_and_http_grants_share_one_budget_and_polar_never_answers_429()
    {
        var full = Environment.GetEnvironmentVariable("RELIABILITY_SCALE") == "full";
        var (limit, rows, grants) = full ? (100, 10_000, 60) : (40, 3_000, 20);
        await using var polar = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = 50, RequestsPerMinute = limit });
        var eventsBefore = polar.EventCount;
        var names = StorageNames.Unique();
        var table = "budget" + Guid.NewGuid().ToString("N")[..12];
        var settings = new Dictionary<string, string?>
        {
            ["Polar:RequestsPerMinute"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Polar:MeterCacheSeconds"] = "60",
            ["Polar:MaxRetryDelaySeconds"] = "5",
            ["PolarBudget:Enabled"] = "true",
            ["PolarBudget:Table"] = table,
        };
        var apps = new List<BulkApp>();
        var engines = new List<QueueEngine>();
        var watch = Stopwatch.StartNew();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                apps.Add(await BulkApp.StartAsync(names: names, settings: settings, sharedEmulator: polar));
            }

            foreach (var worker in apps.Skip(1))
            {
                engines.Add(await QueueEngine.StartAsync(worker.Services, worker.Settings, (_, run) => run()));
            }

            var api = apps[0];
            var (csv, expected) = Csv.Grants(rows: rows, customers: 50);
            var submission = await api.SubmitAsync(csv);

            // HTTP grants through the function (which marks its requests interactive), one after another as a signup stream.
            var latencies = new List<double>();
            var function = new GrantCredits(api.Services.GetService(typeof(GrantApi)) as GrantApi ?? throw new InvalidOperationException());
            for (var i = 0; i < grants; i++)
            {
                var body = $$"""{"customer":{"externalId":"signup-{{i}}","email":"signup-{{i}}@lovelace.dev"},"units":10,"grantId":"signup-{{i}}"}""";
                var started = Stopwatch.StartNew();
                var response = (FakeHttpResponseData)await function.Run(
                    new FakeHttpRequestData("POST", new Uri("https://app.example.net/api/grants"), Encoding.UTF8.GetBytes(body)), CancellationToken.None);
                latencies.Add(started.Elapsed.TotalMilliseconds);
                Assert.True(response.StatusCode == HttpStatusCode.Created, response.BodyText);
            }

            BulkJobStatus status;
            using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10)))
            {
                while ((status = await api.StatusAsync(submission.JobId)).FinishedAt is null)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), timeout.Token);
                }
            }

            // The figures of the load itself.
            var (requests, minutes) = (polar.RequestCount, watch.Elapsed.TotalMinutes);
            Assert.Equal(0, polar.RateLimitedCount);
            // Every row and every signup granted once: one event per grant (balances are read by the fault harness; here they
            // would cost minutes of this small budget).
            Assert.Equal(BulkJobState.Completed, status.Status);
            Assert.Equal(rows, status.Totals.Granted);
            Assert.Equal(expected.Values.Sum(), status.UnitsGranted);
            Assert.Equal(rows + grants, polar.EventCount - eventsBefore);

            if (Environment.GetEnvironmentVariable("RELIABILITY_BUDGET_REPORT") is { Length: > 0 } path)
            {
                var sorted = latencies.Order().ToList();
                await File.WriteAllTextAsync(path, JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["requestsPerMinute"] = limit,
                    ["workers"] = 3,
                    ["bulkRows"] = rows,
                    ["httpGrants"] = grants,
                    ["polarRequests"] = requests,
                    ["polar429s"] = polar.RateLimitedCount,
                    ["boundMinutes"] = Math.Round((double)requests / limit, 2),
                    ["elapsedMinutes"] = Math.Round(minutes, 2),
                    ["httpLatencyMsP50"] = Math.Round(sorted[sorted.Count / 2]),
                    ["httpLatencyMsP99"] = Math.Round(sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(0.99 * sorted.Count) - 1)]),
                }, Indented));
            }
        }
        finally
        {
            foreach (var engine in engines)
            {
                await engine.DisposeAsync();
            }

            foreach (var app in apps)
            {
                await app.DisposeAsync();
            }

            await BulkApp.DeleteStorageAsync(names);
            await new Azure.Data.Tables.TableClient(BulkApp.StorageConnection, table).DeleteAsync();
        }
    }
}
