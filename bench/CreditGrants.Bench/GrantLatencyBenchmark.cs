using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using CreditFunctions;
using CreditFunctions.Functions;
using CreditGrants.Customers;
using CreditGrants.Polar.Http;
using CreditFunctions.Tests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Bench;

/// <summary>
/// How the HTTP grant latency is measured (issue #19: "with a sweep running, HTTP grant p95 stays within 10 % of its idle
/// figure"): <see cref="Rounds"/> rounds of an idle phase then a phase with a customer sweep running, each phase
/// <see cref="Seconds"/> long with grants arriving at <see cref="GrantsPerSecond"/> to <see cref="Customers"/> known customers.
/// </summary>
/// <param name="Rounds">Rounds of idle then sweep.</param>
/// <param name="GrantsPerSecond">Arrival rate of grants (open loop: each starts on time, whatever the earlier ones do).</param>
/// <param name="Seconds">Length of a phase in seconds; with a request limit, each phase starts on a UTC minute (a fresh window).</param>
/// <param name="Customers">Known customers (user-1…) the grants go to in turn; the directory knows them, the sweep does not count on them.</param>
/// <param name="RequestsPerMinute">Polar's limit the app is configured with (<c>Polar:RequestsPerMinute</c>); null: no limit (100,000).</param>
/// <param name="DirectoryStore"><c>table</c>: the app's directory table on Azurite (as deployed); <c>memory</c>: the in-memory
/// store, which takes the table's own contention (the sweep's writes against the grants' reads) out of the figures.</param>
public sealed record GrantLatencyPlan(int Rounds, double GrantsPerSecond, int Seconds, int Customers, int? RequestsPerMinute, string DirectoryStore = "table");

/// <summary>
/// HTTP grant latency with and without a customer sweep running, through the app's own path: the <see cref="GrantCredits"/>
/// function (which marks its requests interactive) over the Functions app's DI container (<c>AddCreditFunctions</c>, as
/// Program.cs builds it), with the request budget shared through a table on Azurite (<c>PolarBudget:Enabled</c>) and the
/// customer directory in the app's table. The sweep is <see cref="CustomerDirectory.SweepAsync"/> on the same services, so
/// it takes the same budget as background traffic. Requests are the tests' <c>FakeHttpRequestData</c> (linked from
/// tests/CreditFunctions.Tests/FakeHttp.cs): a request as the Functions host hands it to the function. Each phase has its
/// own tables: a fresh budget count and a sweep from page 1.
/// </summary>
public static class GrantLatencyBenchmark
{
    /// <summary>The share of the idle p95 the p95 with a sweep running may reach (issue #19).</summary>
    public const double TargetRatio = 1.10;

    private const string Storage = "UseDevelopmentStorage=true";

    /// <summary>One result per phase, then the summary (medians of the rounds, the ratio and whether the target is met).</summary>
    public static async Task<IReadOnlyList<BenchResult>> RunAsync(string label, PolarSettings polar, GrantLatencyPlan plan)
    {
        ArgumentNullException.ThrowIfNull(polar);
        ArgumentNullException.ThrowIfNull(plan);
        var results = new List<BenchResult>();
        for (var round = 1; round <= plan.Rounds; round++)
        {
            foreach (var sweep in new[] { false, true })
            {
                var result = await PhaseAsync($"{label} {(sweep ? "sweep" : "idle")} {round}", sweep, polar, plan).ConfigureAwait(false);
                Console.Error.WriteLine(BenchReport.Line(result));
                results.Add(result);
            }
        }

        results.Add(Summary(label, results, plan));
        return results;
    }

