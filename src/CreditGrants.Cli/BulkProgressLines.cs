using System.Globalization;
using CreditGrants.Bulk;

namespace CreditGrants.Cli;

/// <summary>
/// Progress of a bulk run as plain lines, for logs and pipes: "12,000 / 100,000 rows (12%): 11,990 granted, 10 rejected".
/// Writes the first report, then at most one line per interval, and always the last; while no row finishes (Polar's request
/// budget, retries), <see cref="Tick"/> repeats the last line each interval, so a run never looks hung.
/// </summary>
internal sealed class BulkProgressLines(TextWriter writer, TimeProvider time, TimeSpan interval)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(2);

    private readonly Lock _lock = new();
    private long? _printedAt;
    private long _printedRows = -1;
    private BulkProgress? _last;
    private long _changedAt;

    public void Write(BulkProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (_last is null || _last.RowsDone != progress.RowsDone)
            {
                _changedAt = now;
            }

            _last = progress;
            var finished = progress.RowsDone >= progress.RowsTotal;
            var due = _printedAt is not { } printedAt || time.GetElapsedTime(printedAt, now) >= interval;
            if (progress.RowsDone == _printedRows || !(finished || due))
            {
                return;
            }

            Print(Line(progress), now);
            _printedRows = progress.RowsDone;
        }
    }

    /// <summary>
    /// Called each interval from a timer: when nothing was printed for an interval, prints the latest progress again with how long
    /// no row has finished. Nothing before the first report or after the last row.
    /// </summary>
    public void Tick()
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (_last is not { } last || last.RowsDone >= last.RowsTotal
                || (_printedAt is { } printedAt && time.GetElapsedTime(printedAt, now) < interval))
            {
                return;
            }

            var waiting = time.GetElapsedTime(_changedAt, now);
            Print(string.Create(CultureInfo.InvariantCulture, $"{Line(last)}; still working, no row finished for {waiting.TotalSeconds:N0} s"), now);
            _printedRows = last.RowsDone;
        }
    }

    private void Print(string line, long now)
    {
        writer.WriteLine(line);
        writer.Flush();
        _printedAt = now;
    }

    public static string Line(BulkProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var percent = progress.RowsTotal == 0 ? 100 : progress.RowsDone * 100 / progress.RowsTotal;
        var line = string.Create(CultureInfo.InvariantCulture, $"{progress.RowsDone:N0} / {progress.RowsTotal:N0} rows ({percent}%)");
        return progress.RowsDone == 0 ? line : $"{line}: {Counts(progress.Summary)}";
    }

    /// <summary>"8 granted, 2 rejected": the outcomes so far, leaving out those no row has had.</summary>
    public static string Counts(BulkSummary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        (long Count, string Name)[] counts =
        [
            (summary.Granted, "granted"), (summary.Duplicates, summary.Duplicates == 1 ? "duplicate" : "duplicates"), (summary.GrantedOrDuplicate, "granted or duplicate"),
            (summary.Rejected, "rejected"), (summary.Failed, "failed"),
        ];
        var shown = counts.Where(c => c.Count > 0).Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Count:N0} {c.Name}")).ToList();
        return shown.Count == 0 ? "nothing yet" : string.Join(", ", shown);
    }
}

/// <summary>
/// Reports progress on the caller's thread, in order. <see cref="Progress{T}"/> posts to the thread pool, so its
/// last report could print after the summary.
/// </summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
