using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Webhooks;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    /// <summary>The variable <c>credits webhooks replay</c> reads the webhook secret from when no file is given.</summary>
    public const string WebhookSecretVariable = "POLAR_WEBHOOK_SECRET";

    /// <summary>The endpoint's path under an app's address.</summary>
    public const string WebhookPath = "api/polar/webhooks";

    private Command WebhooksCommand() => new("webhooks", "Polar's webhooks: replay a saved delivery against an app, for debugging") { WebhookReplayCommand() };

    private Command WebhookReplayCommand()
    {
        var file = new Argument<string>("file")
        {
            HelpName = "delivery.json",
            Description = "A saved delivery's body, sent byte for byte (a blob of the app's Webhooks:Container, a payload from Polar's dashboard)",
        };
        var url = new Option<string>("--url")
        {
            Required = true,
            HelpName = "url",
            Description = $"The app (http://localhost:7071, its endpoint {WebhookPath} is added) or the endpoint's full URL",
        };
        var secretFile = new Option<string?>("--secret-file")
        {
            HelpName = "file",
            Description = $"A file holding the webhook secret, one of the app's Polar:WebhookSecrets (default: env {WebhookSecretVariable}); never printed",
        };
        var webhookId = new Option<string?>("--webhook-id")
        {
            HelpName = "id",
            Description = "The webhook-id to send (default: a new one, so the app processes it; the original's to see it refused as a duplicate)",
        };
        var command = new Command("replay", "Sign a saved delivery now with the secret, as Polar does, and send it to an app; prints its answer")
        {
            file, url, secretFile, webhookId,
        };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var target = WebhookUrl(parse.GetValue(url)!);
            var secret = await ReadWebhookSecretAsync(parse.GetValue(secretFile), ct).ConfigureAwait(false);
            var path = parse.GetValue(file)!;
            byte[] body;
            try
            {
                body = await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliInputException($"{Identity.Display.Shorten(path)}: cannot read the delivery file ({ex.Message}).");
            }

            var id = parse.GetValue(webhookId) is { Length: > 0 } given ? given : "replay_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
            WebhookReplayed replayed;
            try
            {
                replayed = await ReplayAsync(target, id, secret, body, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !ct.IsCancellationRequested))
            {
                await _error.WriteLineAsync($"credits: {target} could not be reached ({ex.Message}); is the app running?").ConfigureAwait(false);
                return ExitCodes.Unavailable;
            }

            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(replayed, WebhookCliJsonContext.Default.WebhookReplayed).ConfigureAwait(false);
            }
            else
            {
                await _out.WriteLineAsync(replayed.Describe()).ConfigureAwait(false);
            }

            return replayed.Status is >= 200 and < 300 ? ExitCodes.Ok : ExitCodes.Failed;
        }, ct));
        return command;
    }

    /// <summary>The endpoint: the URL as given, or <see cref="WebhookPath"/> under it when it names only the app.</summary>
    internal static Uri WebhookUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new CliInputException($"--url '{Identity.Display.Shorten(text)}': expected an absolute http(s) URL such as http://localhost:7071.");
        }

        return url.AbsolutePath is "/" or "" ? new Uri(url, WebhookPath) : url;
    }

    private async Task<string> ReadWebhookSecretAsync(string? file, CancellationToken cancellationToken)
    {
        string? secret;
        if (file is not null)
        {
            try
            {
                secret = (await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false)).Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliInputException($"--secret-file {Identity.Display.Shorten(file)}: cannot read it ({ex.GetType().Name}).");
            }
        }
        else
        {
            secret = _environment(WebhookSecretVariable)?.Trim();
        }

        return string.IsNullOrEmpty(secret)
            ? throw new CliInputException(
                $"No webhook secret: give --secret-file <file> or set {WebhookSecretVariable} to one of the app's Polar:WebhookSecrets.")
            : secret;
    }

    private static async Task<WebhookReplayed> ReplayAsync(Uri url, string id, string secret, byte[] body, CancellationToken cancellationToken)
    {
        var timestamp = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("webhook-id", id);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", WebhookSignature.Sign(secret, id, timestamp, body));
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        JsonElement? receipt = null;
        if (text.Length > 0 && response.Content.Headers.ContentType?.MediaType is { } type && type.EndsWith("json", StringComparison.Ordinal))
        {
            try
            {
                receipt = JsonDocument.Parse(text).RootElement.Clone();
            }
            catch (JsonException)
            {
                // Not the app's answer; the status says enough.
            }
        }

        return new WebhookReplayed(url.AbsoluteUri, id, (int)response.StatusCode, receipt);
    }
}

/// <summary>What <c>credits webhooks replay</c> sent and the app's answer (its receipt, or problem, when it sent JSON).</summary>
internal sealed record WebhookReplayed(string Url, string WebhookId, int Status, JsonElement? Receipt)
{
    public string Describe()
    {
        var outcome = Receipt is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty("outcome", out var o) ? o.GetString() : null;
        var type = Receipt is { ValueKind: JsonValueKind.Object } t && t.TryGetProperty("type", out var ty) ? $" ({ty.GetString()})" : "";
        var reason = Receipt is { ValueKind: JsonValueKind.Object } w && w.TryGetProperty("reason", out var re) ? $": {re.GetString()}" : "";
        var what = Status switch
        {
            401 => "the app refused the signature (is the secret one of its Polar:WebhookSecrets? are the clocks within 5 minutes?)",
            413 => "the body is over the app's Webhooks:MaxBodyBytes",
            >= 200 and < 300 => $"{outcome ?? "acknowledged"}{type}{reason}",
            _ => Receipt?.GetRawText() ?? "no answer the CLI knows",
        };
        return string.Create(CultureInfo.InvariantCulture, $"Sent webhook {WebhookId} to {Url}: {Status} {what}");
    }
}

/// <summary>JSON of the webhook commands.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(WebhookReplayed))]
internal sealed partial class WebhookCliJsonContext : JsonSerializerContext;
