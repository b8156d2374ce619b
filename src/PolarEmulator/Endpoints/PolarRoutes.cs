using PolarEmulator.Http;

namespace PolarEmulator.Endpoints;

/// <summary>The part of Polar's API the emulator serves, with the scopes each operation accepts (any one suffices).</summary>
internal static class PolarRoutes
{
    private static readonly string[] CustomersRead = ["customers:read", "customers:write"];
    private static readonly string[] CustomersWrite = ["customers:write"];
    private static readonly string[] EventsRead = ["events:read", "events:write"];
    private static readonly string[] EventsWrite = ["events:write"];
    private static readonly string[] MetersRead = ["meters:read", "meters:write"];
    private static readonly string[] MetersWrite = ["meters:write"];
    private static readonly string[] CustomerMetersRead = ["customer_meters:read"];

    public static PolarRouter Build(CustomerEndpoints customers, EventEndpoints events, MeterEndpoints meters, CustomerMeterEndpoints customerMeters,
        ControlEndpoints controls, LifecycleEndpoints lifecycle) =>
        new(WithUnserved(
    [
        new("GET", "/v1/customers/", CustomersRead, customers.ListAsync),
        new("POST", "/v1/customers/", CustomersWrite, customers.CreateAsync),
        new("GET", "/v1/customers/external/{external_id}", CustomersRead, customers.GetExternalAsync),
        new("PATCH", "/v1/customers/external/{external_id}", CustomersWrite, customers.UpdateExternalAsync),
        new("DELETE", "/v1/customers/external/{external_id}", CustomersWrite, customers.DeleteExternalAsync),
        new("GET", "/v1/customers/external/{external_id}/state", CustomersRead, customers.StateExternalAsync),
        new("GET", "/v1/customers/{id}", CustomersRead, customers.GetAsync),
        new("PATCH", "/v1/customers/{id}", CustomersWrite, customers.UpdateAsync),
        new("DELETE", "/v1/customers/{id}", CustomersWrite, customers.DeleteAsync),
        new("GET", "/v1/customers/{id}/state", CustomersRead, customers.StateAsync),
        new("GET", "/v1/events/", EventsRead, events.ListAsync),
        new("GET", "/v1/events/{id}", EventsRead, events.GetAsync),
        new("POST", "/v1/events/ingest", EventsWrite, events.IngestAsync),
        new("GET", "/v1/meters/", MetersRead, meters.ListAsync),
        new("POST", "/v1/meters/", MetersWrite, meters.CreateAsync),
        new("GET", "/v1/meters/{id}", MetersRead, meters.GetAsync),
        new("PATCH", "/v1/meters/{id}", MetersWrite, meters.UpdateAsync),
        new("GET", "/v1/meters/{id}/quantities", MetersRead, meters.QuantitiesAsync),
        new("GET", "/v1/customer-meters/", CustomerMetersRead, customerMeters.ListAsync),
        new("GET", "/v1/customer-meters/{id}", CustomerMetersRead, customerMeters.GetAsync),
        new("POST", "/__emulator/catch-up", [], controls.CatchUpAsync),
        new("POST", "/__emulator/subscriptions", [], lifecycle.SubscribeAsync),
        new("POST", "/__emulator/subscriptions/{id}/cycle", [], lifecycle.CycleAsync),
        new("POST", "/__emulator/subscriptions/{id}/cancel", [], lifecycle.CancelAsync),
        new("POST", "/__emulator/subscriptions/{id}/revoke", [], lifecycle.RevokeAsync),
        new("POST", "/__emulator/orders", [], lifecycle.PurchaseAsync),
        new("POST", "/__emulator/orders/{id}/refund", [], lifecycle.RefundAsync),
        new("GET", "/__emulator/webhooks/endpoints", [], controls.ListWebhookEndpointsAsync),
        new("POST", "/__emulator/webhooks/endpoints", [], controls.AddWebhookEndpointAsync),
        new("GET", "/__emulator/webhooks/deliveries", [], controls.ListWebhookDeliveriesAsync),
    ]));

    /// <summary>
    /// The served routes, then every other operation of Polar's API (<c>polar-operations.txt</c>) without a handler, so
    /// that a path Polar has is told apart from a missing resource (501, not 404) and never falls into a served template
    /// (<c>/v1/customers/export</c> is not <c>/v1/customers/{id}</c>).
    /// </summary>
    private static List<PolarRoute> WithUnserved(List<PolarRoute> served)
    {
        var known = served.Select(r => (r.Method, r.Template)).ToHashSet();
        foreach (var (method, template) in PolarOperations())
        {
            if (known.Add((method, template)))
            {
                served.Add(new PolarRoute(method, template, [], Handler: null));
            }
        }

        return served;
    }

    /// <summary>The operations of Polar's API, one <c>METHOD /path</c> a line, as Polar's SDK calls them.</summary>
    public static IEnumerable<(string Method, string Template)> PolarOperations()
    {
        using var stream = typeof(PolarRoutes).Assembly.GetManifestResourceStream("PolarEmulator.polar-operations.txt")
            ?? throw new InvalidOperationException("The embedded list of Polar's operations is missing.");
        using var reader = new StreamReader(stream);
        var operations = new List<(string, string)>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                operations.Add((line[..space], line[(space + 1)..]));
            }
        }

        return operations;
    }
}
