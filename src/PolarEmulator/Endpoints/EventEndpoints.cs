using PolarEmulator.Http;
using PolarEmulator.Store;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Endpoints;

/// <summary><c>POST /v1/events/ingest</c> (all or nothing, deduplicated on <c>external_id</c> forever), <c>GET /v1/events/</c> and <c>GET /v1/events/{id}</c>.</summary>
internal sealed class EventEndpoints(EmulatorStore store, TimeProvider time, EmulatorOptions options)
{
    private static readonly string[] SortProperties = ["timestamp"];
    private static readonly string[] Sources = ["system", "user"];

    /// <summary><c>GET /v1/events/{id}</c>: one event, or Polar's 404.</summary>
    public async Task GetAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is not { } id)
        {
            return;
        }

        await (store.GetEvent(id) is { } found
            ? Respond.OkAsync(context, found, EmulatorJsonContext.Default.EventResource)
            : Respond.ResourceNotFoundAsync(context)).ConfigureAwait(false);
    }

    /// <summary><c>GET /v1/events/</c> with every filter of Polar's schema; a refused parameter is a 422 naming it.</summary>
    public async Task ListAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        var query = new QueryReader(context.Request);
        var page = query.Page();
        var filter = new EventQuery(
            query.Filter("filter"),
            query.Timestamp("start_timestamp"),
            query.Timestamp("end_timestamp"),
            query.Uuids("organization_id"),
            query.Uuids("customer_id"),
            query.Strings("external_customer_id"),
            query.Uuid("meter_id"),
            query.Strings("name"),
            query.Enums("source", Sources),
            query.String("query"),
            query.Uuid("parent_id"),
            query.Integer("depth", 0, 5),
            query.Metadata(),
            query.Sorting(SortProperties, "-timestamp"),
            page);
        if (filter.Query is { } text)
        {
            // Polar searches events only within one organization, and only for 3 characters or more.
            if (text.Length < 3)
            {
                query.Issues.Add(Issues.TooShort(Issues.Loc("query", "query"), Issues.Text(text), 3));
            }
            else if (filter.OrganizationIds.Count == 0)
            {
                query.Issues.Add(new Wire.ValidationIssue("missing", Issues.Loc("query", "organization_id"),
                    "organization_id is required when query is set.", Issues.Null));
            }
        }

        if (query.Issues.Count > 0)
        {
            await Requests.InvalidAsync(context, query.Issues).ConfigureAwait(false);
            return;
        }

        var (items, total, refusal) = store.ListEvents(filter);
        if (refusal is not null)
        {
            await Requests.RefuseAsync(context, refusal).ConfigureAwait(false);
            return;
        }

        await Respond.OkAsync(context, Requests.Page(items, total, page), EmulatorJsonContext.Default.ListResourceEventResource).ConfigureAwait(false);
    }

    public async Task IngestAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        using var body = await Requests.BodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var (events, issues) = EventBodies.ParseIngest(body.RootElement, Timestamps.Microseconds(time.GetUtcNow()), options.StrictEventReferences);
        if (events is null)
        {
            await Requests.InvalidAsync(context, issues).ConfigureAwait(false);
            return;
        }

        var (result, refusal) = store.Ingest(events, options.StrictEventReferences);
        await (refusal is not null
            ? Requests.RefuseAsync(context, refusal)
            : Respond.OkAsync(context, result!, EmulatorJsonContext.Default.IngestResultResource)).ConfigureAwait(false);
    }
}
