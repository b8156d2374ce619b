using PolarEmulator.Http;
using PolarEmulator.Store;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Endpoints;

/// <summary><c>POST /v1/events/ingest</c>: all or nothing, deduplicated on <c>external_id</c> forever.</summary>
internal sealed class EventEndpoints(EmulatorStore store, TimeProvider time)
{
    public async Task IngestAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        using var body = await Requests.BodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var (events, issues) = EventBodies.ParseIngest(body.RootElement, time.GetUtcNow());
        if (events is null)
        {
            await Requests.InvalidAsync(context, issues).ConfigureAwait(false);
            return;
        }

        var (result, refusal) = store.Ingest(events);
        await (refusal is not null
            ? Requests.RefuseAsync(context, refusal)
            : Respond.OkAsync(context, result!, EmulatorJsonContext.Default.IngestResultResource)).ConfigureAwait(false);
    }
}
