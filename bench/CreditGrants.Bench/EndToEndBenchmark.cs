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
            var byKind = tally.ByKind;
            var rateLimited = tally.RateLimited;
            var wait = tally.WaitSeconds;
            var bytesSent = tally.BytesSent;
            var check = await probe.FinishAsync().ConfigureAwait(false);
            var result = new BenchResult(name, "bulk", summary.Rows, seconds, memory)
            {
                Granted = summary.Granted + summary.GrantedOrDuplicate,
                Rejected = summary.Rejected + summary.Failed,
                Duplicates = summary.Duplicates,
                Requests = requests,
                RequestsByKind = byKind,
                RateLimited = rateLimited,
                PolarWaitSeconds = wait,
                BytesSent = bytesSent,
                RequestsPerMinute = polar.RequestsPerMinute,
                BoundSeconds = polar.RequestsPerMinute is { } budget ? requests * 60.0 / budget : null,
                ChunkRows = polar.ChunkRows,
                MaxEventsPerRequest = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<PolarClientOptions>>().Value.MaxEventsPerRequest,
                Note = check,
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

            var requests = tally.Total;
            var byKind = tally.ByKind;
            var rateLimited = tally.RateLimited;
            var wait = tally.WaitSeconds;
            var bytesSent = tally.BytesSent;
            var check = await probe.FinishAsync().ConfigureAwait(false);
            var perRow = seconds / Math.Max(1, rows);
            return new BenchResult(name, "naive", rows, seconds, memory)
            {
                Granted = granted,
                Rejected = refused,
                Requests = requests,
                RequestsByKind = byKind,
                RateLimited = rateLimited,
                PolarWaitSeconds = wait,
                BytesSent = bytesSent,
                Baseline = baseline,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"extrapolated: 100,000 rows {perRow * 100_000 / 60:F1} min, 1,000,000 rows {perRow * 1_000_000 / 60:F0} min; {check}"),
            };
        }
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