    private static BenchResult Summary(string label, List<BenchResult> phases, GrantLatencyPlan plan)
    {
        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        var idle = phases.Where(p => p.Kind == "http grants idle").ToList();
        var swept = phases.Where(p => p.Kind == "http grants sweep").ToList();
        var (idleP95, sweepP95) = (Median(idle.Select(p => p.LatencyMs!.P95)), Median(swept.Select(p => p.LatencyMs!.P95)));
        var ratio = idleP95 > 0 ? sweepP95 / idleP95 : double.PositiveInfinity;
        var pages = swept.Select(p => (double)(p.RequestsByKind?.GetValueOrDefault("customer list page") ?? 0)).ToList();
        var failed = phases.Sum(p => p.Rejected ?? 0);
        var note = string.Create(CultureInfo.InvariantCulture,
            $"{plan.Rounds} rounds idle/sweep alternating, {plan.GrantsPerSecond:0.##} grants/s for {plan.Seconds} s each, "
            + $"{(plan.RequestsPerMinute is { } limit ? $"{limit}/min" : "no request limit")}, directory in {plan.DirectoryStore}; medians: idle p50/p95/p99 "
            + $"{Median(idle.Select(p => p.LatencyMs!.P50)):0.#}/{idleP95:0.#}/{Median(idle.Select(p => p.LatencyMs!.P99)):0.#} ms, sweep "
            + $"{Median(swept.Select(p => p.LatencyMs!.P50)):0.#}/{sweepP95:0.#}/{Median(swept.Select(p => p.LatencyMs!.P99)):0.#} ms; "
            + $"p95 ratio {ratio:P0} (per round: {string.Join(", ", idle.Zip(swept, (i, s) => (s.LatencyMs!.P95 / Math.Max(0.1, i.LatencyMs!.P95)).ToString("P0", CultureInfo.InvariantCulture)))}); "
            + $"sweep pages per phase {string.Join(", ", pages.Select(p => p.ToString("N0", CultureInfo.InvariantCulture)))}");
        return new BenchResult(label, "http grants p95", phases.Sum(p => p.Rows), phases.Sum(p => p.Seconds),
            phases[^1].Resources)
        {
            Granted = phases.Sum(p => p.Granted ?? 0),
            Rejected = failed,
            RequestsPerMinute = plan.RequestsPerMinute,
            Target = $"p95 with a sweep <= {TargetRatio:P0} of idle",
            TargetMet = ratio <= TargetRatio && failed == 0,
            Note = note,
        };
    }

    private static async Task<BenchResult> PhaseAsync(string name, bool sweep, PolarSettings polar, GrantLatencyPlan plan)
    {
        var tally = new RequestTally();
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var (budgetTable, directoryTable) = ("p95budget" + suffix, "p95directory" + suffix);
        var services = App(polar, plan, tally, budgetTable, directoryTable);
        try
        {
            await using (services.ConfigureAwait(false))
            {
                // The customers the grants go to are known (a running app has met them); the sweep state is empty, so a sweep is due.
                var now = TimeProvider.System.GetUtcNow();
                await services.GetRequiredService<ICustomerDirectoryStore>()
                    .SaveAsync([.. Enumerable.Range(1, plan.Customers).Select(i => new CustomerDirectoryEntry($"user-{i}", null, now))]).ConfigureAwait(false);
                var function = ActivatorUtilities.CreateInstance<GrantCredits>(services);
                // Unreported: JIT, connections, the meter cache and the tables' first requests.
                for (var i = 0; i < 5; i++)
                {
                    _ = await GrantAsync(function, $"p95-warm-{suffix}-{i}", $"user-{i + 1}").ConfigureAwait(false);
                }

                if (plan.RequestsPerMinute is not null)
                {
                    // A fresh window for each phase: what one phase took must not be the next one's budget.
                    var clock = TimeProvider.System.GetUtcNow();
                    await Task.Delay(TimeSpan.FromSeconds(60 - clock.Second) - TimeSpan.FromMilliseconds(clock.Millisecond)).ConfigureAwait(false);
                }

                var directory = services.GetRequiredService<CustomerDirectory>();
                using var stopSweep = new CancellationTokenSource();
                tally.Reset();
                var watch = ResourceWatch.Start(polar.ServerProcessId);
                await using (watch.ConfigureAwait(false))
                {
                    var started = Stopwatch.StartNew();
                    var sweeping = sweep ? Task.Run(() => directory.SweepAsync(cancellationToken: stopSweep.Token)) : null;
                    var count = (int)Math.Round(plan.GrantsPerSecond * plan.Seconds);
                    var grants = new List<Task<(double Ms, bool Ok, GrantTrace Trace)>>(count);
                    for (var i = 0; i < count; i++)
                    {
                        var due = TimeSpan.FromSeconds(i / plan.GrantsPerSecond) - started.Elapsed;
                        if (due > TimeSpan.Zero)
                        {
                            await Task.Delay(due).ConfigureAwait(false);
                        }

                        grants.Add(Task.Run(() => GrantAsync(function, $"p95-{suffix}-{i}", $"user-{(i % plan.Customers) + 1}")));
                    }

                    // The sweep stops just before the phase's window ends, so the next phase's window starts untouched by it.
                    var left = TimeSpan.FromSeconds(plan.Seconds - 1) - started.Elapsed;
                    if (left > TimeSpan.Zero)
                    {
                        await Task.Delay(left).ConfigureAwait(false);
                    }

                    var sweepEnded = sweeping is { IsCompleted: true } ? "the sweep ENDED before the phase did" : null;
                    await stopSweep.CancelAsync().ConfigureAwait(false);
                    var outcomes = await Task.WhenAll(grants).ConfigureAwait(false);
                    var pages = tally.ByKind.GetValueOrDefault("customer list page");
                    if (sweeping is not null)
                    {
                        try
                        {
                            await sweeping.ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            // Stopped at its next checkpoint, as meant.
                        }
                    }

                    var seconds = started.Elapsed.TotalSeconds;
                    var resources = watch.Stop();
                    var latency = LatencyFigures.Of([.. outcomes.Where(o => o.Ok).Select(o => o.Ms)]);
                    var slowest = outcomes.Where(o => o.Ok && o.Ms >= latency.P95).ToList();
                    return tally.Stamp(new BenchResult(name, sweep ? "http grants sweep" : "http grants idle", count, seconds, resources)) with
                    {
                        Granted = outcomes.Count(o => o.Ok),
                        Rejected = outcomes.Count(o => !o.Ok),
                        RequestsPerMinute = plan.RequestsPerMinute,
                        LatencyMs = latency,
                        Note = string.Create(CultureInfo.InvariantCulture,
                            $"grant latency p50/p95/p99/max {latency.P50:0.#}/{latency.P95:0.#}/{latency.P99:0.#}/{latency.Max:0.#} ms "
                            + $"(Polar answered an ingest in {tally.MeanAnswerMs("ingest") ?? 0:0} ms on average); "
                            + $"the slowest 5 % ({slowest.Count}) spent on average {Mean(slowest, static o => o.Ms):0} ms: waiting for the budget "
                            + $"{Mean(slowest, static o => o.Trace.BudgetMs):0}, Polar answering {Mean(slowest, static o => o.Trace.PolarMs):0}, "
                            + $"the directory's table {Mean(slowest, static o => o.Trace.DirectoryMs):0}, the rest (the app's own work, the CPU) "
                            + $"{Mean(slowest, static o => o.Ms - o.Trace.BudgetMs - o.Trace.PolarMs - o.Trace.DirectoryMs):0}; ")
                            + (sweep ? string.Create(CultureInfo.InvariantCulture, $"sweep read {pages:N0} pages during the phase") : "no sweep")
                            + (sweepEnded is null ? "" : "; " + sweepEnded),
                    };
                }
            }
        }
        finally
        {
            await DeleteTablesAsync(budgetTable, directoryTable).ConfigureAwait(false);
        }
    }

