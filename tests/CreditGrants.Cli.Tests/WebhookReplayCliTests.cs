using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CreditGrants.Webhooks;

namespace CreditGrants.Cli.Tests;

/// <summary>
/// <c>credits webhooks replay</c> (issue #21, item 5): a saved delivery, signed now as Polar signs it, sent byte for byte to
/// an app, whose answer is printed; the secret is never printed.
/// </summary>
public sealed class WebhookReplayCliTests : IAsyncDisposable
{
    internal const string Secret = "whsec_cmVwbGF5IHNlY3JldCBmb3IgdGVzdHM";
    private readonly string _folder = Directory.CreateTempSubdirectory("replay-test-").FullName;
    private readonly FakeWebhookEndpoint _endpoint = new();

    private Uri App => _endpoint.App;

    private IReadOnlyList<(string Path, Dictionary<string, string> Headers, byte[] Body)> Received => _endpoint.Received;

    public async ValueTask DisposeAsync()
    {
        await _endpoint.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private async Task<string> SaveAsync(string body)
    {
        var path = Path.Combine(_folder, "delivery.json");
        await File.WriteAllTextAsync(path, body, new UTF8Encoding(false));
        return path;
    }

    private static Task<CliRun> Credits(IReadOnlyDictionary<string, string?> environment, params string[] args) => CliRun.RunAsync(environment, args);

    private static readonly Dictionary<string, string?> NoVariables = [];

    private static Dictionary<string, string?> WithSecret(string secret) => new() { [CreditsCli.WebhookSecretVariable] = secret };

    [Fact]
    public async Task A_saved_delivery_is_signed_with_the_secret_file_and_sent_byte_for_byte_to_the_apps_endpoint()
    {
        var body = PolarWebhookPayloads.Customer("customer.created", Guid.NewGuid(), "user-42", "ada@credits.dev", DateTimeOffset.UtcNow) + "\n";
        var file = await SaveAsync(body);
        var secretFile = Path.Combine(_folder, "secret");
        await File.WriteAllTextAsync(secretFile, Secret + "\n");

        var run = await Credits(NoVariables, "webhooks", "replay", file, "--url", App.AbsoluteUri, "--secret-file", secretFile);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error);
        var (path, headers, sent) = Assert.Single(Received);
        Assert.Equal("/api/polar/webhooks", path);
        Assert.Equal(await File.ReadAllBytesAsync(file), sent);
        Assert.StartsWith("replay_", headers["webhook-id"], StringComparison.Ordinal);
        Assert.Contains("202 accepted (customer.created)", run.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, run.Out + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_secret_comes_from_the_environment_and_a_given_webhook_id_is_sent()
    {
        var file = await SaveAsync("""{"type":"customer.created"}""");

        var run = await Credits(WithSecret(Secret),
            "webhooks", "replay", file, "--url", new Uri(App, "api/polar/webhooks").AbsoluteUri, "--webhook-id", "msg_original", "--json");

        Assert.True(run.ExitCode == ExitCodes.Ok, run.Error);
        using var json = JsonDocument.Parse(run.Out);
        Assert.Equal(202, json.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("msg_original", json.RootElement.GetProperty("webhookId").GetString());
        Assert.Equal("accepted", json.RootElement.GetProperty("receipt").GetProperty("outcome").GetString());
        Assert.DoesNotContain(Secret, run.Out + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_secret_is_reported_as_the_apps_refusal_with_exit_1()
    {
        var file = await SaveAsync("""{"type":"customer.created"}""");

        var run = await Credits(WithSecret("whsec_wrong_secret"), "webhooks", "replay", file, "--url", App.AbsoluteUri);

        Assert.Equal(ExitCodes.Failed, run.ExitCode);
        Assert.Contains("401 the app refused the signature", run.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("whsec_wrong_secret", run.Out + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_secret_nothing_is_sent_and_it_exits_2_saying_where_to_put_one()
    {
        var file = await SaveAsync("""{"type":"customer.created"}""");

        var run = await Credits(NoVariables, "webhooks", "replay", file, "--url", App.AbsoluteUri);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains(CreditsCli.WebhookSecretVariable, run.Error, StringComparison.Ordinal);
        Assert.Empty(Received);
    }

    [Theory]
    [InlineData("localhost:7071")]
    [InlineData("ftp://localhost/")]
    public async Task A_url_that_is_not_http_is_refused_with_exit_2(string url)
    {
        var file = await SaveAsync("{}");

        var run = await Credits(WithSecret(Secret), "webhooks", "replay", file, "--url", url);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("--url", run.Error, StringComparison.Ordinal);
    }
}

/// <summary>
/// An app's webhook endpoint on a free loopback port, answering as the app does: 202 with a receipt when the signature
/// verifies with <see cref="WebhookReplayCliTests.Secret"/>, else a bare 401. Records what it received.
/// </summary>
internal sealed class FakeWebhookEndpoint : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<(string Path, Dictionary<string, string> Headers, byte[] Body)> _received = [];
    private readonly Task _serving;

    public FakeWebhookEndpoint()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        App = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(App.AbsoluteUri);
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>The app's address.</summary>
    public Uri App { get; }

    public IReadOnlyList<(string Path, Dictionary<string, string> Headers, byte[] Body)> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
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
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var headers = context.Request.Headers.AllKeys.OfType<string>().ToDictionary(k => k.ToLowerInvariant(), k => context.Request.Headers[k]!);
            lock (_received)
            {
                _received.Add((context.Request.Url!.AbsolutePath, headers, body.ToArray()));
            }

            var refusal = new WebhookSignature([WebhookReplayCliTests.Secret], TimeProvider.System)
                .Verify(headers.GetValueOrDefault("webhook-id"), headers.GetValueOrDefault("webhook-timestamp"), headers.GetValueOrDefault("webhook-signature"), body.ToArray());
            if (refusal is null)
            {
                context.Response.StatusCode = 202;
                context.Response.ContentType = "application/json; charset=utf-8";
                var receipt = Encoding.UTF8.GetBytes($$"""{"webhookId":"{{headers["webhook-id"]}}","outcome":"accepted","type":"customer.created"}""");
                await context.Response.OutputStream.WriteAsync(receipt);
            }
            else
            {
                context.Response.StatusCode = 401;
            }

            context.Response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving;
    }
}
