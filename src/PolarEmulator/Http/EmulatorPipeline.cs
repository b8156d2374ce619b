using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using PolarEmulator.Wire;

namespace PolarEmulator.Http;

/// <summary>Counts every request the emulator receives, whatever becomes of it.</summary>
internal sealed class RequestCounter
{
    private int _count;
    private int _rateLimited;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Requests answered 429 because the budget of their window was spent (not injected faults).</summary>
    public int RateLimited => Volatile.Read(ref _rateLimited);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _byRoute = new(StringComparer.Ordinal);

    /// <summary>Requests by method and the path's first three segments (<c>GET /v1/customers/external</c>).</summary>
    public int CountOf(string route) => _byRoute.GetValueOrDefault(route);

    public void Increment(string method, string path)
    {
        Interlocked.Increment(ref _count);
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        _byRoute.AddOrUpdate($"{method} /{string.Join('/', segments.Take(3))}", 1, (_, n) => n + 1);
    }

    public void CountRateLimited() => Interlocked.Increment(ref _rateLimited);
}

/// <summary>The token the emulator accepts and the scopes it carries.</summary>
internal sealed record TokenPolicy(string Token, IReadOnlyCollection<string>? Scopes)
{
    public bool Accepts(string presented) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(Token));

    /// <summary>Whether the token holds one of the scopes; an operation naming none (the emulator's own controls) needs only the token.</summary>
    public bool Allows(IReadOnlyList<string> anyOf) => Scopes is null || anyOf.Count == 0 || anyOf.Any(Scopes.Contains);
}

/// <summary>
/// Polar's request pipeline, in the order Polar applies it: count, faults, rate limit, API version, body length
/// rules, routing (404, 405, 307), authentication and scopes, then the operation.
/// </summary>
internal static class EmulatorPipeline
{
    /// <summary>The API version answered when a request names none.</summary>
    public const string DefaultApiVersion = "2026-04";

    /// <summary>
    /// The versions Polar's SDK (1.0.1) ships; for every endpoint and webhook the emulator serves their schemas are the same.
    /// </summary>
    public static readonly IReadOnlyList<string> ApiVersions = ["2026-04", "2026-10", "2027-01"];

    /// <summary>Polar's request body limit: 10 MiB.</summary>
    public const long MaxBodyBytes = 10 * 1024 * 1024;

    /// <summary>How much of a too-large body is read (and dropped) before answering 413.</summary>
    private const long MaxDrainBytes = 64 * 1024 * 1024;

    public static WebApplication UsePolarPipeline(this WebApplication app)
    {
        app.Use(CountAsync);
        app.Use(InjectFaultsAsync);
        app.Use(LimitRateAsync);
        app.Use(CheckWireRulesAsync);
        app.Run(DispatchAsync);
        return app;
    }

    private static Task CountAsync(HttpContext context, RequestDelegate next)
    {
        context.RequestServices.GetRequiredService<RequestCounter>().Increment(context.Request.Method, context.Request.Path.Value ?? "/");
        return next(context);
    }