    /// <summary>The Functions app's services as Program.cs registers them, with the budget shared through Azurite and a request counter.</summary>
    private static ServiceProvider App(PolarSettings polar, GrantLatencyPlan plan, RequestTally tally, string budgetTable, string directoryTable)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = Storage,
            ["Polar:Server"] = polar.Server,
            ["Polar:AccessToken"] = polar.Token,
            ["Polar:RequestsPerMinute"] = (plan.RequestsPerMinute ?? 100_000).ToString(CultureInfo.InvariantCulture),
            ["PolarBudget:Enabled"] = "true",
            ["PolarBudget:Table"] = budgetTable,
            ["CustomerDirectory:Table"] = directoryTable,
        }).Build();
        var services = new ServiceCollection()
            .AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning).AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace))
            .AddCreditFunctions(configuration);
        services.AddSingleton(tally);
        services.AddHttpClient<PolarClient>()
            .AddHttpMessageHandler(sp => new CountingHandler(sp.GetRequiredService<RequestTally>()))
            .AddHttpMessageHandler(() => new TraceHandler(outer: false));
        // Outside the resilience handler (and so the request budget): a grant's Polar calls from the budget on.
        services.Configure<HttpClientFactoryOptions>(nameof(PolarClient),
            options => options.HttpMessageHandlerBuilderActions.Add(builder => builder.AdditionalHandlers.Insert(0, new TraceHandler(outer: true))));
        var directory = services.Last(d => d.ServiceType == typeof(ICustomerDirectoryStore));
        services.Replace(ServiceDescriptor.Singleton<ICustomerDirectoryStore>(sp => new TracedDirectoryStore(plan.DirectoryStore switch
        {
            "table" => (ICustomerDirectoryStore)directory.ImplementationFactory!(sp),
            "memory" => new InMemoryCustomerDirectoryStore(),
            var other => throw new ArgumentException($"--directory-store is table or memory, not '{other}'."),
        })));
        return services.BuildServiceProvider();
    }

    private static double Mean<T>(List<T> items, Func<T, double> value) => items.Count == 0 ? 0 : items.Average(value);

    /// <summary>Where one grant's time went, filled by the handlers and the directory store of its own async flow.</summary>
    private sealed class GrantTrace
    {
        public static readonly AsyncLocal<GrantTrace?> Current = new();
        private long _outerTicks, _polarTicks, _directoryTicks;

        /// <summary>Waiting for the request budget (and the resilience pipeline's own work, retries' waits included).</summary>
        public double BudgetMs => TimeSpan.FromTicks(Interlocked.Read(ref _outerTicks) - Interlocked.Read(ref _polarTicks)).TotalMilliseconds;

        public double PolarMs => TimeSpan.FromTicks(Interlocked.Read(ref _polarTicks)).TotalMilliseconds;

        public double DirectoryMs => TimeSpan.FromTicks(Interlocked.Read(ref _directoryTicks)).TotalMilliseconds;

        public void Add(bool outer, TimeSpan elapsed) => Interlocked.Add(ref outer ? ref _outerTicks : ref _polarTicks, elapsed.Ticks);

        public void AddDirectory(TimeSpan elapsed) => Interlocked.Add(ref _directoryTicks, elapsed.Ticks);
    }

    /// <summary>Times the grant's Polar calls: outside the budget (outer), or the request on the wire alone (inner).</summary>
    private sealed class TraceHandler(bool outer) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                GrantTrace.Current.Value?.Add(outer, Stopwatch.GetElapsedTime(started));
            }
        }
    }

    /// <summary>The app's directory store, its lookups timed for the grant that makes them.</summary>
    private sealed class TracedDirectoryStore(ICustomerDirectoryStore inner) : ICustomerDirectoryStore
    {
        public async Task<IReadOnlyDictionary<string, CustomerDirectoryEntry>> FindAsync(IReadOnlyCollection<string> externalIds, CancellationToken cancellationToken = default)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                return await inner.FindAsync(externalIds, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                GrantTrace.Current.Value?.AddDirectory(Stopwatch.GetElapsedTime(started));
            }
        }

        public Task SaveAsync(IReadOnlyCollection<CustomerDirectoryEntry> entries, CancellationToken cancellationToken = default) =>
            inner.SaveAsync(entries, cancellationToken);

        public Task ForgetAsync(string externalId, CancellationToken cancellationToken = default) => inner.ForgetAsync(externalId, cancellationToken);

        public Task<CustomerSweepState> ReadSweepAsync(CancellationToken cancellationToken = default) => inner.ReadSweepAsync(cancellationToken);

        public Task<bool> TryWriteSweepAsync(CustomerSweepState state, string? expectedVersion, CancellationToken cancellationToken = default) =>
            inner.TryWriteSweepAsync(state, expectedVersion, cancellationToken);
    }

    private static async Task<(double Ms, bool Ok, GrantTrace Trace)> GrantAsync(GrantCredits function, string grantId, string externalId)
    {
        var trace = new GrantTrace();
        GrantTrace.Current.Value = trace;
        var body = Encoding.UTF8.GetBytes($$"""{"customer":{"externalId":"{{externalId}}"},"units":1,"grantId":"{{grantId}}"}""");
        var clock = Stopwatch.StartNew();
        try
        {
            var response = (FakeHttpResponseData)await function.Run(new FakeHttpRequestData("POST", new Uri("https://bench.example.net/api/grants"), body),
                CancellationToken.None).ConfigureAwait(false);
            var ms = clock.Elapsed.TotalMilliseconds;
            if (response.StatusCode != HttpStatusCode.Created)
            {
                Console.Error.WriteLine($"grant {grantId}: {(int)response.StatusCode} {response.BodyText}");
            }

            return (ms, response.StatusCode == HttpStatusCode.Created, trace);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"grant {grantId}: {ex.GetType().Name}: {ex.Message}");
            return (clock.Elapsed.TotalMilliseconds, false, trace);
        }
    }

    private static async Task DeleteTablesAsync(params string[] tables)
    {
        var account = new Azure.Data.Tables.TableServiceClient(Storage);
        foreach (var table in tables)
        {
            try
            {
                await account.DeleteTableAsync(table).ConfigureAwait(false);
            }
            catch (Azure.RequestFailedException)
            {
                // Best effort: a phase's tables have names of their own.
            }
        }
    }
}
