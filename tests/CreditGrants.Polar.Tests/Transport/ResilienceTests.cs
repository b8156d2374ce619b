using System.Net;
using CreditGrants.Polar.Http;
using CreditGrants.Polar.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Polar.Tests.Transport;

/// <summary>The resilience pipeline as registered: retries, Retry-After, attempt timeouts, circuit breaker and request budget.</summary>
public sealed class ResilienceTests
{
    private static HttpResponseMessage Ingested() => StubHandler.Json(HttpStatusCode.OK, PolarJson.Ingested(0));

    private static FakeTimeProvider Clock() => new(TestEvents.Now);

    [Theory]
    [InlineData(HttpStatusCode.RequestTimeout)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.BadGateway)]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    public async Task Transient_status_is_retried_then_succeeds(HttpStatusCode status)
    {
        var stub = new StubHandler().Then(status).Then(_ => Ingested());
        await using var host = PolarTestHost.ForStub(stub, time: Clock());

        var call = host.Client.IngestEventsAsync([]);
        await host.DriveAsync(call);

        Assert.True(call.IsCompletedSuccessfully, call.Exception?.ToString());
        Assert.Equal(2, stub.Count);
    }

    [Fact]
    public async Task Connection_failure_is_retried_then_succeeds()
    {
        var stub = new StubHandler().ThenThrow(new HttpRequestException("Connection refused")).Then(_ => Ingested());
        await using var host = PolarTestHost.ForStub(stub, time: Clock());

        var call = host.Client.IngestEventsAsync([]);
        await host.DriveAsync(call);

        Assert.True(call.IsCompletedSuccessfully, call.Exception?.ToString());
        Assert.Equal(2, stub.Count);
    }

    [Fact]
    public async Task Retry_waits_as_long_as_retry_after_asks()
    {
        var time = Clock();
        var attempts = new List<DateTimeOffset>();
        var stub = new StubHandler()
            .Then(_ =>
            {
                attempts.Add(time.GetUtcNow());
                return PolarJson.RateLimited(30);
            })
            .Then(_ =>
            {
                attempts.Add(time.GetUtcNow());
                return Ingested();
            });
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetryDelaySeconds = 60, time);

        await host.DriveAsync(host.Client.IngestEventsAsync([]));

        Assert.Equal(2, attempts.Count);
        Assert.True(attempts[1] - attempts[0] >= TimeSpan.FromSeconds(30), $"retried after {attempts[1] - attempts[0]}");
    }

    [Fact]
    public async Task Retry_after_longer_than_the_retry_delay_cap_is_capped()
    {
        var time = Clock();
        var attempts = new List<DateTimeOffset>();
        var stub = new StubHandler()
            .Then(_ =>
            {
                attempts.Add(time.GetUtcNow());
                return PolarJson.RateLimited(60);
            })
            .Then(_ =>
            {
                attempts.Add(time.GetUtcNow());
                return Ingested();
            });
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetryDelaySeconds = 5, time);

        await host.DriveAsync(host.Client.IngestEventsAsync([]));

        Assert.Equal(2, attempts.Count);
        Assert.True(attempts[1] - attempts[0] <= TimeSpan.FromSeconds(6), $"retried after {attempts[1] - attempts[0]}");
    }

    [Fact]
    public async Task Server_errors_give_up_after_max_retries_as_unavailable()
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(HttpStatusCode.InternalServerError, """{"error":"InternalServerError","detail":"boom"}"""));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 3, Clock());

        var call = host.Client.IngestEventsAsync([]);
        await host.DriveAsync(call);

        var failure = await Assert.ThrowsAsync<PolarException>(() => call);
        Assert.Equal(PolarErrorKind.Unavailable, failure.Kind);
        Assert.Equal(HttpStatusCode.InternalServerError, failure.Status);
        Assert.Equal(4, stub.Count);
    }

    [Fact]
    public async Task Rate_limiting_gives_up_after_max_retries_as_rate_limited_with_retry_after()
    {
        var stub = new StubHandler().Always(_ => PolarJson.RateLimited(7));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 2, Clock());

        var call = host.Client.IngestEventsAsync([]);
        await host.DriveAsync(call);

        var failure = await Assert.ThrowsAsync<PolarException>(() => call);
        Assert.Equal(PolarErrorKind.RateLimited, failure.Kind);
        Assert.Equal(TimeSpan.FromSeconds(7), failure.RetryAfter);
        Assert.Equal(3, stub.Count);
    }

    [Fact]
    public async Task Zero_max_retries_tries_once()
    {
        var stub = new StubHandler().Always(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 0, Clock());

        var failure = await Assert.ThrowsAsync<PolarException>(() => host.Client.IngestEventsAsync([]));

        Assert.Equal(PolarErrorKind.Unavailable, failure.Kind);
        Assert.Equal(1, stub.Count);
    }

    [Fact]
    public async Task Connection_failures_give_up_after_max_retries_as_unavailable()
    {
        var stub = new StubHandler().Always((_, _) => Task.FromException<HttpResponseMessage>(new HttpRequestException("Connection refused")));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 2, Clock());

        var call = host.Client.IngestEventsAsync([]);
        await host.DriveAsync(call);

        var failure = await Assert.ThrowsAsync<PolarException>(() => call);
        Assert.Equal(PolarErrorKind.Unavailable, failure.Kind);
        Assert.Null(failure.Status);
        Assert.IsType<HttpRequestException>(failure.InnerException);
        Assert.Equal(3, stub.Count);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.RequestEntityTooLarge)]
    [InlineData(HttpStatusCode.UnprocessableEntity)]
    public async Task Client_errors_are_not_retried(HttpStatusCode status)
    {
        var stub = new StubHandler().Always(_ => StubHandler.Json(status, """{"error":"Nope","detail":"nope"}"""));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 3, Clock());

        var call = host.Client.IngestEventsAsync([]);
        await host.DriveAsync(call);

        var failure = await Assert.ThrowsAsync<PolarException>(() => call);
        Assert.Equal(status, failure.Status);
        Assert.Equal(1, stub.Count);
    }

    [Fact]
    public async Task Hung_attempt_times_out_as_unavailable()
    {
        var stub = new StubHandler().Always(async (_, cancellationToken) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            return Ingested();
        });
        await using var host = PolarTestHost.ForStub(stub, o =>
        {
            o.MaxRetries = 1;
            o.AttemptTimeoutSeconds = 5;
        }, Clock());

        var call = host.Client.IngestEventsAsync([]);
        await host.DriveAsync(call);

        var failure = await Assert.ThrowsAsync<PolarException>(() => call);
        Assert.Equal(PolarErrorKind.Unavailable, failure.Kind);
        Assert.Contains("timed out", failure.Message, StringComparison.Ordinal);
        Assert.Equal(2, stub.Count);
    }

    [Fact]
    public async Task Hung_attempt_is_retried_after_its_timeout()
    {
        var stub = new StubHandler().ThenHang().Then(_ => Ingested());
        await using var host = PolarTestHost.ForStub(stub, o => o.AttemptTimeoutSeconds = 5, Clock());

        var call = host.Client.IngestEventsAsync([]);
        await host.DriveAsync(call);

        Assert.True(call.IsCompletedSuccessfully, call.Exception?.ToString());
        Assert.Equal(2, stub.Count);
    }

    [Fact]
    public async Task Caller_cancellation_is_cancellation_not_unavailable()
    {
        var stub = new StubHandler().ThenHang();
        await using var host = PolarTestHost.ForStub(stub, time: Clock());
        using var cancellation = new CancellationTokenSource();

        var call = host.Client.IngestEventsAsync([], cancellation.Token);
        await Task.WhenAny(call, Task.Delay(50));
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task Repeated_failures_open_the_circuit_and_later_calls_fail_fast()
    {
        var stub = new StubHandler().Always(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        await using var host = PolarTestHost.ForStub(stub, o => o.MaxRetries = 0, Clock());
        for (var i = 0; i < 20; i++)
        {
            await Assert.ThrowsAsync<PolarException>(() => host.Client.IngestEventsAsync([]));
        }

        var failure = await Assert.ThrowsAsync<PolarException>(() => host.Client.IngestEventsAsync([]));

        Assert.Equal(PolarErrorKind.Unavailable, failure.Kind);
        Assert.Contains("circuit", failure.Message, StringComparison.Ordinal);
        Assert.Equal(20, stub.Count);
    }

    [Fact]
    public async Task Budget_holds_the_request_over_the_limit_until_the_window_moves_on()
    {
        using var budget = new PolarRequestBudget(2, autoReplenish: false);
        var window = new BudgetWindow(budget.Limiter);
        var stub = new StubHandler().Always(_ => Ingested());
        await using var host = PolarTestHost.ForStub(stub, budget: budget);

        await host.Client.IngestEventsAsync([]);
        await host.Client.IngestEventsAsync([]);
        var third = host.Client.IngestEventsAsync([]);
        await Task.WhenAny(third, Task.Delay(50));

        Assert.False(third.IsCompleted);
        Assert.Equal(2, stub.Count);
        Assert.Equal(1, budget.Limiter.GetStatistics()?.CurrentQueuedCount);

        while (!third.IsCompleted && window.Segments < 100)
        {
            window.Slide();
            await Task.WhenAny(third, Task.Delay(10));
        }

        await third;
        Assert.Equal(3, stub.Count);
        Assert.Equal(TimeSpan.FromMinutes(1), window.Elapsed);
    }

    [Fact]
    public async Task Held_request_leaves_the_queue_when_its_caller_cancels()
    {
        using var budget = new PolarRequestBudget(1, autoReplenish: false);
        var stub = new StubHandler().Always(_ => Ingested());
        await using var host = PolarTestHost.ForStub(stub, budget: budget);
        using var cancellation = new CancellationTokenSource();
        await host.Client.IngestEventsAsync([]);

        var held = host.Client.IngestEventsAsync([], cancellation.Token);
        await Task.WhenAny(held, Task.Delay(50));
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held);
        Assert.Equal(0, budget.Limiter.GetStatistics()?.CurrentQueuedCount);
        Assert.Equal(1, stub.Count);
    }

    [Fact]
    public async Task Retries_take_from_the_budget_too()
    {
        using var budget = new PolarRequestBudget(2, autoReplenish: false);
        var window = new BudgetWindow(budget.Limiter);
        var time = Clock();
        var stub = new StubHandler().Then(HttpStatusCode.ServiceUnavailable).Then(HttpStatusCode.ServiceUnavailable).Then(_ => Ingested());
        await using var host = PolarTestHost.ForStub(stub, time: time, budget: budget);

        var call = host.Client.IngestEventsAsync([]);
        for (var step = 0; step < 600 && budget.Limiter.GetStatistics()?.CurrentQueuedCount != 1; step++)
        {
            await Task.WhenAny(call, Task.Delay(5));
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(1, budget.Limiter.GetStatistics()?.CurrentQueuedCount);
        Assert.Equal(2, stub.Count);
        while (!call.IsCompleted && window.Segments < 100)
        {
            window.Slide();
            await Task.WhenAny(call, Task.Delay(10));
        }

        await call;
        Assert.Equal(3, stub.Count);
    }
}
