using System.Globalization;
using System.Net;
using Azure;
using CreditGrants.Storage;
using CreditGrants.Storage.Webhooks;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CreditFunctions.Http;

/// <summary>
/// <c>POST /api/polar/webhooks</c>, Polar's webhook endpoint, apart from the Functions host: anonymous for the host, and
/// authenticated by its Standard Webhooks signature (<see cref="WebhookSignature"/>) with any of <c>Polar:WebhookSecrets</c>,
/// checked on the raw body before anything reads it. Anything unsigned, badly signed, too old or too new is a bare 401
/// (no body, no hint). A verified delivery is recorded and queued (<see cref="WebhookIntake"/>) and acknowledged: 202 when it
/// is queued, 200 for a duplicate, a rejected payload or an event type this app does not know. Storage failing is a 503,
/// so Polar sends the delivery again.
/// </summary>
public sealed partial class WebhookApi(WebhookIntake intake, IOptionsMonitor<PolarWebhookSecretOptions> secrets, IOptions<WebhookOptions> options,
    TimeProvider time, ILogger<WebhookApi> logger)
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    /// <summary>The largest body read (<c>Webhooks:MaxBodyBytes</c>).</summary>
    public int MaxBodyBytes => options.Value.MaxBodyBytes;

    /// <summary>The answer to anything not signed by Polar: 401, nothing else.</summary>
    public static ApiResponse Unauthorized { get; } = new(HttpStatusCode.Unauthorized, [], "", new Dictionary<string, string>());

    /// <summary>The answer to a body over <see cref="MaxBodyBytes"/>, which is not read: 413, nothing else.</summary>
    public static ApiResponse TooLarge { get; } = new(HttpStatusCode.RequestEntityTooLarge, [], "", new Dictionary<string, string>());

    /// <param name="id">The <c>webhook-id</c> header.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> header.</param>
    /// <param name="signature">The <c>webhook-signature</c> header.</param>
    /// <param name="body">The raw body, at most <see cref="MaxBodyBytes"/>.</param>
    /// <param name="cancellationToken">The request's cancellation.</param>
    public async Task<ApiResponse> ReceiveAsync(string? id, string? timestamp, string? signature, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var usable = WebhookSecrets.Usable(secrets.CurrentValue.WebhookSecrets, out var unresolved);
        if (unresolved > 0)
        {
            LogUnresolvedSecrets(unresolved);
        }

        var refusal = new WebhookSignature(usable, time).Verify(id, timestamp, signature, body.Span);
        if (refusal is not null)
        {
            if (refusal == WebhookRefusal.NoSecret)
            {
                LogNoSecret();
            }
            else
            {
                LogRefused(refusal.Value);
            }

            return Unauthorized;
        }

        try
        {
            var receipt = await intake.ReceiveAsync(id!, long.Parse(timestamp!, NumberStyles.None, CultureInfo.InvariantCulture), body, cancellationToken)
                .ConfigureAwait(false);
            return ApiResponse.Ok(receipt.Outcome == WebhookReceipt.Accepted ? HttpStatusCode.Accepted : HttpStatusCode.OK, receipt,
                WebhookJsonContext.Default.WebhookReceipt);
        }
        catch (Exception ex) when (ex is RequestFailedException or StorageConfigurationException)
        {
            // Nothing acknowledged: Polar sends the delivery again, and the record is completed then.
            LogStorageFailed(ex.GetType().Name, ex.Message);
            return Problems.StorageUnavailable();
        }
    }

    /// <summary>
    /// Reads a body of at most <see cref="MaxBodyBytes"/>; null when it is larger (declared or read), without reading the rest.
    /// </summary>
    public async Task<byte[]?> ReadBodyAsync(Stream body, long? declaredLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var limit = MaxBodyBytes;
        if (declaredLength > limit)
        {
            return null;
        }

        var buffer = new byte[Math.Min(limit + 1, declaredLength is { } length and >= 0 ? (int)length + 1 : 16 * 1024)];
        var read = 0;
        while (true)
        {
            if (read == buffer.Length)
            {
                if (buffer.Length > limit)
                {
                    return null;
                }

                Array.Resize(ref buffer, Math.Min(limit + 1, buffer.Length * 2));
            }

            var n = await body.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return read > limit ? null : buffer[..read];
            }

            read += n;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook refused (401): no webhook secret is configured (Polar:WebhookSecrets); see docs/webhooks.md")]
    private partial void LogNoSecret();

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook refused (401): {Refusal}")]
    private partial void LogRefused(WebhookRefusal refusal);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Count} of Polar:WebhookSecrets is an unresolved Key Vault reference and is not used: check the secret exists and the app's identity may read it (docs/webhooks.md)")]
    private partial void LogUnresolvedSecrets(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook not recorded, answered 503 so Polar sends it again: storage failed ({Error}: {Reason})")]
    private partial void LogStorageFailed(string error, string reason);
}
