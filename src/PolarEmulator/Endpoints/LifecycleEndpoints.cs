using System.Text.Json;
using System.Text.Json.Nodes;
using PolarEmulator.Http;
using PolarEmulator.Store;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Endpoints;

/// <summary>
/// The emulator's stand-in for checkout and billing (not Polar's API): subscriptions and one-time orders of a product with
/// a Meter Credit benefit, cycled, canceled, revoked and refunded on demand, writing Polar's system events and webhooks.
/// </summary>
internal sealed class LifecycleEndpoints(EmulatorStore store)
{
    /// <summary><c>POST /__emulator/subscriptions</c>: 201 and the <c>Subscription</c>.</summary>
    public Task SubscribeAsync(HttpContext context, IReadOnlyDictionary<string, string> values) =>
        CreateAsync(context, recurring: true, store.Subscribe);

    /// <summary><c>POST /__emulator/orders</c>: a one-time purchase; 201 and the <c>Order</c>.</summary>
    public Task PurchaseAsync(HttpContext context, IReadOnlyDictionary<string, string> values) =>
        CreateAsync(context, recurring: false, store.Purchase);

    /// <summary><c>POST /__emulator/subscriptions/{id}/cycle</c>: renews now; 200 and the <c>Subscription</c>.</summary>
    public async Task CycleAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is { } id)
        {
            await AnswerAsync(context, store.Cycle(id)).ConfigureAwait(false);
        }
    }

    /// <summary><c>POST /__emulator/subscriptions/{id}/cancel</c>: cancels at the end of the period.</summary>
    public async Task CancelAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is { } id)
        {
            await AnswerAsync(context, store.Cancel(id, immediately: false)).ConfigureAwait(false);
        }
    }

    /// <summary><c>POST /__emulator/subscriptions/{id}/revoke</c>: cancels now and revokes the benefit.</summary>
    public async Task RevokeAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is { } id)
        {
            await AnswerAsync(context, store.Cancel(id, immediately: true)).ConfigureAwait(false);
        }
    }

    /// <summary><c>POST /__emulator/orders/{id}/refund[?revoke_benefits=true]</c>: refunds in full; 200 and the <c>Order</c>.</summary>
    public async Task RefundAsync(HttpContext context, IReadOnlyDictionary<string, string> values)
    {
        var query = new QueryReader(context.Request);
        var revoke = query.Bool("revoke_benefits") ?? false;
        if (query.Issues.Count > 0)
        {
            await Requests.InvalidAsync(context, query.Issues).ConfigureAwait(false);
            return;
        }

        if (await Requests.PathIdAsync(context, values).ConfigureAwait(false) is { } id)
        {
            await AnswerAsync(context, store.Refund(id, revoke)).ConfigureAwait(false);
        }
    }

    private static async Task CreateAsync(HttpContext context, bool recurring, Func<LifecycleDraft, (JsonObject?, Refusal?)> create)
    {
        using var body = await Requests.BodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var issues = new List<ValidationIssue>();
        var draft = Parse(new FieldReader(body.RootElement, Issues.Loc("body"), issues), recurring);
        if (draft is null)
        {
            await Requests.InvalidAsync(context, issues).ConfigureAwait(false);
            return;
        }

        var (created, refusal) = create(draft);
        await (refusal is not null
            ? Requests.RefuseAsync(context, refusal)
            : Respond.JsonAsync(context, StatusCodes.Status201Created, created!, EmulatorJsonContext.Default.JsonObject)).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>customer_id</c> or <c>external_customer_id</c>, <c>meter_id</c> and <c>units</c> (required), <c>rollover</c>,
    /// <c>product_name</c>, <c>amount</c> (cents) and, for subscriptions, <c>metered_price</c>.
    /// </summary>
    private static LifecycleDraft? Parse(FieldReader body, bool recurring)
    {
        var customerId = body.OptionalUuid4("customer_id");
        var externalCustomerId = body.OptionalString("external_customer_id", minLength: 1);
        if (!body.Has("customer_id") && !body.Has("external_customer_id"))
        {
            body.Issues.Add(Issues.Missing(body.At("customer_id"), body.Target));
        }

        var meterId = body.RequiredUuid4("meter_id");
        var units = body.OptionalPositiveInteger("units");
        if (!body.IsPresent("units"))
        {
            body.Issues.Add(Issues.Missing(body.At("units"), body.Target));
        }

        var rollover = body.OptionalBool("rollover") ?? false;
        var name = body.OptionalString("product_name", minLength: 1, maxLength: 256) ?? (recurring ? "Monthly credits" : "Credit pack");
        var amount = body.OptionalPositiveInteger("amount") ?? 1000;
        var meteredPrice = recurring && (body.OptionalBool("metered_price") ?? false);
        if (body.Issues.Count > 0 || meterId is null || units is null || amount > int.MaxValue)
        {
            return null;
        }

        return new LifecycleDraft(customerId, customerId is null ? externalCustomerId : null, meterId.Value, units.Value, rollover, name,
            (int)amount, recurring, meteredPrice);
    }

    private static Task AnswerAsync(HttpContext context, JsonObject? body) =>
        body is null ? Respond.ResourceNotFoundAsync(context) : Respond.OkAsync(context, body, EmulatorJsonContext.Default.JsonObject);
}
