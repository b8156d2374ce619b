using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PolarEmulator.Tests.Support;

/// <summary>
/// A webhook endpoint on a free loopback port: records every request (headers and body) and answers the statuses it is
/// given in turn (200 once they run out); <see cref="Hold"/> keeps answers back until released, to see deliveries queue.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<int> _statuses;
    private readonly Task _loop;
    private TaskCompletionSource? _hold;
    private int _inFlight;

    public WebhookReceiver(params int[] statuses)
    {
        _statuses = new ConcurrentQueue<int>(statuses);
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = new Uri($"http://127.0.0.1:{port}/hooks/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>Where to deliver.</summary>
    public Uri Url { get; }

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>The most requests ever waiting for an answer at once.</summary>
    public int MaxInFlight { get; private set; }

    /// <summary>Answers nothing until the returned release is called.</summary>
    public Action Hold()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _hold = hold;
        return () => hold.TrySetResult();
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        MaxInFlight = Math.Max(MaxInFlight, Interlocked.Increment(ref _inFlight));
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!.ToLowerInvariant(), k => context.Request.Headers[k]!);
        Received.Enqueue(new ReceivedWebhook(headers, body));
        if (_hold is { } hold)
        {
            await hold.Task;
        }

        Interlocked.Decrement(ref _inFlight);
        context.Response.StatusCode = _statuses.TryDequeue(out var status) ? status : 200;
        context.Response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _hold?.TrySetResult();
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}

/// <summary>One request a <see cref="WebhookReceiver"/> got: its headers (lower-case names) and body.</summary>
public sealed record ReceivedWebhook(IReadOnlyDictionary<string, string> Headers, string Body);
