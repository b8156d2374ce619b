using System.Globalization;
using System.Text;

namespace CreditGrants.Bench;

/// <summary>Formats results: one line per measurement while running, a Markdown table at the end.</summary>
public static class BenchReport
{
    public static string Line(BenchResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"{result.Name}: {result.Rows:N0} rows in {result.Seconds:F2} s = {result.RowsPerSecond:N0} rows/s");
        if (result.Requests is { } requests)
        {
            text.Append(CultureInfo.InvariantCulture, $"; {requests:N0} Polar requests ({Kinds(result)}) = {result.RequestsPer1000:F2} per 1,000 grants");
        }

        if (result.PolarWaitSeconds is { } wait)
        {
            text.Append(CultureInfo.InvariantCulture, $"; waiting on Polar {wait:F2} s");
        }

        if (result.BytesSent is > 0 and { } sent)
        {
            text.Append(CultureInfo.InvariantCulture, $"; {sent / 1024.0 / 1024:N1} MiB of request bodies ({sent / (double)Math.Max(1, result.Granted ?? result.Rows):N0} B per grant)");
        }

        if (result.RateLimited is > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"; {result.RateLimited} answered 429");
        }

        if (result.BoundSeconds is { } bound)
        {
            text.Append(CultureInfo.InvariantCulture, $"; budget bound {bound:F0} s");
        }

        var memory = result.Resources;
        text.Append(CultureInfo.InvariantCulture,
            $"; peak WS {memory.PeakWorkingSetMb:F0} MB (before {memory.WorkingSetBeforeMb:F0}), peak GC heap {memory.PeakGcHeapMb:F0} MB, "
            + $"allocated {memory.AllocatedMb:N0} MB, GCs {memory.Gen0}/{memory.Gen1}/{memory.Gen2}; CPU {Cpu(result)}");
        if (memory.ServerWorkingSetMb is { } serverMemory)
        {
            text.Append(CultureInfo.InvariantCulture, $"; emulator WS {serverMemory:N0} MB");
        }

        if (memory.LoadAverage is { } load)
        {
            text.Append(CultureInfo.InvariantCulture, $"; load {load}");
        }
        if (result.Note is { } note)
        {
            text.Append("; ").Append(note);
        }

        if (result.TargetMet is { } met)
        {
            text.Append(CultureInfo.InvariantCulture, $"; target {result.Target}: {(met ? "met" : "MISSED")}");
        }

        return text.ToString();
    }

    public static string Table(IReadOnlyList<BenchResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var table = new StringBuilder();
        table.AppendLine("| measurement | rows | time | rows/s | waiting on Polar | Polar requests | req / 1,000 grants | budget bound | peak WS | peak GC heap | allocated | CPU bench / emulator | load | target | met |");
        table.AppendLine("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
        foreach (var r in results)
        {
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Rows:N0} | {Duration(r.Seconds)} | {r.RowsPerSecond:N0} | {(r.PolarWaitSeconds is { } wait ? Duration(wait) : "–")} | {(r.Requests is { } n ? $"{n:N0} ({Kinds(r)})" : "–")} "
                + $"| {(r.RequestsPer1000 is { } per ? per.ToString("F2", CultureInfo.InvariantCulture) : "–")} "
                + $"| {(r.BoundSeconds is { } bound ? Duration(bound) : "–")} "
                + $"| {r.Resources.PeakWorkingSetMb:F0} MB | {r.Resources.PeakGcHeapMb:F0} MB | {r.Resources.AllocatedMb:N0} MB | {Cpu(r)} | {r.Resources.LoadAverage ?? "–"} "
                + $"| {r.Target ?? "–"} | {(r.TargetMet is { } met ? met ? "yes" : "**no**" : "–")} |"));
        }

        foreach (var naive in results.Where(r => r.Baseline is not null))
        {
            if (results.FirstOrDefault(r => r.Name == naive.Baseline) is not { } bulk)
            {
                continue;
            }

            table.AppendLine();
            table.Append(CultureInfo.InvariantCulture,
                $"{naive.Name} vs {bulk.Name}: {naive.RequestsPer1000 / bulk.RequestsPer1000:N0}× the requests per grant, "
                + $"{bulk.RowsPerSecond / naive.RowsPerSecond:N0}× the time per row.");
            table.AppendLine();
        }

        var notes = results.Where(r => r.Note is not null).Select(r => $"- {r.Name}: {r.Note}").ToList();
        if (notes.Count > 0)
        {
            table.AppendLine().AppendLine(string.Join(Environment.NewLine, notes));
        }

        return table.ToString();
    }

    private static string Cpu(BenchResult result) => result.Resources.ServerCpuSeconds is { } server
        ? string.Create(CultureInfo.InvariantCulture, $"{result.Resources.CpuSeconds:F1} s / {server:F1} s")
        : string.Create(CultureInfo.InvariantCulture, $"{result.Resources.CpuSeconds:F1} s");

    private static string Kinds(BenchResult result) =>
        result.RequestsByKind is { Count: > 0 } kinds ? string.Join(", ", kinds.Select(k => $"{k.Value:N0} {k.Key}")) : "none";

    private static string Duration(double seconds) => seconds switch
    {
        < 120 => string.Create(CultureInfo.InvariantCulture, $"{seconds:F1} s"),
        < 7200 => string.Create(CultureInfo.InvariantCulture, $"{seconds / 60:F1} min"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600:F1} h"),
    };
}
