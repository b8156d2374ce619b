using System.Text.Json;
using PolarEmulator.Http;
using PolarEmulator.Store;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Endpoints;

/// <summary>What every handler does first: read a path id, a body or a page of a list.</summary>
internal static class Requests
{
    /// <summary>A path id must be a UUID version 4; otherwise the answer is a 422 on <c>["path", name]</c>.</summary>
    public static async Task<Guid?> PathIdAsync(HttpContext context, IReadOnlyDictionary<string, string> values, string name = "id")
    {
        var text = values[name];
        if (Guid.TryParse(text, out var id) && id.Version == 4)
        {
            return id;
        }

        await Respond.ValidationAsync(context, Respond.RequestValidationError, [Issues.Uuid(Issues.Loc("path", name), Issues.Text(text))]).ConfigureAwait(false);
        return null;
    }

    /// <summary>Reads the JSON object body, or answers the 422 and returns null.</summary>
    public static async Task<JsonDocument?> BodyAsync(HttpContext context)
    {
        var (document, issues) = await RequestBody.ReadObjectAsync(context).ConfigureAwait(false);
        if (issues is not null)
        {
            await Respond.ValidationAsync(context, Respond.RequestValidationError, issues).ConfigureAwait(false);
        }

        return document;
    }

    /// <summary>With an organization token, a body must not name an organization (Polar's <c>organization_token</c> refusal).</summary>
    public static Refusal? OrganizationRefusal(Guid? organizationId) =>
        organizationId is { } id
            ? new Refusal([Issues.Polar("organization_token", Issues.Loc("body", "organization_id"), Issues.Text(id.ToString()),
                "Setting organization_id is disallowed when using an organization token.")])
            : null;

    public static Task RefuseAsync(HttpContext context, Refusal refusal) =>
        Respond.ValidationAsync(context, Respond.PolarRequestValidationError, refusal.Issues);

    public static Task InvalidAsync(HttpContext context, IReadOnlyList<ValidationIssue> issues) =>
        Respond.ValidationAsync(context, Respond.RequestValidationError, issues);

    public static ListResource<T> Page<T>(IReadOnlyList<T> items, int totalCount, PageRequest page) =>
        new(items, new PaginationResource(totalCount, (int)Math.Ceiling(totalCount / (double)page.Limit)));
}
