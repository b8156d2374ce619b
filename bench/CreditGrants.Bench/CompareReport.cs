using System.Globalization;
using System.Text;

namespace CreditGrants.Bench;

/// <summary>
/// Side-by-side figures of repeated runs (<c>bench/run.sh compare</c> and <c>batch-sizes</c>): every run in the order it ran,
/// then the medians of the runs that share a name, with the median wall time as a share of the first name's.
/// </summary>
public static class CompareReport
{
    /// <summary>Two Markdown tables: the runs, then the medians per name (names in order of first appearance).</summary>
    public static string Table(IReadOnlyList<BenchResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var text = new StringBuilder();
        text.AppendLine("| # | run | rows | wall | waiting on Polar | CPU bench | CPU emulator | peak WS | Polar requests | KiB per ingest | ms per request | load | check |");
        text.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for (var i = 0; i < results.Count; i++)
        {
            var r = results[i];
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {i + 1} | {r.Name} | {r.Rows:N0} | {r.Seconds:F2} s | {r.PolarWaitSeconds ?? 0:F2} s | {r.Resources.CpuSeconds:F2} s "
                + $"| {Seconds(r.Resources.ServerCpuSeconds)} | {r.Resources.PeakWorkingSetMb:F0} MB | {r.Requests ?? 0:N0} | {KibPerIngest(r):N0} "
                + $"| {MsPerRequest(r):F2} | {r.Resources.LoadAverage ?? "–"} | {r.Note ?? "–"} |"));
        }

        text.AppendLine();
        text.AppendLine("| run | runs | wall, median (min–max) | of the first | waiting on Polar | CPU bench | CPU emulator | peak WS (max) | Polar requests | ingest requests | KiB per ingest | ms per request | load (min–max) |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var groups = results.GroupBy(r => r.Name, StringComparer.Ordinal).ToList();
        var first = groups.Count == 0 ? 0 : Median(groups[0].Select(r => r.Seconds));
        foreach (var group in groups)
        {
            var runs = group.ToList();
            var wall = Median(runs.Select(r => r.Seconds));
            var loads = runs.Select(r => double.TryParse(r.Resources.LoadAverage, CultureInfo.InvariantCulture, out var load) ? load : double.NaN).ToList();
            var serverCpu = runs.Where(r => r.Resources.ServerCpuSeconds is not null).Select(r => r.Resources.ServerCpuSeconds!.Value).ToList();
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key} | {runs.Count} | {wall:F2} s ({runs.Min(r => r.Seconds):F2}–{runs.Max(r => r.Seconds):F2}) | {wall / first:P0} "
                + $"| {Median(runs.Select(r => r.PolarWaitSeconds ?? 0)):F2} s | {Median(runs.Select(r => r.Resources.CpuSeconds)):F2} s "
                + $"| {Seconds(serverCpu.Count == 0 ? null : Median(serverCpu))} | {runs.Max(r => r.Resources.PeakWorkingSetMb):F0} MB "
                + $"| {Median(runs.Select(r => (double)(r.Requests ?? 0))):N0} | {Median(runs.Select(r => (double)Ingests(r))):N0} "
                + $"| {Median(runs.Select(KibPerIngest)):N0} | {Median(runs.Select(MsPerRequest)):F2} | {loads.Min():F2}–{loads.Max():F2} |"));
        }

        return text.ToString();
    }

    /// <summary>The middle value, or the mean of the two middle values of an even count.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        var middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static int Ingests(BenchResult result) => result.RequestsByKind?.GetValueOrDefault("ingest") ?? 0;

    /// <summary>Request body bytes per ingest request, in KiB (the other requests of a bulk run are GETs, without a body).</summary>
    private static double KibPerIngest(BenchResult result) => (result.BytesSent ?? 0) / 1024.0 / Math.Max(1, Ingests(result));

    /// <summary>Milliseconds from sending a request to its answer, on average: the emulator's handling time as this process sees it.</summary>
    private static double MsPerRequest(BenchResult result) => (result.PolarWaitSeconds ?? 0) * 1000 / Math.Max(1, result.Requests ?? 0);

    private static string Seconds(double? seconds) => seconds is { } value ? string.Create(CultureInfo.InvariantCulture, $"{value:F2} s") : "–";
}