    private static async Task InjectFaultsAsync(HttpContext context, RequestDelegate next)
    {
        var faults = context.RequestServices.GetRequiredService<FaultInjector>();
        if (!faults.Options.IsActive)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var delay = faults.Options.Latency + (faults.Spike() ? faults.Options.SpikeLatency : TimeSpan.Zero);
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, context.RequestServices.GetRequiredService<TimeProvider>(), context.RequestAborted).ConfigureAwait(false);
        }

        switch (faults.Next())
        {
            case Fault.Drop:
                context.Abort();
                return;
            case Fault.InternalServerError:
                await Respond.ErrorAsync(context, StatusCodes.Status500InternalServerError, "InternalServerError", "Injected fault: internal server error.").ConfigureAwait(false);
                return;
            case Fault.ServiceUnavailable:
                await Respond.ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "ServiceUnavailable", "Injected fault: service unavailable.").ConfigureAwait(false);
                return;
            case Fault.RateLimited:
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = RateLimiter.WindowSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return;
            case Fault.LostAnswer:
                // The work is done, then the answer never arrives.
                var answer = context.Response.Body;
                context.Response.Body = Stream.Null;
                await next(context).ConfigureAwait(false);
                context.Response.Body = answer;
                context.Abort();
                return;
            default:
                await next(context).ConfigureAwait(false);
                return;
        }
    }

    private static Task LimitRateAsync(HttpContext context, RequestDelegate next)
    {
        if (context.RequestServices.GetRequiredService<RateLimiter>().TryAcquire())
        {
            return next(context);
        }

        // Polar answers 429 with an empty body and the window length (not the time left) in Retry-After.
        context.RequestServices.GetRequiredService<RequestCounter>().CountRateLimited();
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = RateLimiter.WindowSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Task.CompletedTask;
    }

    private static Task CheckWireRulesAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var version = request.Headers.TryGetValue("Polar-Version", out var asked) ? asked.ToString() : DefaultApiVersion;
        if (!ApiVersions.Contains(version, StringComparer.Ordinal))
        {
            return Respond.RouteNotFoundAsync(context);
        }

        // Polar echoes the version it answered with.
        context.Response.Headers["Polar-Version"] = version;

        if (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method) || HttpMethods.IsPatch(request.Method))
        {
            if (request.ContentLength is null)
            {
                return Respond.ErrorAsync(context, StatusCodes.Status411LengthRequired, "LengthRequired",
                    "A Content-Length header is required: send the body buffered, not chunked.");
            }

            if (request.ContentLength > MaxBodyBytes)
            {
                return RefuseTooLargeAsync(context);
            }
        }

        return next(context);
    }

    /// <summary>
    /// Answers 413 after reading the body, so the client, still sending, sees the answer rather than a reset
    /// connection; bodies beyond <see cref="MaxDrainBytes"/> are not read and their connection is closed.
    /// </summary>
    private static async Task RefuseTooLargeAsync(HttpContext context)
    {
        if (context.Request.ContentLength <= MaxDrainBytes
            && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
            try
            {
                while (await context.Request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false) > 0)
                {
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        await Respond.ErrorAsync(context, StatusCodes.Status413PayloadTooLarge, "RequestBodyTooLarge",
            $"The request body is larger than {MaxBodyBytes} bytes.").ConfigureAwait(false);
    }

    private static async Task DispatchAsync(HttpContext context)
    {
        var router = context.RequestServices.GetRequiredService<PolarRouter>();
        switch (router.Match(context.Request.Method, context.Request.Path.Value ?? "/"))
        {
            case RouteMatch.NotFound:
                await Respond.RouteNotFoundAsync(context).ConfigureAwait(false);
                return;
            case RouteMatch.MethodNotAllowed:
                await Respond.JsonAsync(context, StatusCodes.Status405MethodNotAllowed, new DetailResource("Method Not Allowed"),
                    EmulatorJsonContext.Default.DetailResource).ConfigureAwait(false);
                return;
            case RouteMatch.Redirect redirect:
                var request = context.Request;
                context.Response.StatusCode = StatusCodes.Status307TemporaryRedirect;
                context.Response.Headers.Location = $"{request.Scheme}://{request.Host}{request.PathBase}{redirect.Path}{request.QueryString}";
                return;
            case RouteMatch.Found { Route.Handler: null } unserved:
                await Respond.ErrorAsync(context, StatusCodes.Status501NotImplemented, "NotImplemented",
                    $"The Polar emulator does not serve {unserved.Route.Method} {unserved.Route.Template} (Polar does); see src/PolarEmulator/README.md.").ConfigureAwait(false);
                return;
            case RouteMatch.Found found:
                if (await AuthorizeAsync(context, found.Route).ConfigureAwait(false))
                {
                    await found.Route.Handler!(context, found.Values).ConfigureAwait(false);
                }

                return;
        }
    }

    /// <summary>Checks the bearer token and its scopes; on failure writes Polar's 401 or 403 and returns false.</summary>
    private static async Task<bool> AuthorizeAsync(HttpContext context, PolarRoute route)
    {
        var policy = context.RequestServices.GetRequiredService<TokenPolicy>();
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.Length == scheme.Length)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"polar\"";
            await Respond.ErrorAsync(context, StatusCodes.Status401Unauthorized, "Unauthorized", "Unauthorized").ConfigureAwait(false);
            return false;
        }

        if (!policy.Accepts(header[scheme.Length..].Trim()))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"polar\", error=\"invalid_token\"";
            await Respond.JsonAsync(context, StatusCodes.Status401Unauthorized,
                new OAuthErrorResource("invalid_token", "The access token provided is expired, revoked, malformed, or invalid for other reasons."),
                EmulatorJsonContext.Default.OAuthErrorResource).ConfigureAwait(false);
            return false;
        }

        if (!policy.Allows(route.Scopes))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"polar\", error=\"insufficient_scope\"";
            await Respond.JsonAsync(context, StatusCodes.Status403Forbidden,
                new OAuthErrorResource("insufficient_scope", $"The request requires higher privileges than provided by the access token: one of {string.Join(", ", route.Scopes)}."),
                EmulatorJsonContext.Default.OAuthErrorResource).ConfigureAwait(false);
            return false;
        }

        return true;
    }
}
