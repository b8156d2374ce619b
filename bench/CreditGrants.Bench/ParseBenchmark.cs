using System.Diagnostics;
using CreditGrants.Bulk;
using CreditGrants.Grants;

namespace CreditGrants.Bench;

/// <summary>Rows per second of planning a file (<see cref="BulkGrantFile.PlanAsync"/>) and reading every chunk back with the grant rules.</summary>
public static class ParseBenchmark
{
    public const double TargetRowsPerSecond = 50_000;

    private const int WarmUpRows = 20_000;

    public static async Task<BenchResult> RunAsync(string name, string path, int chunkRows)
    {
        var validator = new GrantValidator(new GrantOptions());
        await WarmUpAsync(path, chunkRows, validator).ConfigureAwait(false);

        var watch = ResourceWatch.Start(serverProcessId: null);
        await using (watch.ConfigureAwait(false))
        {
            var clock = Stopwatch.StartNew();
            var plan = await FileChunks.PlanAsync(path, chunkRows).ConfigureAwait(false);
            var planSeconds = clock.Elapsed.TotalSeconds;
            long valid = 0, rejected = 0;
            await foreach (var rows in FileChunks.ReadAsync(path, plan, validator).ConfigureAwait(false))
            {
                foreach (var row in rows)
                {
                    if (row.IsValid)
                    {
                        valid++;
                    }
                    else
                    {
                        rejected++;
                    }
                }
            }

            var seconds = clock.Elapsed.TotalSeconds;
            var memory = watch.Stop();
            var result = new BenchResult(name, "parse", plan.Rows, seconds, memory)
            {
                Granted = valid,
                Rejected = rejected,
                Note = $"plan {planSeconds:F2} s ({plan.Rows / planSeconds:N0} rows/s), read+validate {seconds - planSeconds:F2} s "
                    + $"({plan.Rows / (seconds - planSeconds):N0} rows/s), {memory.AllocatedMb * 1024 * 1024 / Math.Max(1, plan.Rows):N0} B allocated/row",
                Target = $">= {TargetRowsPerSecond:N0} rows/s",
            };
            return result with { TargetMet = result.RowsPerSecond >= TargetRowsPerSecond };
        }
    }

    /// <summary>Runs the same code over a small in-memory file of the same shape, so the JIT's tiers are settled before the clock starts.</summary>
    private static async Task WarmUpAsync(string path, int chunkRows, GrantValidator validator)
    {
        var shape = File.ReadLines(path).First().Contains("email", StringComparison.Ordinal) ? BenchFileShape.Emails : BenchFileShape.Ids;
        var warmUpPath = Path.Combine(Path.GetTempPath(), $"bench-warmup-{Guid.NewGuid():N}.csv");
        try
        {
            await BenchFile.WriteAsync(warmUpPath, WarmUpRows, shape, "warmup").ConfigureAwait(false);
            for (var pass = 0; pass < 3; pass++)
            {
                var plan = await FileChunks.PlanAsync(warmUpPath, chunkRows).ConfigureAwait(false);
                await foreach (var _ in FileChunks.ReadAsync(warmUpPath, plan, validator).ConfigureAwait(false))
                {
                }
            }
        }
        finally
        {
            File.Delete(warmUpPath);
        }
    }
}
