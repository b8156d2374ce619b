using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Tests.Webhooks;

/// <summary>Polar's webhook signatures (issue #21, item 1): every way a delivery can be Polar's or not.</summary>
public sealed class WebhookSignatureTests
{
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string Id = "msg_2uQG4Z1kC7xq";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_765_000_000);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"type":"customer.created","timestamp":"2026-12-06T05:46:40Z","data":{"id":"c1"}}""");

    private readonly FakeTimeProvider _clock = new(Now);

    private WebhookRefusal? Verify(string? signatures, long? timestamp = null, byte[]? body = null, string? id = Id, params string[] secrets) =>
        new WebhookSignature(secrets.Length == 0 ? [Secret] : secrets, _clock)
            .Verify(id, (timestamp ?? Now.ToUnixTimeSeconds()).ToString(System.Globalization.CultureInfo.InvariantCulture), signatures, body ?? Body);

    private static string SignWith(byte[] key, long? timestamp = null, byte[]? body = null) =>
        "v1," + Convert.ToBase64String(HMACSHA256.HashData(key,
            (byte[])[.. Encoding.UTF8.GetBytes($"{Id}.{timestamp ?? Now.ToUnixTimeSeconds()}."), .. body ?? Body]));

    [Fact]
    public void A_signature_made_with_the_whole_secrets_utf8_bytes_is_accepted()
    {
        Assert.Null(Verify(SignWith(Encoding.UTF8.GetBytes(Secret))));
        Assert.Null(Verify(WebhookSignature.Sign(Secret, Id, Now.ToUnixTimeSeconds(), Body)));
    }

    [Fact]
    public void A_signature_made_with_the_base64_decoded_key_after_whsec_is_accepted()
    {
        Assert.Null(Verify(SignWith(Convert.FromBase64String(Secret["whsec_".Length..]))));
    }

    [Fact]
    public void A_tampered_body_is_refused()
    {
        var tampered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Body).Replace("c1", "c2", StringComparison.Ordinal));

        Assert.Equal(WebhookRefusal.NoMatchingSignature, Verify(SignWith(Encoding.UTF8.GetBytes(Secret)), body: tampered));
    }

    [Fact]
    public void A_signature_with_another_secret_is_refused()
    {
        Assert.Equal(WebhookRefusal.NoMatchingSignature, Verify(WebhookSignature.Sign("whsec_another", Id, Now.ToUnixTimeSeconds(), Body)));
    }

    [Theory]
    [InlineData(-301, WebhookRefusal.TooOld)]
    [InlineData(301, WebhookRefusal.TooNew)]
    public void A_timestamp_beyond_300_seconds_either_way_is_refused_even_when_signed(int offset, WebhookRefusal refusal)
    {
        var timestamp = Now.ToUnixTimeSeconds() + offset;

        Assert.Equal(refusal, Verify(SignWith(Encoding.UTF8.GetBytes(Secret), timestamp), timestamp));
    }

    [Theory]
    [InlineData(-300)]
    [InlineData(300)]
    public void A_timestamp_at_the_tolerance_is_accepted(int offset)
    {
        var timestamp = Now.ToUnixTimeSeconds() + offset;

        Assert.Null(Verify(SignWith(Encoding.UTF8.GetBytes(Secret), timestamp), timestamp));
    }

    [Fact]
    public void Missing_headers_and_a_timestamp_that_is_no_number_are_refused()
    {
        var signature = SignWith(Encoding.UTF8.GetBytes(Secret));
        var verifier = new WebhookSignature([Secret], _clock);

        Assert.Equal(WebhookRefusal.MissingHeaders, verifier.Verify(null, "1765000000", signature, Body));
        Assert.Equal(WebhookRefusal.MissingHeaders, verifier.Verify(Id, "", signature, Body));
        Assert.Equal(WebhookRefusal.MissingHeaders, verifier.Verify(Id, "1765000000", null, Body));
        Assert.Equal(WebhookRefusal.MissingHeaders, verifier.Verify(Id, "1765000000", " ", Body));
        Assert.Equal(WebhookRefusal.BadTimestamp, verifier.Verify(Id, "1765000000.5", signature, Body));
        Assert.Equal(WebhookRefusal.BadTimestamp, verifier.Verify(Id, "-1", signature, Body));
    }

    [Fact]
    public void Every_v1_signature_is_tried_so_a_good_one_last_is_accepted()
    {
        var bad = WebhookSignature.Sign("whsec_old", Id, Now.ToUnixTimeSeconds(), Body);
        var good = SignWith(Encoding.UTF8.GetBytes(Secret));

        Assert.Null(Verify($"v1, {bad} v2,{good[3..]} v1,not-base64!! {good}"));
    }

    [Fact]
    public void An_empty_signature_entry_is_skipped_not_a_crash()
    {
        Assert.Equal(WebhookRefusal.NoMatchingSignature, Verify("v1,"));
        Assert.Null(Verify($"v1, {SignWith(Encoding.UTF8.GetBytes(Secret))}"));
    }

    [Fact]
    public void During_a_rotation_either_secret_is_accepted_and_no_secret_accepts_nothing()
    {
        var signedWithNew = WebhookSignature.Sign("whsec_new_secret", Id, Now.ToUnixTimeSeconds(), Body);

        Assert.Null(Verify(signedWithNew, secrets: [Secret, "whsec_new_secret"]));
        Assert.Equal(WebhookRefusal.NoSecret, new WebhookSignature([], _clock).Verify(Id, "1765000000", signedWithNew, Body));
    }

    [Fact]
    public void The_signature_polar_sends_is_accepted_by_polars_own_sdk()
    {
        // Cross-check with @polar-sh/sdk's validateEvent (installed by npm ci), on this machine's clock.
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var signature = WebhookSignature.Sign(Secret, Id, now, Body);
        var root = Repository.Root;
        var script = $$"""
            const { webhooks: { validateEvent } } = await import("@polar-sh/sdk/2027-01");
            const body = process.argv[1];
            const headers = { "webhook-id": "{{Id}}", "webhook-timestamp": "{{now}}", "webhook-signature": process.argv[2] };
            const event = await validateEvent(body, headers, "{{Secret}}");
            const tampered = await validateEvent(body.replace("c1", "c2"), headers, "{{Secret}}").then(() => "accepted", e => e.constructor.name);
            console.log(event.type + " " + tampered);
            """;
        var start = new ProcessStartInfo("node") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--input-type=module", "-e", script, Encoding.UTF8.GetString(Body), signature })
        {
            start.ArgumentList.Add(argument);
        }

        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEnd() + node.StandardError.ReadToEnd();
        Assert.True(node.WaitForExit(60_000), "node did not end within a minute");

        Assert.Equal("customer.created PolarWebhookVerificationError", output.Trim());
    }
}
