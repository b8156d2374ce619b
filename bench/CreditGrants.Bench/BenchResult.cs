using System.Text.Json;
using System.Text.Json.Serialization;

namespace CreditGrants.Bench;

/// <summary>One measurement, as one JSON line on stdout; <c>report</c> turns a file of them into a table.</summary>
public sealed record BenchResult(
    string Name,
    string Kind,
    long Rows,
    double Seconds,
    ResourceFigures Resources)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public double RowsPerSecond => Seconds > 0 ? Rows / Seconds : 0;

    public long? Granted { get; init; }

    public long? Rejected { get; init; }

    public long? Duplicates { get; init; }

    public int? Requests { get; init; }

    public IReadOnlyDictionary<string, int>? RequestsByKind { get; init; }

    public int? RateLimited { get; init; }

    /// <summary>Wall time spent waiting for Polar's answers (the rest of <see cref="Seconds"/> is this process working, or waiting on the budget).</summary>
    public double? PolarWaitSeconds { get; init; }

    /// <summary>Request body bytes sent to Polar.</summary>
    public long? BytesSent { get; init; }

    /// <summary>Requests per 1,000 grants (rows granted, or rows when nothing was granted).</summary>
    public double? RequestsPer1000 => Requests is { } requests ? requests * 1000.0 / Math.Max(1, Granted ?? Rows) : null;

    /// <summary>The shortest time a request budget allows for this many requests: requests ÷ budget per minute.</summary>
    public double? BoundSeconds { get; init; }

    public int? RequestsPerMinute { get; init; }

    /// <summary>Rows per chunk the run was cut into (<c>Bulk:ChunkRows</c>).</summary>
    public int? ChunkRows { get; init; }

    /// <summary>The most events one ingest request carried (<c>Polar:MaxEventsPerRequest</c>).</summary>
    public int? MaxEventsPerRequest { get; init; }

    /// <summary>For HTTP grant latency runs: the grants' latencies in milliseconds.</summary>
    public LatencyFigures? LatencyMs { get; init; }

    public string? Target { get; init; }

    public bool? TargetMet { get; init; }

    public string? Note { get; init; }

    /// <summary>For a naive run: the bulk measurement it is compared with.</summary>
    public string? Baseline { get; init; }

    /// <summary>
    /// This result with the Polar requests a run made (<paramref name="tally"/>: count, by kind, rate-limited, wait, bytes)
    /// and, under a budget of <paramref name="requestsPerMinute"/>, the shortest time it allows for them.
    /// </summary>
    public BenchResult WithRequests(RequestTally tally, int? requestsPerMinute)
    {
        ArgumentNullException.ThrowIfNull(tally);
        return this with
        {
            Requests = tally.Total,
            RequestsByKind = tally.ByKind,
            RateLimited = tally.RateLimited,
            PolarWaitSeconds = tally.WaitSeconds,
            BytesSent = tally.BytesSent,
            RequestsPerMinute = requestsPerMinute,
            BoundSeconds = requestsPerMinute is { } budget ? tally.Total * 60.0 / budget : null,
        };
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static BenchResult FromJson(string line) =>
        JsonSerializer.Deserialize<BenchResult>(line, Json) ?? throw new InvalidDataException($"Not a benchmark result: {line}");
}

/// <summary>Grant latencies of one phase, in milliseconds (nearest-rank percentiles).</summary>
public sealed record LatencyFigures(int Count, double P50, double P95, double P99, double Max)
{
    /// <summary>The figures of <paramref name="milliseconds"/>; all zero when there are none.</summary>
    public static LatencyFigures Of(IReadOnlyCollection<double> milliseconds)
    {
        ArgumentNullException.ThrowIfNull(milliseconds);
        var sorted = milliseconds.Order().ToArray();
        double Rank(double p) => sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new LatencyFigures(sorted.Length, Math.Round(Rank(0.50), 1), Math.Round(Rank(0.95), 1), Math.Round(Rank(0.99), 1),
            Math.Round(sorted.Length == 0 ? 0 : sorted[^1], 1));
    }
}
