using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using CreditGrants.Storage.Webhooks;

namespace CreditFunctions.Tests.Webhooks;

/// <summary>
/// <c>POST /api/polar/webhooks</c> (issue #21, item 1): only Polar's signature gets in, and anything else is a bare 401 that
/// records nothing; a verified delivery is recorded and queued, and acknowledged.
/// </summary>
public sealed class WebhookEndpointTests : IAsyncLifetime
{
    private WebhookApp _app = null!;

    public async Task InitializeAsync() => _app = await WebhookApp.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private static string NewId() => "msg_" + Guid.NewGuid().ToString("N");

    private static string Body(string type = "customer.created", string externalId = "user-42") =>
        PolarWebhookPayloads.Customer(type, Guid.NewGuid(), externalId, "ada@credits.dev", DateTimeOffset.UtcNow.AddMinutes(-1));

    private static string SignWith(byte[] key, string id, long timestamp, string body) =>
        "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}")));

    private static (string, string)[] Headers(string id, long timestamp, string? signature) =>
        signature is null
            ? [("webhook-id", id), ("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture))]
            : [("webhook-id", id), ("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("webhook-signature", signature)];

    private async Task AssertRefusedAndNothingRecordedAsync(string id, (HttpStatusCode Status, string Body, string? ContentType) answer)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal("", answer.Body);
        Assert.Null(answer.ContentType);
        Assert.Null(await _app.DeliveryAsync(id));
        Assert.Equal(0, await _app.QueuedAsync());
    }

    [Fact]
    public async Task A_delivery_signed_with_the_whole_secrets_bytes_as_polars_server_signs_is_accepted_and_queued()
    {
        var (id, body) = (NewId(), Body());

        var answer = await _app.DeliverAsync(body, id);

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.StartsWith("application/json", answer.ContentType);
        var receipt = JsonNode.Parse(answer.Body)!;
        Assert.Equal(id, (string?)receipt["webhookId"]);
        Assert.Equal("accepted", (string?)receipt["outcome"]);
        Assert.Equal("customer.created", (string?)receipt["type"]);
        var delivery = await _app.DeliveryAsync(id);
        Assert.Equal(WebhookDeliveryState.Received, delivery!.State);
        Assert.Equal(body, (await _app.Store.Bodies.GetBlobClient(delivery.BodyBlob).DownloadContentAsync()).Value.Content.ToString());
        Assert.Equal(1, await _app.QueuedAsync());
    }

    [Fact]
    public async Task A_delivery_signed_with_the_base64_key_after_whsec_is_accepted()
    {
        var (id, body) = (NewId(), Body());
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var key = Convert.FromBase64String(WebhookApp.Secret["whsec_".Length..]);

        var answer = await _app.PostAsync(body, Headers(id, now, SignWith(key, id, now, body)));

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
    }

    [Fact]
    public async Task A_tampered_body_is_a_bare_401_and_nothing_is_recorded()
    {
        var (id, body) = (NewId(), Body());
        var headers = WebhookApp.Signed(body, id);

        var answer = await _app.PostAsync(body.Replace("user-42", "user-43", StringComparison.Ordinal), headers);

        await AssertRefusedAndNothingRecordedAsync(id, answer);
    }

    [Fact]
    public async Task A_signature_with_another_secret_is_a_bare_401()
    {
        var (id, body) = (NewId(), Body());

        await AssertRefusedAndNothingRecordedAsync(id, await _app.PostAsync(body, WebhookApp.Signed(body, id, secret: "whsec_someone_else")));
    }

    [Theory]
    [InlineData(-301)]
    [InlineData(301)]
    public async Task A_timestamp_over_five_minutes_old_or_ahead_is_a_bare_401_even_when_signed(int seconds)
    {
        var (id, body) = (NewId(), Body());

        await AssertRefusedAndNothingRecordedAsync(id, await _app.PostAsync(body, WebhookApp.Signed(body, id, DateTimeOffset.UtcNow.AddSeconds(seconds))));
    }

    [Theory]
    [InlineData("webhook-id")]
    [InlineData("webhook-timestamp")]
    [InlineData("webhook-signature")]
    public async Task A_missing_header_is_a_bare_401(string missing)
    {
        var (id, body) = (NewId(), Body());

        var answer = await _app.PostAsync(body, [.. WebhookApp.Signed(body, id).Where(h => h.Name != missing)]);

        await AssertRefusedAndNothingRecordedAsync(id, answer);
    }

    [Fact]
    public async Task Several_signatures_with_the_good_one_last_are_accepted()
    {
        var (id, body) = (NewId(), Body());
        var signed = WebhookApp.Signed(body, id);
        var good = signed.Single(h => h.Name == "webhook-signature").Value;
        var bad = WebhookApp.Signed(body, id, secret: "whsec_old").Single(h => h.Name == "webhook-signature").Value;

        var answer = await _app.PostAsync(body, [.. signed.Where(h => h.Name != "webhook-signature"), ("webhook-signature", $"v1,AAAA {bad} v2,{good[3..]} {good}")]);

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
    }

    [Fact]
    public async Task An_empty_signature_is_a_bare_401_not_a_failure()
    {
        var (id, body) = (NewId(), Body());
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        await AssertRefusedAndNothingRecordedAsync(id, await _app.PostAsync(body, Headers(id, now, "v1,")));
        await AssertRefusedAndNothingRecordedAsync(id, await _app.PostAsync(body, Headers(id, now, "")));
    }

    [Fact]
    public async Task A_valid_signature_replayed_after_five_minutes_is_a_bare_401()
    {
        // Someone who recorded a delivery cannot send it again later: the signature covers the timestamp.
        var (id, body) = (NewId(), Body());
        var sixMinutesAgo = DateTimeOffset.UtcNow.AddMinutes(-6);

        await AssertRefusedAndNothingRecordedAsync(id, await _app.PostAsync(body, WebhookApp.Signed(body, id, sixMinutesAgo)));
    }

    [Fact]
    public async Task A_body_over_the_limit_is_a_bare_413_unread()
    {
        var id = NewId();
        var body = new string(' ', 1024 * 1024 + 1);

        var answer = await _app.PostAsync(body, WebhookApp.Signed(body, id));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, answer.Status);
        Assert.Equal("", answer.Body);
        Assert.Null(await _app.DeliveryAsync(id));
    }

    [Fact]
    public async Task A_signed_payload_that_is_not_valid_is_recorded_as_rejected_with_its_reason_and_acknowledged()
    {
        var id = NewId();
        var body = JsonNode.Parse(Body())!;
        body["data"]!.AsObject().Remove("email");
        var text = body.ToJsonString();

        var answer = await _app.DeliverAsync(text, id);

        // 200, not 4xx: Polar would retry the same bytes ten times, then disable the endpoint for every event.
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var receipt = JsonNode.Parse(answer.Body)!;
        Assert.Equal("rejected", (string?)receipt["outcome"]);
        Assert.Contains("email", (string?)receipt["reason"], StringComparison.Ordinal);
        var delivery = await _app.DeliveryAsync(id);
        Assert.Equal(WebhookDeliveryState.Rejected, delivery!.State);
        Assert.Contains("email", delivery.Reason, StringComparison.Ordinal);
        Assert.Equal(0, await _app.QueuedAsync());
    }

    [Fact]
    public async Task A_signed_body_that_is_not_json_is_rejected_and_acknowledged()
    {
        var id = NewId();

        var answer = await _app.DeliverAsync("not json at all", id);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("rejected", (string?)JsonNode.Parse(answer.Body)!["outcome"]);
        Assert.Equal(WebhookDeliveryState.Rejected, (await _app.DeliveryAsync(id))!.State);
    }

    [Fact]
    public async Task An_event_type_the_app_does_not_know_is_recorded_as_ignored_and_acknowledged()
    {
        var id = NewId();

        var answer = await _app.DeliverAsync("""{"type":"checkout.created","timestamp":"2026-12-06T05:46:40Z","data":{"id":"c1"}}""", id);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("ignored", (string?)JsonNode.Parse(answer.Body)!["outcome"]);
        Assert.Equal(WebhookDeliveryState.Ignored, (await _app.DeliveryAsync(id))!.State);
        Assert.Equal(0, await _app.QueuedAsync());
    }

    [Fact]
    public async Task The_endpoint_answers_before_any_handler_runs()
    {
        var (id, body) = (NewId(), Body());
        _app.Handler.Gate = new TaskCompletionSource();

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answer = await _app.DeliverAsync(body, id);
        clock.Stop();

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.Empty(_app.Handler.Handled);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the endpoint took {clock.Elapsed}; Polar waits 10 s");
        _app.Handler.Gate.SetResult();
        await _app.DrainAsync();
        Assert.Single(_app.Handler.Handled);
    }
}

/// <summary>Secrets: several at once while rotating; none, or only an unresolved Key Vault reference, accepts nothing.</summary>
public sealed class WebhookSecretRotationTests
{
    private static string Body() => PolarWebhookPayloads.Customer("customer.created", Guid.NewGuid(), "user-1", "a@credits.dev", DateTimeOffset.UtcNow);

    [Fact]
    public async Task During_a_rotation_deliveries_signed_with_either_secret_are_accepted()
    {
        await using var app = await WebhookApp.StartAsync(null, WebhookApp.Secret, WebhookApp.NewSecret);
        var (old, @new) = (Body(), Body());

        Assert.Equal(HttpStatusCode.Accepted, (await app.PostAsync(old, WebhookApp.Signed(old, "msg_old"))).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await app.PostAsync(@new, WebhookApp.Signed(@new, "msg_new", secret: WebhookApp.NewSecret))).Status);
    }

    [Fact]
    public async Task One_secret_set_without_an_index_is_accepted()
    {
        await using var app = await WebhookApp.StartAsync(new() { ["Polar:WebhookSecrets"] = WebhookApp.Secret }, "");
        var body = Body();

        Assert.Equal(HttpStatusCode.Accepted, (await app.PostAsync(body, WebhookApp.Signed(body, "msg_single"))).Status);
    }

    [Fact]
    public async Task An_unresolved_key_vault_reference_is_never_a_secret()
    {
        // The platform leaves the reference's text in the setting when it cannot resolve it; that text is no secret.
        const string reference = "@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/polar-webhook-secret/)";
        await using var app = await WebhookApp.StartAsync(null, reference);
        var body = Body();

        var answer = await app.PostAsync(body, WebhookApp.Signed(body, "msg_1", secret: reference));

        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
    }

    [Fact]
    public async Task With_no_secret_every_delivery_is_a_bare_401()
    {
        await using var app = await WebhookApp.StartAsync(null, "");
        var body = Body();

        var answer = await app.PostAsync(body, WebhookApp.Signed(body, "msg_1"));

        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal("", answer.Body);
    }
}
