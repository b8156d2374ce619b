using System.ComponentModel.DataAnnotations;

namespace CreditGrants.Polar;

/// <summary>Where Polar is and how the app may use it; bound from the <c>Polar</c> configuration section.</summary>
public sealed class PolarClientOptions : IValidatableObject
{
    public const string SectionName = "Polar";

    public static readonly Uri ProductionUrl = new("https://api.polar.sh/");
    public static readonly Uri SandboxUrl = new("https://sandbox-api.polar.sh/");

    /// <summary><c>production</c>, <c>sandbox</c> or an absolute URL (the emulator).</summary>
    public string Server { get; set; } = "sandbox";

    /// <summary>An organization access token (<c>polar_oat_…</c>). Never logged.</summary>
    public string AccessToken { get; set; } = "";

    /// <summary>The request budget; when unset, 500 for production, 100 for sandbox, 500 for any other server.</summary>
    [Range(1, 100_000)]
    public int? RequestsPerMinute { get; set; }

    /// <summary>
    /// The share of each minute's budget (in percent, 0–90) that background work (bulk jobs, campaigns) leaves to the HTTP
    /// grant API, when the budget is shared through storage (<c>PolarBudget:Enabled</c>).
    /// </summary>
    [Range(0, 90)]
    public int InteractiveSharePercent { get; set; } = 20;

    /// <summary>
    /// The most events one ingest request carries (the 10 MiB body limit applies as well). 2,500 is the largest bulk chunk
    /// (<c>Bulk:ChunkRows</c>), so any chunk goes in one request; see docs/benchmarks.md for the measurements behind it.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxEventsPerRequest { get; set; } = 2500;

    /// <summary>How long one attempt may take.</summary>
    [Range(1, 600)]
    public int AttemptTimeoutSeconds { get; set; } = 30;

    /// <summary>How many times a failed call is tried again (408, 429, 5xx, connection failures).</summary>
    [Range(0, 20)]
    public int MaxRetries { get; set; } = 4;

    /// <summary>The longest wait between retries, including a <c>Retry-After</c> that asks for more.</summary>
    [Range(1, 3600)]
    public int MaxRetryDelaySeconds { get; set; } = 60;

    /// <summary>How long a meter definition is trusted before it is read again.</summary>
    [Range(0, 86_400)]
    public int MeterCacheSeconds { get; set; } = 60;

    /// <summary>
    /// How long a read-back waits for events Polar said it holds (reported duplicates, events just ingested) to appear in
    /// <c>GET /v1/events/</c>, which Polar feeds asynchronously (seconds behind ingest); 0 reads once.
    /// </summary>
    [Range(0, 600)]
    public int ReadBackPatienceSeconds { get; set; } = 20;

    /// <summary>The API's base address for <see cref="Server"/> (a method, so option validation never calls it).</summary>
    public Uri GetBaseAddress() => ResolveServer(Server);

    /// <summary>
    /// 16 hex digits that name the organization this configuration reaches (SHA-256 of the server's address and the token),
    /// for state kept per organization, such as the customer directory. The token cannot be read back from it; a new token
    /// gives a new scope.
    /// </summary>
    public string OrganizationScope() => Scope(GetBaseAddress(), AccessToken);

    /// <summary>The <see cref="OrganizationScope"/> of a server address and token.</summary>
    public static string Scope(Uri server, string token)
    {
        ArgumentNullException.ThrowIfNull(server);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(server.AbsoluteUri + "\n" + token)))[..16];
    }

    /// <summary>The request budget in force: <see cref="RequestsPerMinute"/>, or Polar's limit for the server (sandbox by name or URL).</summary>
    public int EffectiveRequestsPerMinute => RequestsPerMinute ?? (IsSandbox ? 100 : 500);

    private bool IsSandbox =>
        string.Equals(Server, "sandbox", StringComparison.OrdinalIgnoreCase)
        || (Uri.TryCreate(Server, UriKind.Absolute, out var url) && string.Equals(url.Host, SandboxUrl.Host, StringComparison.OrdinalIgnoreCase));

    /// <summary>Turns <c>production</c>, <c>sandbox</c> or an absolute http(s) URL into the API's base address.</summary>
    public static Uri ResolveServer(string server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (string.Equals(server, "production", StringComparison.OrdinalIgnoreCase))
        {
            return ProductionUrl;
        }

        if (string.Equals(server, "sandbox", StringComparison.OrdinalIgnoreCase))
        {
            return SandboxUrl;
        }

        if (Uri.TryCreate(server, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp))
        {
            return url.AbsoluteUri.EndsWith('/') ? url : new Uri(url.AbsoluteUri + "/");
        }

        throw new ArgumentException(
            $"Polar server '{server}' is not valid: use 'production', 'sandbox' or an absolute http(s) URL.", nameof(server));
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.Equals(Server, "production", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(Server, "sandbox", StringComparison.OrdinalIgnoreCase)
            && !(Uri.TryCreate(Server, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"))
        {
            yield return new ValidationResult(
                $"Polar:Server is '{Server}'; use 'production', 'sandbox' or an absolute http(s) URL.", [nameof(Server)]);
        }

        if (string.IsNullOrWhiteSpace(AccessToken))
        {
            yield return new ValidationResult(
                "Polar:AccessToken is empty; set it to an organization access token (in Azure, a Key Vault reference).",
                [nameof(AccessToken)]);
        }
    }
}
