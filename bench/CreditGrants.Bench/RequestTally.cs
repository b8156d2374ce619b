using System.Collections.Concurrent;
using System.Net;

namespace CreditGrants.Bench;

/// <summary>Polar requests as they leave the process (each retry counts), by kind, and how many Polar answered 429.</summary>
public sealed class RequestTally
{
    private readonly ConcurrentDictionary<string, int> _byKind = new(StringComparer.Ordinal);
    private int _total;
    private int _rateLimited;

    public int Total => Volatile.Read(ref _total);

    public int RateLimited => Volatile.Read(ref _rateLimited);

    public IReadOnlyDictionary<string, int> ByKind => new SortedDictionary<string, int>(_byKind, StringComparer.Ordinal);

    public void Count(HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Interlocked.Increment(ref _total);
        _byKind.AddOrUpdate(KindOf(request), 1, static (_, n) => n + 1);
    }

    public void Answered(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            Interlocked.Increment(ref _rateLimited);
        }
    }

    public void Reset()
    {
        _byKind.Clear();
        Interlocked.Exchange(ref _total, 0);
        Interlocked.Exchange(ref _rateLimited, 0);
    }

    private static string KindOf(HttpRequestMessage request)
    {
        var path = request.RequestUri?.AbsolutePath ?? "";
        return (request.Method.Method, path) switch
        {
            ("POST", _) when path.EndsWith("/v1/events/ingest", StringComparison.Ordinal) => "ingest",
            ("POST", _) when path.EndsWith("/v1/customers/", StringComparison.Ordinal) => "customer create",
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
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        tally.Answered(response);
        return response;
    }
}
