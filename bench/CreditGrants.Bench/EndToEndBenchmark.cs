using System.Diagnostics;
using System.Globalization;
using CreditGrants.Bulk;
using CreditGrants.Grants;
using CreditGrants.Polar;
using Microsoft.Extensions.DependencyInjection;

namespace CreditGrants.Bench;

/// <summary>Where Polar is and how the run may use it.</summary>
public sealed record PolarSettings(string Server, string Token, int? RequestsPerMinute, int ChunkRows, int? ServerProcessId)
{
    /// <summary><c>Polar:MaxEventsPerRequest</c> for the run; null keeps the gateway's default.</summary>
    public int? MaxEventsPerRequest { get; init; }

    /// <summary>The customer directory a bulk run starts from: cold, warm or swept (see <see cref="BenchDirectory"/>).</summary>
    public string Directory { get; init; } = "cold";

    /// <summary>Where the customer directory is kept: sqlite (the CLI's store) or memory.</summary>
    public string DirectoryStore { get; init; } = "sqlite";

    /// <summary>The SQLite directory file to use (kept after the run); null: a new temporary one.</summary>
    public string? DirectoryFile { get; init; }
}

/// <summary>What a run must meet to pass: Polar requests per 1,000 grants and the peak working set.</summary>
public sealed record EndToEndTargets(double? MaxRequestsPer1000, double? MaxPeakWorkingSetMb);

/// <summary>
/// Grants a file against Polar (the emulator) two ways: with <see cref="BulkRunner.RunFileAsync"/>, and the naive way
/// the guide's snippets do it, one <see cref="GrantService.GrantAsync"/> per row (a customer read, then an ingest of one event).
/// </summary>
public static class EndToEndBenchmark
{
    public static async Task<BenchResult> BulkAsync(string name, string path, PolarSettings polar, EndToEndTargets targets)
    {
        ArgumentNullException.ThrowIfNull(polar);
        ArgumentNullException.ThrowIfNull(targets);
        var tally = new RequestTally();
        var services = PolarHost.Build(polar, tally);
        await using (services.ConfigureAwait(false))
        {
            var directory = await BenchDirectory.PrepareAsync(services, polar.Directory, polar.DirectoryStore, polar.DirectoryFile, path).ConfigureAwait(false);
            var probe = await BalanceProbe.StartAsync(services.GetRequiredService<IPolarGateway>(), path).ConfigureAwait(false);
            tally.Reset();
            var runner = services.GetRequiredService<BulkRunner>();
            var resultsPath = Path.Combine(Path.GetTempPath(), $"bench-results-{Guid.NewGuid():N}.csv");
            BulkSummary summary;
            double seconds;
            ResourceFigures memory;
            try
            {
                var watch = ResourceWatch.Start(polar.ServerProcessId);
                await using (watch.ConfigureAwait(false))
                {
                    var clock = Stopwatch.StartNew();
                    summary = await runner.RunFileAsync(path, resultsPath, new BulkRun(new BulkDefaults(), Path.GetFileNameWithoutExtension(path)), progress: null).ConfigureAwait(false);
                    seconds = clock.Elapsed.TotalSeconds;
                    memory = watch.Stop();
                }
            }
            finally
            {
                File.Delete(resultsPath);
            }

            var requests = tally.Total;
            var counted = tally.Stamp(new BenchResult(name, "bulk", summary.Rows, seconds, memory));
            var check = await probe.FinishAsync().ConfigureAwait(false);
            var result = counted with
            {
                Granted = summary.Granted + summary.GrantedOrDuplicate,
                Rejected = summary.Rejected + summary.Failed,
                Duplicates = summary.Duplicates,
                RequestsPerMinute = polar.RequestsPerMinute,
                BoundSeconds = polar.RequestsPerMinute is { } budget ? requests * 60.0 / budget : null,
                ChunkRows = polar.ChunkRows,
                MaxEventsPerRequest = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<PolarClientOptions>>().Value.MaxEventsPerRequest,
                Note = $"{check}; {directory}",
            };
            return WithTargets(result, targets);
        }
    }

