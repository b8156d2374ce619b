using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace CreditGrants.Polar.Tests.Support;

/// <summary>One request as the primary handler saw it, with its body read out.</summary>
public sealed record RecordedRequest(
    HttpMethod Method,
    Uri Uri,
    IReadOnlyDictionary<string, string> Headers,
    long? ContentLength,
    bool? Chunked,
    byte[]? Body)
{
    public string Path => Uri.AbsolutePath;

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public string? BodyText => Body is null ? null : Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A primary handler that records every request and answers from a script: queued responders first,
/// then the fallback. Responders may throw (a connection failure) or wait on the token (a hung server).
/// </summary>
public sealed class StubHandler : HttpMessageHandler
{
    private readonly ConcurrentQueue<Func<RecordedRequest, CancellationToken, Task<HttpResponseMessage>>> _script = new();
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private Func<RecordedRequest, CancellationToken, Task<HttpResponseMessage>> _fallback =
        (_, _) => Task.FromResult(Json(HttpStatusCode.OK, "{}"));

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public int Count => _requests.Count;

    /// <summary>Answers every request not scripted otherwise.</summary>
    public StubHandler Always(Func<RecordedRequest, HttpResponseMessage> respond)
    {
        _fallback = (request, _) => Task.FromResult(respond(request));
        return this;
    }

    public StubHandler Always(Func<RecordedRequest, CancellationToken, Task<HttpResponseMessage>> respond)
    {
        _fallback = respond;
        return this;
    }

    /// <summary>Answers the next request not yet scripted.</summary>
    public StubHandler Then(Func<RecordedRequest, HttpResponseMessage> respond)
    {
        _script.Enqueue((request, _) => Task.FromResult(respond(request)));
        return this;
    }

    public StubHandler Then(HttpStatusCode status, string? json = null, Action<HttpResponseMessage>? configure = null) =>
        Then(_ =>
        {
            var response = json is null ? new HttpResponseMessage(status) : Json(status, json);
            configure?.Invoke(response);
            return response;
        });

    public StubHandler ThenThrow(Exception exception)
    {
        _script.Enqueue((_, _) => Task.FromException<HttpResponseMessage>(exception));
        return this;
    }

    /// <summary>The next request never gets an answer; only its cancellation ends it.</summary>
    public StubHandler ThenHang()
    {
        _script.Enqueue(async (_, cancellationToken) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            throw new InvalidOperationException("unreachable");
        });
        return this;
    }

    public static HttpResponseMessage Json(HttpStatusCode status, string json) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // Read the length before the body: buffering a streamed content would make up a length it never sent.
        var contentLength = request.Content?.Headers.ContentLength;
        var chunked = request.Headers.TransferEncodingChunked;
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var headers = request.Headers.Concat(request.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
            .ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase);
        var recorded = new RecordedRequest(request.Method, request.RequestUri!, headers,
            contentLength, chunked, body);
        _requests.Enqueue(recorded);
        var respond = _script.TryDequeue(out var next) ? next : _fallback;
        var response = await respond(recorded, cancellationToken);
        response.RequestMessage = request;
        return response;
    }
}
