using PolarEmulator.Http;
using PolarEmulator.Store;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Endpoints;

/// <summary><c>/v1/customers/</c>: create, read (by id or external id), list, update, delete and state.</summary>
internal sealed class CustomerEndpoints(EmulatorStore store)
{
    private static readonly string[] SortProperties = ["created_at", "email", "name"];

    public async Task CreateAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        using var body = await Requests.BodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var (draft, organizationId, issues) = CustomerBodies.ParseCreate(body.RootElement);
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

        var (customer, clash) = store.CreateCustomer(draft);
        await (clash is not null
            ? Requests.RefuseAsync(context, clash)
            : Respond.JsonAsync(context, StatusCodes.Status201Created, customer!, EmulatorJsonContext.Default.CustomerResource)).ConfigureAwait(false);
    }

    public async Task GetAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is { } id)
        {
            await AnswerAsync(context, store.GetCustomer(id)).ConfigureAwait(false);
        }
    }

    public Task GetExternalAsync(HttpContext context, IReadOnlyDictionary<string, string> values) =>
        AnswerAsync(context, store.GetCustomerByExternalId(values["external_id"]));

    public async Task StateAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is { } id)
        {
            await AnswerStateAsync(context, store.GetCustomerState(id, null)).ConfigureAwait(false);
        }
    }

    public Task StateExternalAsync(HttpContext context, IReadOnlyDictionary<string, string> values) =>
        AnswerStateAsync(context, store.GetCustomerState(null, values["external_id"]));

    public async Task ListAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        var query = new QueryReader(context.Request);
        var page = query.Page();
        var filter = new CustomerQuery(query.String("email"), query.String("query"), query.Metadata(),
            query.Sorting(SortProperties, "-created_at"), page, query.Bool("active"));
        query.Uuids("organization_id");
        if (query.Issues.Count > 0)
        {
            await Requests.InvalidAsync(context, query.Issues).ConfigureAwait(false);
            return;
        }

        var (items, total) = store.ListCustomers(filter);
        await Respond.OkAsync(context, Requests.Page(items, total, page), EmulatorJsonContext.Default.ListResourceCustomerResource).ConfigureAwait(false);
    }

    public async Task UpdateAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is { } id)
        {
            await UpdateAsync(context, id, null).ConfigureAwait(false);
        }
    }

    public Task UpdateExternalAsync(HttpContext context, IReadOnlyDictionary<string, string> values) =>
        UpdateAsync(context, null, values["external_id"]);

    public async Task DeleteAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is { } id)
        {
            await AnswerDeletedAsync(context, store.DeleteCustomer(id, null)).ConfigureAwait(false);
        }
    }

    public Task DeleteExternalAsync(HttpContext context, IReadOnlyDictionary<string, string> values) =>
        AnswerDeletedAsync(context, store.DeleteCustomer(null, values["external_id"]));

    private async Task UpdateAsync(HttpContext context, Guid? id, string? externalId)
    {
        using var body = await Requests.BodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var (patch, issues) = CustomerBodies.ParseUpdate(body.RootElement, allowExternalId: id is not null);
        if (patch is null)
        {
            await Requests.InvalidAsync(context, issues).ConfigureAwait(false);
            return;
        }

        var (customer, refusal) = store.UpdateCustomer(id, externalId, patch);
        await (refusal is not null ? Requests.RefuseAsync(context, refusal) : AnswerAsync(context, customer)).ConfigureAwait(false);
    }

    private static Task AnswerAsync(HttpContext context, CustomerResource? customer) =>
        customer is null
            ? Respond.ResourceNotFoundAsync(context)
            : Respond.OkAsync(context, customer, EmulatorJsonContext.Default.CustomerResource);

    private static Task AnswerStateAsync(HttpContext context, CustomerStateResource? state) =>
        state is null
            ? Respond.ResourceNotFoundAsync(context)
            : Respond.OkAsync(context, state, EmulatorJsonContext.Default.CustomerStateResource);

    private static Task AnswerDeletedAsync(HttpContext context, bool deleted)
    {
        if (!deleted)
        {
            return Respond.ResourceNotFoundAsync(context);
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }
}
