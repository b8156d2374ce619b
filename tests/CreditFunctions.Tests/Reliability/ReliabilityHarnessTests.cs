using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Functions;
using CreditFunctions.Http;
using CreditFunctions.Tests.Bulk;
using CreditFunctions.Tests.Engine;
using CreditGrants.Campaigns;
using CreditGrants.Storage.Bulk;
using CreditGrants.Storage.Campaigns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PolarEmulator;

namespace CreditFunctions.Tests.Reliability;

/// <summary>
/// The fault harness: against an emulator that fails 10 % of requests (500/503), rate-limits 5 % (429), drops 2 % of
/// connections before the work and loses 2 % of answers after it, with latency spikes, a stream of concurrent HTTP grants
/// (some repeating grant ids, each retried by its caller until it has an answer) runs beside a bulk job processed by three
/// workers on the host's trigger engine, one of which is killed in the middle of a chunk and started again, and a campaign over
/// hundreds of customers runs through the app's path (the <c>RunCampaigns</c> timer ticking on the instances in turn, its
/// occurrence enqueued as a bulk job in the batch <c>campaign:&lt;id&gt;:&lt;occurrence&gt;</c> for the same workers, then settled
/// by a later tick). At the end every balance is exactly what was asked (campaign units included), every grant, row and
/// campaign target has exactly one outcome, no grant event was stored twice, and the Polar token appears nowhere in what the
/// run wrote. <c>RELIABILITY_SCALE=full</c> (bench/reliability.sh) runs the
/// issue's sizes and writes the figures to <c>RELIABILITY_REPORT</c>; CI runs the short version.
/// </summary>
public sealed class ReliabilityHarnessTests
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The sizes of a run.</summary>
    /// <param name="HttpGrants">HTTP grants sent (a tenth repeat an earlier grant id).</param>
    /// <param name="HttpCustomers">Customers they go to (created by the grants).</param>
    /// <param name="BulkRows">Rows of the bulk job.</param>
    /// <param name="BulkCustomers">Seeded customers the rows go to (<c>user-1</c> …); all of them are in the campaign's audience.</param>
    /// <param name="CampaignCustomers">The campaign's audience: the bulk customers and as many more seeded ones (<c>camp-1</c> …).</param>
    private sealed record Scale(int HttpGrants, int HttpCustomers, int BulkRows, int BulkCustomers, int CampaignCustomers)
    {
        public static Scale Current => Environment.GetEnvironmentVariable("RELIABILITY_SCALE") == "full"
            ? new Scale(1_000, 200, 10_000, 500, 1_000) { StopsHost = true }
            : new Scale(200, 40, 2_000, 100, 200);

        /// <summary>
        /// Whether the kill stops the worker's host (full runs): a message that host had taken stays invisible for the
        /// listener's lease (up to 10 minutes) before another worker gets it, longer than CI allows. The short run kills the
        /// worker's function instead: it fails after granting, before the host deletes the message, which comes back at once.
        /// </summary>
        public bool StopsHost { get; init; }
    }

    /// <summary>Every log line of every instance, at every level, with its exception.</summary>
    private sealed class CapturingLogger : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            Lines.Enqueue($"{logLevel} {formatter(state, exception)} {values} {exception}");
        }

        public void Dispose()
        {
        }
    }

    [Fact]
    public async Task Under_faults_redelivery_and_a_killed_worker_every_grant_ends_exactly_once()
    {
        var scale = Scale.Current;
        var watch = Stopwatch.StartNew();
        var faults = new FaultOptions
        {
            Seed = 11,
            ErrorRate = 0.10,
            RateLimitRate = 0.05,
            DropRate = 0.02,
            LostAnswerRate = 0.02,
            SpikeRate = 0.05,
            SpikeLatency = TimeSpan.FromMilliseconds(300),
        };
        var campaign = new HarnessCampaign($"harness-{Guid.NewGuid():N}"[..20], scale.BulkCustomers, scale.CampaignCustomers);
        await using var polar = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, CustomerSeeds = campaign.Seeds(), Faults = faults });
        var eventsBefore = polar.EventCount;
        var names = StorageNames.Unique();
        var logs = new CapturingLogger();
        var settings = new Dictionary<string, string?>
        {
            ["Polar:MaxRetries"] = "8",
            ["Polar:MaxRetryDelaySeconds"] = "1",
            ["Polar:AttemptTimeoutSeconds"] = "10",
            ["Campaigns:Container"] = $"campaigns-{campaign.Id}",
            ["Campaigns:StateTable"] = campaign.Id.Replace("-", "", StringComparison.Ordinal),
        };
        void Capture(IServiceCollection services) => services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        var apps = new List<BulkApp>();
        for (var i = 0; i < 4; i++)
        {
            apps.Add(await BulkApp.StartAsync(names: names, settings: settings, sharedEmulator: polar, services: Capture));
        }

        var api = apps[0];
        var workers = apps.Skip(1).ToList();
        var problems = new ConcurrentQueue<string>();
        var chunksStarted = 0;
        var killed = new TaskCompletionSource<int>();
        var interrupted = false;
        var engines = new QueueEngine?[3];
        try
        {
            // Three workers on the trigger engine; the first to start its second chunk is killed right in it.
            for (var w = 0; w < 3; w++)
            {
                var index = w;
                engines[w] = await QueueEngine.StartAsync(workers[w].Services, workers[w].Settings, async (message, run) =>
                {
                    var chunk = message.Body.ToString().Contains("\"kind\":\"chunk\"", StringComparison.Ordinal);
                    var delivery = chunk ? Interlocked.Increment(ref chunksStarted) : 0;
                    if (delivery == 2 && !scale.StopsHost)
                    {
                        await run();
                        interrupted = true;
                        killed.TrySetResult(index);
                        throw new InvalidOperationException("worker killed after granting its chunk, before the message was deleted");
                    }

                    if (delivery == 2 && scale.StopsHost)
                    {
                        // The host is stopped while the chunk is being granted: its token is cancelled mid-way.
                        var work = run();
                        await Task.Delay(50);
                        killed.TrySetResult(index);
                        try
                        {
                            await work;
                        }
                        catch (OperationCanceledException)
                        {
                            interrupted = true;
                            throw;
                        }

                        return;
                    }

                    await run();
                }, visibilityTimeout: TimeSpan.FromSeconds(2));
            }

            // The bulk job.
            var (csv, expected) = Csv.Grants(rows: scale.BulkRows, customers: scale.BulkCustomers);
            var submission = await api.SubmitAsync(csv);

            // The campaign: its document in the app's container, and the timer ticking on the instances in turn until the
            // occurrence's job has been granted by the workers and settled by a later tick.
            await campaign.UploadAsync(api);
            using var campaignTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(20));
            var timerTask = campaign.TickUntilSettledAsync(apps, campaignTimeout.Token);

            // The HTTP grants, concurrently: a tenth repeat an earlier grant id; each caller retries until it has an answer.
            var httpExpected = new ConcurrentDictionary<string, decimal>();
            var grantIds = Enumerable.Range(0, scale.HttpGrants).Select(i => i % 10 == 9 ? $"h-{i - 9}" : $"h-{i}").ToList();
            var latencies = new ConcurrentBag<double>();
            var httpTask = Task.WhenAll(grantIds.Select(async (grantId, i) =>
            {
                var n = int.Parse(grantId[2..], System.Globalization.CultureInfo.InvariantCulture);
                var customer = $"web-{n % scale.HttpCustomers}";
                var units = (n % 5) + 1;
                var body = $$"""{"customer":{"externalId":"{{customer}}","email":"{{customer}}@lovelace.dev"},"units":{{units}},"grantId":"{{grantId}}"}""";
                var started = Stopwatch.StartNew();
                for (var attempt = 1; ; attempt++)
                {
                    var answer = await api.Services.GetRequiredService<GrantApi>().GrantAsync(new MemoryStream(Encoding.UTF8.GetBytes(body)), null, CancellationToken.None);
                    if (answer.Status is HttpStatusCode.Created or HttpStatusCode.OK)
                    {
                        latencies.Add(started.Elapsed.TotalMilliseconds);
                        httpExpected[grantId] = units;
                        return (grantId, answer.Status);
                    }

                    var text = Encoding.UTF8.GetString(answer.Body);
                    if (answer.Status != HttpStatusCode.ServiceUnavailable || attempt == 60)
                    {
                        problems.Enqueue($"{grantId}: {answer.Status} {text}");
                        return (grantId, answer.Status);
                    }

                    // As a SaaS backend does: wait what Retry-After asks (at most 3 s here), then send the same grant id again.
                    var retryAfter = answer.Headers.TryGetValue("Retry-After", out var seconds) ? int.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture) : 1;
                    await Task.Delay(TimeSpan.FromSeconds(Math.Clamp(retryAfter, 1, 3)));
                }
            }));

            // Kill the worker in the middle of its chunk, then start a new one in its place.
            var victim = await killed.Task.WaitAsync(TimeSpan.FromMinutes(5));
            if (scale.StopsHost)
            {
                await engines[victim]!.DisposeAsync();
            }

            engines[victim] = scale.StopsHost ? null : engines[victim];
            engines[victim] ??= await QueueEngine.StartAsync(workers[victim].Services, workers[victim].Settings, (message, run) => run(),
                visibilityTimeout: TimeSpan.FromSeconds(2));

            var httpOutcomes = await httpTask;
            var timer = await timerTask;

            // The job ends; chunks that failed for good (every delivery met faults) are retried as an operator would.
            BulkJobStatus status;
            var retries = 0;
            using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(20)))
            {
                while (true)
                {
                    status = await api.StatusAsync(submission.JobId);
                    if (status.FinishedAt is not null && status.FailedChunks.Count == 0)
                    {
                        break;
                    }

                    if (status.FinishedAt is not null)
                    {
                        retries++;
                        await api.Jobs.RetryAsync(submission.JobId, CancellationToken.None);
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(500), timeout.Token);
                }
            }

            // Every row has one outcome, and it is granted: nothing rejected, nothing failed, nothing counted twice.
            var rows = Csv.Results(await api.ResultsAsync(status));
            Assert.Equal(scale.BulkRows, rows.Count);
            Assert.Equal(Enumerable.Range(2, scale.BulkRows).Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)), rows.Select(r => r["line"]));
            Assert.All(rows, r => Assert.Contains(r["status"], new[] { "granted", "duplicate", "granted_or_duplicate" }));
            Assert.Equal(scale.BulkRows, status.Totals.Granted + status.Totals.Duplicates + (status.Totals.GrantedOrDuplicate ?? 0));

            // The chunk the kill interrupted is either finished by then (its message comes back later and is skipped as done)
            // or delivered again before the job ends; either way the checks below must hold. The report says which happened.

            // Every HTTP grant has an answer; repeats are 200s.
            Assert.Empty(problems);
            Assert.Equal(scale.HttpGrants, httpOutcomes.Length);

            // Every campaign target has one outcome, granted once: the occurrence's job holds one row per target of the audience.
            var campaignJob = await campaign.CheckAsync(api, timer.State);
            var campaignResults = await api.ResultsAsync(campaignJob);

            // Balances: exactly what was asked, once. Customers of the bulk file are seeded; those of the HTTP grants are created;
            // every customer of the campaign's audience (the bulk customers among them) has the campaign's units on top, and the
            // customers outside its audience have nothing. Read eight at a time.
            foreach (var customer in campaign.Audience)
            {
                expected[customer] = expected.GetValueOrDefault(customer) + HarnessCampaign.Units;
            }

            foreach (var outsider in campaign.Outsiders)
            {
                expected[outsider] = 0;
            }

            foreach (var http in httpExpected.GroupBy(g => $"web-{int.Parse(g.Key[2..], System.Globalization.CultureInfo.InvariantCulture) % scale.HttpCustomers}"))
            {
                expected[http.Key] = http.Sum(x => x.Value);
            }

            var balances = new ConcurrentDictionary<string, decimal>(StringComparer.Ordinal);
            await Parallel.ForEachAsync(expected.Keys, new ParallelOptions { MaxDegreeOfParallelism = 8 },
                async (customer, _) => balances[customer] = await api.BalanceAsync(customer));
            Assert.Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal), balances.OrderBy(b => b.Key, StringComparer.Ordinal));

            // No grant event was stored twice: one event per distinct grant id.
            Assert.Equal(scale.BulkRows + httpExpected.Count + scale.CampaignCustomers, polar.EventCount - eventsBefore);

            // The token appears in no log line of any level, no problem body, no results file, no campaign state or error.
            var everything = string.Join("\n", logs.Lines) + string.Join("\n", problems) + await api.ResultsAsync(status) + campaignResults
                + string.Join("\n", timer.Errors) + CampaignStateJson.Serialize(timer.State);
            Assert.DoesNotContain(polar.Token, everything, StringComparison.Ordinal);

            await WriteReportAsync(scale, faults, watch.Elapsed, polar.RequestCount, latencies, retries, chunksStarted, interrupted,
                httpOutcomes.Count(o => o.Status == HttpStatusCode.OK), timer);
        }
        finally
        {
            await HarnessCampaign.DeleteAsync(api);
            foreach (var engine in engines)
            {
                if (engine is not null)
                {
                    await engine.DisposeAsync();
                }
            }

            foreach (var app in apps)
            {
                await app.DisposeAsync();
            }

            await BulkApp.DeleteStorageAsync(names);
        }
    }

    private static async Task WriteReportAsync(Scale scale, FaultOptions faults, TimeSpan elapsed, long requests, IEnumerable<double> latencies, int retries,
        int chunkDeliveries, bool interrupted, int repeats, CampaignTimerRun timer)
    {
        if (Environment.GetEnvironmentVariable("RELIABILITY_REPORT") is not { Length: > 0 } path)
        {
            return;
        }

        var sorted = latencies.Order().ToList();
        double Percentile(double p) => sorted.Count == 0 ? 0 : sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];
        var report = new Dictionary<string, object>
        {
            ["httpGrants"] = scale.HttpGrants,
            ["httpRepeats"] = repeats,
            ["bulkRows"] = scale.BulkRows,
            ["workers"] = 3,
            ["workersKilled"] = 1,
            ["faults"] = $"{faults.ErrorRate:P0} 500/503, {faults.RateLimitRate:P0} 429, {faults.DropRate:P0} dropped, {faults.LostAnswerRate:P0} answers lost, {faults.SpikeRate:P0} spikes of {faults.SpikeLatency.TotalMilliseconds} ms",
            ["polarRequests"] = requests,
            ["chunkDeliveries"] = chunkDeliveries,
            ["killInterruptedAChunk"] = interrupted,
            ["operatorRetries"] = retries,
            ["httpLatencyMsP50"] = Math.Round(Percentile(0.50)),
            ["httpLatencyMsP99"] = Math.Round(Percentile(0.99)),
            ["campaignTargets"] = scale.CampaignCustomers,
            ["campaignGranted"] = timer.State.Grants,
            ["campaignDuplicates"] = timer.State.Occurrences.Sum(o => o.Duplicates),
            ["campaignTimerTicks"] = timer.Ticks,
            ["campaignTicksWithAnError"] = timer.Errors.Count,
            ["campaignSecondsToSettled"] = Math.Round(timer.Elapsed.TotalSeconds, 1),
            ["elapsedSeconds"] = Math.Round(elapsed.TotalSeconds, 1),
        };
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(report, Indented));
    }
}
