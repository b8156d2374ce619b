using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Azure;
using Azure.Data.Tables;

namespace CreditGrants.Storage.Webhooks;

/// <summary>Where a delivery stands; a finished one is never processed again, whatever arrives with its <c>webhook-id</c>.</summary>
public static class WebhookDeliveryState
{
    /// <summary>Recorded and queued; not processed yet (or being processed).</summary>
    public const string Received = "received";

    /// <summary>Every handler that takes its type acted on it.</summary>
    public const string Processed = "processed";

    /// <summary>An update older than the state applied before (<c>modified_at</c>): not dispatched.</summary>
    public const string Superseded = "superseded";

    /// <summary>Signed by Polar, but not a valid payload (or a handler refused it for good): recorded with the reason, not retried.</summary>
    public const string Rejected = "rejected";

    /// <summary>An event type this app does not know: acknowledged, kept, not processed.</summary>
    public const string Ignored = "ignored";

    /// <summary>Its processing failed on every attempt (the reason is kept; the same <c>webhook-id</c> again queues it anew).</summary>
    public const string Failed = "failed";

    /// <summary>Whether a delivery in this state is done with: a repeat of it does nothing.</summary>
    public static bool IsFinished(string state) => state is Processed or Superseded or Rejected or Ignored;
}

/// <summary>
/// One delivery: partition = the <c>webhook-id</c>'s key (<see cref="KeyOf"/>), row key <c>delivery</c>. Its body is the blob
/// <see cref="BodyBlob"/>, kept exactly as received.
/// </summary>
internal sealed partial class WebhookDeliveryEntity : ITableEntity
{
    public const string Row = "delivery";

    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = Row;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    /// <summary>The <c>webhook-id</c> header as received.</summary>
    public string WebhookId { get; set; } = "";

    /// <summary>The payload's <c>type</c>; null when the body has none.</summary>
    public string? Type { get; set; }

    /// <summary>The <c>webhook-timestamp</c> header (Unix seconds) of the attempt recorded.</summary>
    public long SentAt { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }

    /// <summary>How many times Polar (or a replay) sent this <c>webhook-id</c> with a valid signature.</summary>
    public int Receipts { get; set; }

    /// <summary>A <see cref="WebhookDeliveryState"/>.</summary>
    public string State { get; set; } = WebhookDeliveryState.Received;

    /// <summary>Why it was rejected, ignored, superseded or failed.</summary>
    public string? Reason { get; set; }

    /// <summary>The body's blob in the deliveries container.</summary>
    public string BodyBlob { get; set; } = "";

    /// <summary>The queue message processing it now, and until when that claim holds.</summary>
    public string? ClaimedBy { get; set; }
    public DateTimeOffset? ClaimedUntil { get; set; }

    /// <summary>Processing attempts so far.</summary>
    public int Attempts { get; set; }

    /// <summary>The names of the handlers done with it, space-separated.</summary>
    public string? HandledBy { get; set; }

    public DateTimeOffset? ProcessedAt { get; set; }

    /// <summary>The object it is about and that object's version in it (<see cref="CreditGrants.Webhooks.PolarObjectVersion"/>).</summary>
    public string? ObjectKind { get; set; }
    public string? ObjectId { get; set; }
    public DateTimeOffset? ObjectVersion { get; set; }

    /// <summary>
    /// The table key of a <c>webhook-id</c>: <c>w-</c> and the id when it is 1 to 200 letters, digits, <c>_</c>, <c>-</c> or
    /// <c>.</c> (every id Polar sends); otherwise <c>h-</c> and its SHA-256 in hex, as a key cannot hold every character.
    /// </summary>
    public static string KeyOf(string webhookId)
    {
        ArgumentNullException.ThrowIfNull(webhookId);
        return Plain().IsMatch(webhookId)
            ? "w-" + webhookId
            : "h-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(webhookId)));
    }

    [System.Runtime.Serialization.IgnoreDataMember]
    public IReadOnlyList<string> Handlers => HandledBy is { Length: > 0 } names ? names.Split(' ') : [];

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{WebhookId} ({Type}, {State})");

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,200}$", RegexOptions.CultureInvariant)]
    private static partial Regex Plain();
}

/// <summary>
/// The last version of a Polar object applied from a webhook: partition <c>object-&lt;kind&gt;</c>, row key the object's id
/// (hashed like a delivery key when it holds other characters).
/// </summary>
internal sealed class WebhookObjectEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public DateTimeOffset Version { get; set; }

    /// <summary>The delivery that applied it.</summary>
    public string WebhookId { get; set; } = "";

    public string Type { get; set; } = "";

    public static (string Partition, string Row) KeysOf(string kind, string id)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var row = WebhookDeliveryEntity.KeyOf(id);
        return ("object-" + (kind.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-') ? kind : "other"), row);
    }
}
