using System.Net;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Polar.Tests.Transport;

/// <summary>The access token goes to Polar in the Authorization header and nowhere else.</summary>
public sealed class SecretTests
{
    public static TheoryData<HttpStatusCode, string?> Refusals => new()
    {
        { HttpStatusCode.Unauthorized, """{"error":"Unauthorized","detail":"Unauthorized"}""" },
        { HttpStatusCode.Unauthorized, """{"error":"invalid_token","error_description":"The access token provided is expired, revoked, malformed, or invalid for other reasons."}""" },
        { HttpStatusCode.Forbidden, """{"error":"insufficient_scope","error_description":"The token lacks events:write."}""" },
        { HttpStatusCode.NotFound, """{"error":"ResourceNotFound","detail":"Not found"}""" },
        { HttpStatusCode.LengthRequired, """{"error":"LengthRequired","detail":"Length required"}""" },
        { HttpStatusCode.RequestEntityTooLarge, """{"error":"RequestBodyTooLarge","detail":"Too large"}""" },
        { HttpStatusCode.UnprocessableEntity, PolarJson.ValidationError(("body.events.0.customer_id", "Customer does not exist.")) },
        { HttpStatusCode.TooManyRequests, null },
        { HttpStatusCode.InternalServerError, """{"error":"InternalServerError","detail":"Internal Server Error"}""" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Token_never_appears_in_an_exception(HttpStatusCode status, string? json)
    {
        var stub = new StubHandler().Always(_ => json is null ? new HttpResponseMessage(status) : StubHandler.Json(status, json));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 0);

        var failure = await Assert.ThrowsAsync<PolarException>(() => host.Client.IngestEventsAsync([TestEvents.Usage("user-1", -1)]));

        Assert.DoesNotContain(PolarTestHost.Token, failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_never_appears_in_an_unavailable_exception()
    {
        var stub = new StubHandler().Always((_, _) => Task.FromException<HttpResponseMessage>(new HttpRequestException("Connection refused (polar.test:80)")));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 0);

        var failure = await Assert.ThrowsAsync<PolarException>(() => host.Gateway.GetCustomerAsync(Guid.NewGuid()));

        Assert.DoesNotContain(PolarTestHost.Token, failure.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Retries, a created meter, a refused token and a refused batch: every path that logs.</summary>
    private static async Task<IReadOnlyList<FakeLogRecord>> LogsOfABusyMinute()
    {
        var time = new FakeTimeProvider(TestEvents.Now);
        var stub = new StubHandler()
            .Then(_ => PolarJson.RateLimited(1))
            .Then(HttpStatusCode.InternalServerError, """{"error":"InternalServerError","detail":"boom"}""")
            .Then(HttpStatusCode.OK, PolarJson.Page())
            .Then(HttpStatusCode.Created, PolarJson.Meter(Guid.NewGuid(), "API Calls"))
            .Then(HttpStatusCode.Unauthorized, """{"error":"invalid_token","error_description":"bad token"}""")
            .Always(_ => StubHandler.Json(HttpStatusCode.UnprocessableEntity, PolarJson.ValidationError(("body.events.0.customer_id", "Customer does not exist."))));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 2, time);

        await host.DriveAsync(host.Gateway.EnsureMeterAsync("API Calls", "api_usage", "units"));
        await host.DriveAsync(host.Gateway.GetCustomerAsync(Guid.NewGuid()));
        await host.DriveAsync(host.Gateway.IngestAsync([TestEvents.Usage("user-1", -1, "grant-1"), TestEvents.Usage("user-2", -1, "grant-2")]));
        return host.Logs.GetSnapshot();
    }

    [Fact]
    public async Task Token_never_appears_in_log_records_at_debug_and_above()
    {
        var records = (await LogsOfABusyMinute()).Where(r => r.Level > LogLevel.Trace).ToList();

        // Retries and the refused batch were logged, so there was something to leak into.
        Assert.Contains(records, r => r.Category == "Polly");
        Assert.Contains(records, r => r.Category == typeof(PolarGateway).FullName);
        Assert.All(records, r => Assert.DoesNotContain(PolarTestHost.Token, Render(r), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Token_never_appears_in_the_text_of_any_log_record()
    {
        var records = await LogsOfABusyMinute();

        Assert.NotEmpty(records);
        Assert.All(records, r => Assert.DoesNotContain(PolarTestHost.Token, $"{r.Message}\n{r.Exception}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Token_never_appears_in_the_structured_state_of_any_log_record()
    {
        var records = await LogsOfABusyMinute();

        Assert.NotEmpty(records);
        Assert.All(records, r => Assert.DoesNotContain(PolarTestHost.Token, Render(r), StringComparison.Ordinal));
    }

    private static string Render(FakeLogRecord record) =>
        string.Join('\n', new[] { record.Message, record.Exception?.ToString() }
            .Concat(record.StructuredState?.Select(kv => $"{kv.Key}={kv.Value}") ?? []));
}
