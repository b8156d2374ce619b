using PolarEmulator.Http;
using PolarEmulator.Store;
using PolarEmulator.Wire;

namespace PolarEmulator.Endpoints;

/// <summary><c>/v1/customer-meters/</c>: balances, current as soon as an ingest returns (Polar's lag about 15 s).</summary>
internal sealed class CustomerMeterEndpoints(EmulatorStore store)
{
    private static readonly string[] SortProperties =
        ["created_at", "modified_at", "customer_id", "customer_name", "meter_id", "meter_name", "consumed_units", "credited_units", "balance"];

    public async Task ListAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        var query = new QueryReader(context.Request);
        var page = query.Page();
        var filter = new CustomerMeterQuery(query.Uuids("customer_id"), query.Strings("external_customer_id"), query.Uuids("meter_id"),
            query.Sorting(SortProperties, "-modified_at"), page);
        query.Uuids("organization_id");
        if (query.Issues.Count > 0)
        {
            await Requests.InvalidAsync(context, query.Issues).ConfigureAwait(false);
            return;
        }

        var (items, total) = store.ListCustomerMeters(filter);
        await Respond.OkAsync(context, Requests.Page(items, total, page), EmulatorJsonContext.Default.ListResourceCustomerMeterResource).ConfigureAwait(false);
    }

    public async Task GetAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is not { } id)
        {
            return;
        }

        await (store.GetCustomerMeter(id) is { } meter
            ? Respond.OkAsync(context, meter, EmulatorJsonContext.Default.CustomerMeterResource)
            : Respond.ResourceNotFoundAsync(context)).ConfigureAwait(false);
    }
}