    public static async Task<BenchResult> NaiveAsync(string name, string path, PolarSettings polar, long maxRows, string? baseline)
    {
        ArgumentNullException.ThrowIfNull(polar);
        var tally = new RequestTally();
        var services = PolarHost.Build(polar, tally);
        await using (services.ConfigureAwait(false))
        {
            var result = await GrantEachAsync(services, tally, name, path, polar, maxRows).ConfigureAwait(false);
            var perRow = result.Seconds / Math.Max(1, result.Rows);
            return result with
            {
                Baseline = baseline,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"extrapolated: 100,000 rows {perRow * 100_000 / 60:F1} min, 1,000,000 rows {perRow * 1_000_000 / 60:F0} min; {result.Note}"),
            };
        }
    }

    /// <summary>
    /// Single grants as the app's <c>POST /api/grants</c> makes them (<c>GrantApi</c> calls <see cref="GrantService.GrantAsync"/>
    /// once per request; its caps and body checks make no Polar request): every row of each file in turn, one at a time, in
    /// one process, so that the customer directory (<see cref="PolarSettings.DirectoryStore"/>, starting empty) keeps what
    /// the earlier files taught it. One result per file, its requests counted alone.
    /// </summary>
    public static async Task<IReadOnlyList<BenchResult>> GrantSequenceAsync(IReadOnlyList<(string Name, string Path)> files, PolarSettings polar)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(polar);
        var tally = new RequestTally();
        var services = PolarHost.Build(polar, tally);
        await using (services.ConfigureAwait(false))
        {
            var results = new List<BenchResult>(files.Count);
            foreach (var (name, path) in files)
            {
                results.Add(await GrantEachAsync(services, tally, name, path, polar, long.MaxValue).ConfigureAwait(false) with { Kind = "single grants" });
            }

            return results;
        }
    }

    /// <summary>Each row of the file granted alone with <see cref="GrantService.GrantAsync"/>, in file order; the requests counted from the first grant to the last.</summary>
    private static async Task<BenchResult> GrantEachAsync(ServiceProvider services, RequestTally tally, string name, string path, PolarSettings polar, long maxRows)
    {
        var probe = await BalanceProbe.StartAsync(services.GetRequiredService<IPolarGateway>(), path).ConfigureAwait(false);
        tally.Reset();
        var grants = services.GetRequiredService<GrantService>();
        var validator = services.GetRequiredService<GrantValidator>();
        long rows = 0, granted = 0, refused = 0;
        double seconds;
        ResourceFigures memory;
        var watch = ResourceWatch.Start(polar.ServerProcessId);
        await using (watch.ConfigureAwait(false))
        {
            var clock = Stopwatch.StartNew();
            var plan = await FileChunks.PlanAsync(path, polar.ChunkRows).ConfigureAwait(false);
            await foreach (var chunk in FileChunks.ReadAsync(path, plan, validator).ConfigureAwait(false))
            {
                foreach (var row in chunk.TakeWhile(_ => rows < maxRows))
                {
                    rows++;
                    if (!row.IsValid)
                    {
                        refused++;
                        continue;
                    }

                    try
                    {
                        var outcome = await grants.GrantAsync(row.Grant!).ConfigureAwait(false);
                        granted += outcome.Status == GrantStatus.Granted ? 1 : 0;
                    }
                    catch (GrantException)
                    {
                        refused++;
                    }
                }

                if (rows >= maxRows)
                {
                    break;
                }
            }

            seconds = clock.Elapsed.TotalSeconds;
            memory = watch.Stop();
        }

        var counted = tally.Stamp(new BenchResult(name, "naive", rows, seconds, memory));
        var check = await probe.FinishAsync().ConfigureAwait(false);
        return counted with
        {
            Granted = granted,
            Rejected = refused,
            RequestsPerMinute = polar.RequestsPerMinute,
            Note = check,
        };
    }

    internal static BenchResult WithTargets(BenchResult result, EndToEndTargets targets)
    {
        var parts = new List<string>();
        var met = true;
        if (targets.MaxRequestsPer1000 is { } maxRequests)
        {
            parts.Add($"<= {maxRequests:0.##} req/1000 grants");
            met &= result.RequestsPer1000 <= maxRequests;
        }

        if (targets.MaxPeakWorkingSetMb is { } maxPeak)
        {
            parts.Add($"peak WS <= {maxPeak:N0} MB");
            met &= result.Resources.PeakWorkingSetMb <= maxPeak;
        }

        // A run that did not grant every row meets nothing, however fast it was.
        met &= result.Rejected == 0 && result.Duplicates == 0;
        return parts.Count == 0 ? result : result with { Target = string.Join(", ", parts), TargetMet = met };
    }

    /// <summary>
    /// The balance of the file's first customer before and after the run, read outside the counted requests: proof that
    /// the grants reached the meter. Meters are found uncached, so the run's own meter read is not saved by the probe.
    /// </summary>
    private sealed class BalanceProbe
    {
        private readonly IPolarGateway _polar;
        private readonly string _externalId;
        private readonly decimal _units;
        private readonly decimal _before;

        private BalanceProbe(IPolarGateway polar, string externalId, decimal units, decimal before)
        {
            _polar = polar;
            _externalId = externalId;
            _units = units;
            _before = before;
        }

        public static async Task<BalanceProbe> StartAsync(IPolarGateway polar, string path)
        {
            var first = File.ReadLines(path).Skip(1).First().Split(',');
            var units = decimal.Parse(first[1], CultureInfo.InvariantCulture);
            return new BalanceProbe(polar, first[0], units, await BalanceAsync(polar, first[0]).ConfigureAwait(false));
        }

        public async Task<string> FinishAsync()
        {
            var after = await BalanceAsync(_polar, _externalId).ConfigureAwait(false);
            var verdict = after - _before == _units ? "as granted" : $"EXPECTED +{_units}";
            return string.Create(CultureInfo.InvariantCulture, $"balance of {_externalId} {_before} -> {after} ({verdict})");
        }

        private static async Task<decimal> BalanceAsync(IPolarGateway polar, string externalId)
        {
            var meter = await polar.FindMeterAsync(new GrantOptions().DefaultMeter).ConfigureAwait(false)
                ?? throw new InvalidOperationException("The emulator has no 'API Calls' meter; start it with --seed-meter.");
            var customer = await polar.FindCustomerByExternalIdAsync(externalId).ConfigureAwait(false);
            if (customer is null)
            {
                return 0;
            }

            return (await polar.GetCustomerMeterAsync(customer.Id, meter.Id).ConfigureAwait(false))?.Balance ?? 0;
        }
    }
}
