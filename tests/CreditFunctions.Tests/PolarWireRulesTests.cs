using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;
using CreditGrants.Polar.Http;
using CreditGrants.Polar.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CreditFunctions.Tests;

/// <summary>What a grant sends to Polar follows Polar's documented rules, not only what our emulator accepts.</summary>
public sealed class PolarWireRulesTests : IAsyncLifetime, IDisposable
{
    private readonly RecordingHandler _recorder = new();
    private App _app = null!;

    public async Task InitializeAsync() =>
        _app = await App.StartAsync(configure: services => services.AddHttpClient<PolarClient>().AddHttpMessageHandler(() => _recorder));

    public async Task DisposeAsync() => await _app.DisposeAsync();

    public void Dispose() => _recorder.Dispose();

    private Task<ApiResponse> GrantAsync() => _app.Api.GrantAsync(
        new MemoryStream("""{"customer":{"externalId":"user-1","email":"ada@lovelace.dev","name":"Ada"},"units":40,"grantId":"wire-1","reason":"trial"}"""u8.ToArray()),
        null, CancellationToken.None);

    [Fact]
    public async Task Every_request_of_a_grant_and_its_repeat_follows_polars_rules()
    {
        await GrantAsync();
        await GrantAsync();
        await _app.Api.GetBalanceAsync("user-1", null, CancellationToken.None);

        Assert.Contains(_recorder.Requests, r => r.Method == HttpMethod.Post && r.Path == "/v1/customers/");
        Assert.Contains(_recorder.Requests, r => r.Method == HttpMethod.Post && r.Path == "/v1/events/ingest");
        Assert.All(_recorder.Requests, request =>
        {
            Assert.Equal("Bearer " + _app.Emulator.Token, request.Authorization);
            if (request.Body is null)
            {
                return;
            }

            Assert.False(request.Chunked, $"{request.Method} {request.Path} is sent chunked");
            Assert.Equal(request.Body.Length, request.ContentLength);
            Assert.DoesNotContain("organization_id", Encoding.UTF8.GetString(request.Body), StringComparison.Ordinal);
            Assert.Empty(PolarOpenApi.Validate(request.Method, request.Path, request.Body));
        });
    }

    [Fact]
    public async Task A_repeated_grant_is_a_duplicate_and_changes_no_balance()
    {
        var first = await GrantAsync();
        var before = await _app.Api.GetBalanceAsync("user-1", null, CancellationToken.None);

        var again = await GrantAsync();
        var after = await _app.Api.GetBalanceAsync("user-1", null, CancellationToken.None);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal("duplicate", JsonDocument.Parse(again.Body).RootElement.GetProperty("status").GetString());
        Assert.Equal(40m, JsonDocument.Parse(before.Body).RootElement.GetProperty("balance").GetDecimal());
        Assert.Equal(40m, JsonDocument.Parse(after.Body).RootElement.GetProperty("balance").GetDecimal());
    }

    private sealed record Sent(HttpMethod Method, string Path, string? Authorization, byte[]? Body, long? ContentLength, bool Chunked);

    /// <summary>Records each request as it leaves for Polar, after the resilience pipeline.</summary>
    private sealed class RecordingHandler : DelegatingHandler
    {
        private readonly List<Sent> _requests = [];

        public IReadOnlyList<Sent> Requests
        {
            get
            {
                lock (_requests)
                {
                    return [.. _requests];
                }
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            var sent = new Sent(request.Method, request.RequestUri!.AbsolutePath, request.Headers.Authorization?.ToString(), body,
                request.Content?.Headers.ContentLength, request.Headers.TransferEncodingChunked == true);
            lock (_requests)
            {
                _requests.Add(sent);
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
