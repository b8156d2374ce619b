using System.ComponentModel.DataAnnotations;

namespace CreditGrants.Webhooks;

/// <summary>
/// The secrets Polar signs webhook deliveries with; bound from <c>Polar:WebhookSecrets</c> (a list: <c>Polar:WebhookSecrets:0</c>,
/// <c>Polar:WebhookSecrets:1</c>, …, app settings <c>Polar__WebhookSecrets__0</c>, …). Several at once while a secret is rotated.
/// </summary>
public sealed class PolarWebhookSecretOptions
{
    public const string SectionName = "Polar";

    /// <summary>
    /// The endpoint secrets (<c>whsec_…</c>) a delivery may be signed with. Empty values, and Key Vault references the platform
    /// could not resolve (<c>@Microsoft.KeyVault(…)</c> left as text), are not secrets and are skipped (see
    /// <see cref="WebhookSecrets.Usable"/>). With none, every delivery is refused (401). Never logged.
    /// </summary>
    public IList<string> WebhookSecrets { get; } = [];
}

/// <summary>Where webhook deliveries are recorded and queued; bound from the <c>Webhooks</c> configuration section.</summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>
    /// The queue of verified deliveries to process (its poison queue is <c>&lt;name&gt;-poison</c>). Its own queue, not the
    /// bulk queue: a signup's webhook never waits behind a million-row bulk job.
    /// </summary>
    [Required]
    public string QueueName { get; set; } = "webhook-work";

    /// <summary>The table of deliveries (one row per <c>webhook-id</c>) and of the last version applied of each Polar object.</summary>
    [Required]
    public string Table { get; set; } = "webhooks";

    /// <summary>The blob container that keeps each delivery's body exactly as received (<c>&lt;key&gt;.json</c>).</summary>
    [Required]
    public string Container { get; set; } = "webhook-deliveries";

    /// <summary>The largest body the endpoint reads (Polar's payloads are a few KiB); a larger one is answered 413 unread.</summary>
    [Range(1024, 10 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 1024 * 1024;
}

/// <summary>What makes a configured webhook secret usable.</summary>
public static class WebhookSecrets
{
    /// <summary>What the Functions platform leaves in an app setting whose Key Vault reference it could not resolve.</summary>
    public const string UnresolvedKeyVaultReference = "@Microsoft.KeyVault(";

    /// <summary>
    /// The configured secrets that can be secrets: trimmed, not empty, and not an unresolved Key Vault reference (whose text
    /// anyone can read in the template, so it must never be accepted as a key). <paramref name="unresolved"/> counts those.
    /// </summary>
    public static IReadOnlyList<string> Usable(IEnumerable<string?> configured, out int unresolved)
    {
        ArgumentNullException.ThrowIfNull(configured);
        var usable = new List<string>();
        unresolved = 0;
        foreach (var secret in configured.Select(s => s?.Trim()).Where(s => !string.IsNullOrEmpty(s)))
        {
            if (secret!.StartsWith(UnresolvedKeyVaultReference, StringComparison.OrdinalIgnoreCase))
            {
                unresolved++;
                continue;
            }

            usable.Add(secret);
        }

        return usable;
    }
}
