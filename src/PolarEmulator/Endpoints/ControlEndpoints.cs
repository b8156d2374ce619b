using PolarEmulator.Http;
using PolarEmulator.Store;
using PolarEmulator.Validation;
using PolarEmulator.Webhooks;
using PolarEmulator.Wire;

namespace PolarEmulator.Endpoints;

/// <summary>The emulator's own controls under <c>/__emulator/</c> (not Polar's API): they need the token and no scope.</summary>
internal sealed class ControlEndpoints(EmulatorStore store, WebhookDispatcher webhooks)
{
    /// <summary><c>POST /__emulator/catch-up</c>: ends the event store and balance lags for everything ingested so far; 204.</summary>
    public Task CatchUpAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        store.CatchUp();
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    /// <summary>
    /// <c>POST /__emulator/webhooks/endpoints</c> with <c>{"url", "secret"?, "api_version"?}</c>: every later webhook is delivered there too;
    /// 201 and the endpoint with its secret (generated, <c>whsec_…</c>, when none is given).
    /// </summary>
    public async Task AddWebhookEndpointAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        using var body = await Requests.BodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var issues = new List<ValidationIssue>();
        var reader = new FieldReader(body.RootElement, Issues.Loc("body"), issues);
        var url = reader.RequiredString("url", minLength: 1, maxLength: 2048);
        var secret = reader.OptionalString("secret", minLength: 1, maxLength: 256);
        var apiVersion = reader.OptionalChoice("api_version", EmulatorPipeline.ApiVersions) ?? WebhookEndpointOptions.DefaultApiVersion;
        Uri? uri = null;
        if (url is not null && !(Uri.TryCreate(url, UriKind.Absolute, out uri) && uri.Scheme is "http" or "https"))
        {
            issues.Add(Issues.ValueError(reader.At("url"), Issues.Text(url), "an absolute http or https URL is required."));
        }

        if (issues.Count > 0)
        {
            await Requests.InvalidAsync(context, issues).ConfigureAwait(false);
            return;
        }

        var endpoint = webhooks.Add(new WebhookEndpointOptions(uri!, secret, apiVersion));
        await Respond.JsonAsync(context, StatusCodes.Status201Created, endpoint, EmulatorJsonContext.Default.WebhookEndpointView).ConfigureAwait(false);
    }

    /// <summary><c>GET /__emulator/webhooks/endpoints</c>: <c>{"items":[…]}</c>, in the order they were added.</summary>
    public Task ListWebhookEndpointsAsync(HttpContext context, IReadOnlyDictionary<string, string> values) =>
        Respond.OkAsync(context, new ItemsResource<WebhookEndpointView>(webhooks.Endpoints), EmulatorJsonContext.Default.ItemsResourceWebhookEndpointView);

    /// <summary><c>GET /__emulator/webhooks/deliveries</c>: <c>{"items":[…]}</c>, every delivery oldest first, with its attempts and body.</summary>
    public Task ListWebhookDeliveriesAsync(HttpContext context, IReadOnlyDictionary<string, string> values) =>
        Respond.OkAsync(context, new ItemsResource<WebhookDelivery>(webhooks.Deliveries), EmulatorJsonContext.Default.ItemsResourceWebhookDelivery);
}
