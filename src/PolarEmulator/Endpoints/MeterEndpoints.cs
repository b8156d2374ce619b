using PolarEmulator.Http;
using PolarEmulator.Store;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Endpoints;

/// <summary><c>/v1/meters/</c>: create, list, read and update (archive); Polar has no delete.</summary>
internal sealed class MeterEndpoints(EmulatorStore store)
{
    private static readonly string[] SortProperties = ["created_at", "name"];
    private static readonly string[] Intervals = ["year", "month", "week", "day", "hour"];
    private static readonly string[] AggregationFunctions = ["count", "sum", "max", "min", "avg", "unique"];

    /// <summary>
    /// <c>GET /v1/meters/{id}/quantities</c>: the meter's aggregation over the matching events of each interval from
    /// <c>start_timestamp</c> to <c>end_timestamp</c> (both required, with <c>interval</c>), and over the whole period.
    /// </summary>
    public async Task QuantitiesAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is not { } id)
        {
            return;
        }

        var query = new QueryReader(context.Request);
        var present = query.Require("start_timestamp") & query.Require("end_timestamp") & query.Require("interval");
        var start = query.Timestamp("start_timestamp");
        var end = query.Timestamp("end_timestamp");
        var interval = query.Enum("interval", Intervals);
        var zone = query.TimeZone("timezone") ?? TimeZoneInfo.Utc;
        var request = new QuantityQuery(start ?? default, end ?? default, interval ?? "day", zone, query.Uuids("customer_id"),
            query.Strings("external_customer_id"), query.Metadata(), query.Enum("customer_aggregation_function", AggregationFunctions));
        if (!present || query.Issues.Count > 0)
        {
            await Requests.InvalidAsync(context, query.Issues).ConfigureAwait(false);
            return;
        }

        var (quantities, refusal) = store.MeterQuantities(id, request);
        await (refusal is not null ? Requests.InvalidAsync(context, refusal.Issues)
            : quantities is null ? Respond.ResourceNotFoundAsync(context)
            : Respond.OkAsync(context, quantities, EmulatorJsonContext.Default.MeterQuantitiesResource)).ConfigureAwait(false);
    }

    public async Task CreateAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        using var body = await Requests.BodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var (draft, organizationId, issues) = MeterBodies.ParseCreate(body.RootElement);
        if (draft is null)
        {
            await Requests.InvalidAsync(context, issues).ConfigureAwait(false);
            return;
        }

        if (Requests.OrganizationRefusal(organizationId) is { } refusal)
        {
            await Requests.RefuseAsync(context, refusal).ConfigureAwait(false);
            return;
        }

        await Respond.JsonAsync(context, StatusCodes.Status201Created, store.CreateMeter(draft), EmulatorJsonContext.Default.MeterResource).ConfigureAwait(false);
    }

    public async Task GetAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is { } id)
        {
            await AnswerAsync(context, store.GetMeter(id)).ConfigureAwait(false);
        }
    }

    public async Task ListAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        var query = new QueryReader(context.Request);
        var page = query.Page();
        var filter = new MeterQuery(query.String("query"), query.Bool("is_archived"), query.Metadata(),
            query.Sorting(SortProperties, "name"), page);
        query.Uuids("organization_id");
        if (query.Issues.Count > 0)
        {
            await Requests.InvalidAsync(context, query.Issues).ConfigureAwait(false);
            return;
        }

        var (items, total) = store.ListMeters(filter);
        await Respond.OkAsync(context, Requests.Page(items, total, page), EmulatorJsonContext.Default.ListResourceMeterResource).ConfigureAwait(false);
    }

    public async Task UpdateAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is not { } id)
        {
            return;
        }

        using var body = await Requests.BodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var (patch, issues) = MeterBodies.ParseUpdate(body.RootElement);
        if (patch is null)
        {
            await Requests.InvalidAsync(context, issues).ConfigureAwait(false);
            return;
        }

        var (meter, refusal) = store.UpdateMeter(id, patch);
        await (refusal is not null ? Requests.RefuseAsync(context, refusal) : AnswerAsync(context, meter)).ConfigureAwait(false);
    }

    private static Task AnswerAsync(HttpContext context, MeterResource? meter) =>
        meter is null
            ? Respond.ResourceNotFoundAsync(context)
            : Respond.OkAsync(context, meter, EmulatorJsonContext.Default.MeterResource);
}
