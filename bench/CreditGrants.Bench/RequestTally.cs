using System.Collections.Concurrent;
using System.Net;

namespace CreditGrants.Bench;

/// <summary>Polar requests as they leave the process (each retry counts), by kind, how many Polar answered 429, and the time spent waiting for answers.</summary>
public sealed class RequestTally
{
    private readonly ConcurrentDictionary<string, int> _byKind = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _waitByKind = new(StringComparer.Ordinal);
    private int _total;
    private int _rateLimited;
    private long _waitTicks;
    private long _bytesSent;

    public int Total => Volatile.Read(ref _total);

    public int RateLimited => Volatile.Read(ref _rateLimited);

    /// <summary>Seconds between sending a request and its answer, summed (requests are sent one at a time, so this is wall time).</summary>
    public double WaitSeconds => TimeSpan.FromTicks(Interlocked.Read(ref _waitTicks)).TotalSeconds;

    /// <summary>Request body bytes sent (Content-Length), summed.</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public IReadOnlyDictionary<string, int> ByKind => new SortedDictionary<string, int>(_byKind, StringComparer.Ordinal);

    public void Count(HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Interlocked.Increment(ref _total);
        Interlocked.Add(ref _bytesSent, request.Content?.Headers.ContentLength ?? 0);
        _byKind.AddOrUpdate(KindOf(request), 1, static (_, n) => n + 1);
    }

    /// <summary>The mean time Polar took to answer requests of <paramref name="kind"/> (e.g. <c>ingest</c>), in milliseconds; null if none were sent.</summary>
    public double? MeanAnswerMs(string kind) => _byKind.TryGetValue(kind, out var count) && count > 0
        ? TimeSpan.FromTicks(_waitByKind.GetValueOrDefault(kind)).TotalMilliseconds / count
        : null;

    public void Answered(HttpResponseMessage response, TimeSpan waited)
    {
        ArgumentNullException.ThrowIfNull(response);
        Interlocked.Add(ref _waitTicks, waited.Ticks);
        if (response.RequestMessage is { } request)
        {
            _waitByKind.AddOrUpdate(KindOf(request), waited.Ticks, (_, ticks) => ticks + waited.Ticks);
        }

        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            Interlocked.Increment(ref _rateLimited);
        }
    }

    /// <summary>The result with the requests counted so far: total, by kind, 429 answers, time waiting, bytes sent.</summary>
    public BenchResult Stamp(BenchResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result with
        {
            Requests = Total,
            RequestsByKind = ByKind,
            RateLimited = RateLimited,
            PolarWaitSeconds = WaitSeconds,
            BytesSent = BytesSent,
        };
    }

    public void Reset()
    {
        _byKind.Clear();
        _waitByKind.Clear();
        Interlocked.Exchange(ref _total, 0);
        Interlocked.Exchange(ref _rateLimited, 0);
        Interlocked.Exchange(ref _waitTicks, 0);
        Interlocked.Exchange(ref _bytesSent, 0);
    }

    private static string KindOf(HttpRequestMessage request)
    {
        var path = request.RequestUri?.AbsolutePath ?? "";
        return (request.Method.Method, path) switch
        {
            ("POST", _) when path.EndsWith("/v1/events/ingest", StringComparison.Ordinal) => "ingest",
            ("POST", _) when path.EndsWith("/v1/customers/", StringComparison.Ordinal) => "customer create",
            ("GET", _) when path.EndsWith("/v1/customers/", StringComparison.Ordinal) => "customer list page",
            ("GET", _) when path.Contains("/v1/customers/", StringComparison.Ordinal) => "customer read",
            ("GET", _) when path.Contains("/v1/meters/", StringComparison.Ordinal) => "meter read",
            _ => $"{request.Method.Method} {path}",
        };
    }
}

/// <summary>Counts every attempt on the gateway's HttpClient; it sits inside the resilience handler, so it sees retries too.</summary>
public sealed class CountingHandler(RequestTally tally) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        tally.Count(request);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        tally.Answered(response, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        return response;
    }
}
