using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CreditGrants.Webhooks;

/// <summary>Why a webhook delivery was not accepted as Polar's. The endpoint answers a bare 401 for every one of them.</summary>
public enum WebhookRefusal
{
    /// <summary>No secret is configured: nothing can be verified, so nothing is accepted.</summary>
    NoSecret,
    /// <summary><c>webhook-id</c>, <c>webhook-timestamp</c> or <c>webhook-signature</c> is missing or empty.</summary>
    MissingHeaders,
    /// <summary><c>webhook-timestamp</c> is not whole Unix seconds.</summary>
    BadTimestamp,
    /// <summary>The timestamp is more than <see cref="WebhookSignature.Tolerance"/> before now (a replay, or a clock far behind).</summary>
    TooOld,
    /// <summary>The timestamp is more than <see cref="WebhookSignature.Tolerance"/> after now.</summary>
    TooNew,
    /// <summary>No <c>v1</c> signature in the header matches the body under any configured secret.</summary>
    NoMatchingSignature,
}

/// <summary>
/// Polar's webhook signatures (Standard Webhooks, docs/polar/API.md "Webhooks"): HMAC-SHA256 over
/// <c>{webhook-id}.{webhook-timestamp}.{raw body}</c>, sent as space-separated <c>v1,&lt;base64&gt;</c> entries in
/// <c>webhook-signature</c>. Verified as Polar's SDK verifies them, and more strictly where the SDK is lax: every
/// <c>v1</c> entry is tried (not only the first; empty and other-version entries are skipped), with each secret of a
/// rotation and both key forms of each (the UTF-8 bytes of the whole secret, which Polar's server signs with, and the
/// base64-decoded part after <c>whsec_</c>), compared in constant time, within <see cref="Tolerance"/> of the clock.
/// The body is verified as received, before anything parses it.
/// </summary>
public sealed class WebhookSignature
{
    /// <summary>How far a delivery's timestamp may be from now, either way: 300 s, as Polar's SDK allows.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromSeconds(300);

    private readonly byte[][] _keys;
    private readonly TimeProvider _time;

    /// <param name="secrets">The endpoint secrets (<c>whsec_…</c>) accepted now: more than one while a secret is rotated.</param>
    /// <param name="time">The clock the tolerance is measured on.</param>
    public WebhookSignature(IEnumerable<string> secrets, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        _keys = secrets.Where(s => !string.IsNullOrEmpty(s)).SelectMany(Keys).ToArray();
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>The HMAC keys a secret stands for: its UTF-8 bytes, and the base64 after <c>whsec_</c> when that decodes to other bytes.</summary>
    public static IReadOnlyList<byte[]> Keys(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var utf8 = Encoding.UTF8.GetBytes(secret);
        var keys = new List<byte[]> { utf8 };
        var encoded = secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret;
        var buffer = new byte[encoded.Length];
        if (Convert.TryFromBase64String(encoded, buffer, out var written) && written > 0 && !buffer.AsSpan(0, written).SequenceEqual(utf8))
        {
            keys.Add(buffer[..written]);
        }

        return keys;
    }

    /// <summary>Null when the delivery is Polar's; otherwise why not.</summary>
    public WebhookRefusal? Verify(string? id, string? timestamp, string? signatures, ReadOnlySpan<byte> body)
    {
        if (_keys.Length == 0)
        {
            return WebhookRefusal.NoSecret;
        }

        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrWhiteSpace(signatures))
        {
            return WebhookRefusal.MissingHeaders;
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return WebhookRefusal.BadTimestamp;
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        if (seconds < now - (long)Tolerance.TotalSeconds)
        {
            return WebhookRefusal.TooOld;
        }

        if (seconds > now + (long)Tolerance.TotalSeconds)
        {
            return WebhookRefusal.TooNew;
        }

        var signed = Signed(id, timestamp, body);
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        foreach (var entry in signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!entry.StartsWith("v1,", StringComparison.Ordinal) || entry.Length == 3)
            {
                continue;
            }

            var given = new byte[entry.Length];
            if (!Convert.TryFromBase64String(entry[3..], given, out var length) || length != HMACSHA256.HashSizeInBytes)
            {
                continue;
            }

            foreach (var key in _keys)
            {
                HMACSHA256.HashData(key, signed, expected);
                if (CryptographicOperations.FixedTimeEquals(expected, given.AsSpan(0, length)))
                {
                    return null;
                }
            }
        }

        return WebhookRefusal.NoMatchingSignature;
    }

    /// <summary>
    /// The <c>webhook-signature</c> value Polar sends for a body: <c>v1,</c> and the base64 HMAC-SHA256 with the UTF-8 bytes of
    /// the whole secret (for replaying a saved delivery, and for tests).
    /// </summary>
    public static string Sign(string secret, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(id);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Signed(id, timestamp.ToString(CultureInfo.InvariantCulture), body));
        return "v1," + Convert.ToBase64String(mac);
    }

    private static byte[] Signed(string id, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return signed;
    }
}
