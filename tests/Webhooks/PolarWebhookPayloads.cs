using System.Globalization;
using System.Text.Json.Nodes;

namespace CreditGrants.Testing;

/// <summary>
/// Webhook bodies in Polar's payload schemas (docs/polar/openapi-2026-04.subset.json, <c>webhooks</c>), built by hand so that
/// a test sets exactly the times and ids it is about (out-of-order updates, deletions). Shared by the test projects.
/// </summary>
internal static class PolarWebhookPayloads
{
    public static readonly Guid OrganizationId = Guid.Parse("1dbfc517-0bbf-4301-9ba8-555ca42b9737");

    /// <summary>A <c>customer.created|updated|deleted</c> body: an individual customer, as Polar sends it.</summary>
    public static string Customer(string type, Guid id, string? externalId, string email, DateTimeOffset createdAt,
        DateTimeOffset? modifiedAt = null, DateTimeOffset? deletedAt = null, DateTimeOffset? timestamp = null, JsonObject? metadata = null) =>
        new JsonObject
        {
            ["type"] = type,
            ["timestamp"] = Time(timestamp ?? deletedAt ?? modifiedAt ?? createdAt),
            ["api_version"] = "2026-04",
            ["data"] = new JsonObject
            {
                ["id"] = id.ToString(),
                ["created_at"] = Time(createdAt),
                ["modified_at"] = modifiedAt is { } m ? Time(m) : null,
                ["metadata"] = metadata ?? new JsonObject(),
                ["external_id"] = externalId,
                ["email"] = email,
                ["email_verified"] = false,
                ["type"] = "individual",
                ["name"] = "Ada Lovelace",
                ["billing_name"] = "Ada Lovelace",
                ["billing_address"] = null,
                ["tax_id"] = null,
                ["locale"] = null,
                ["organization_id"] = OrganizationId.ToString(),
                ["deleted_at"] = deletedAt is { } d ? Time(d) : null,
                ["first_user_event_at"] = null,
                ["avatar_url"] = null,
            },
        }.ToJsonString();

    /// <summary>Polar's date-times: UTC, microseconds.</summary>
    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
