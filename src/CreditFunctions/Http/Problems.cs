using System.Globalization;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Meters;

namespace CreditFunctions.Http;

/// <summary>The problems the API answers with, one stable type each, and the mapping from domain failures.</summary>
public static class Problems
{
    public static ApiResponse InvalidRequest(string detail, IReadOnlyList<FieldError>? errors = null) =>
        Answer("invalid-request", "The request is not valid", 400, detail, errors);

    public static ApiResponse BodyTooLarge(int limit) =>
        Answer("body-too-large", "The request body is too large", 413, $"The body is over the limit of {limit.ToString("N0", CultureInfo.InvariantCulture)} bytes.");

    public static ApiResponse FileTooLarge(long limit) =>
        Answer("body-too-large", "The file is too large", 413,
            $"The file is over the limit of {limit.ToString("N0", CultureInfo.InvariantCulture)} bytes (Bulk:MaxFileBytes); split it into smaller files.");

    public static ApiResponse InvalidBulkFile(string detail) =>
        Answer("invalid-bulk-file", "The CSV file is not usable", 400, detail);

    public static ApiResponse BulkJobNotFound(string jobId) =>
        Answer("bulk-job-not-found", "Bulk job not found", 404, $"No bulk job has the id '{jobId}'.");

    public static ApiResponse BulkResultsNotReady(string jobId, string status) =>
        Answer("bulk-results-not-ready", "Bulk job not finished", 409,
            $"Bulk job '{jobId}' is {status}: its results file is written when every chunk has ended. Follow GET /api/bulk-grants/{jobId}.");

    public static ApiResponse CampaignNotFound(string campaignId) =>
        Answer("campaign-not-found", "Campaign not found", 404,
            $"No campaign '{campaignId}' has run in this app (its state table has no row for it): upload its document to the campaigns container, or check the id.");

    public static ApiResponse CampaignOccurrenceNotFound(string campaignId, string occurrence, IReadOnlyList<string> known) =>
        Answer("campaign-occurrence-not-found", "Campaign occurrence not found", 404,
            $"Campaign '{campaignId}' has no occurrence {occurrence} in its state; " + (known.Count == 0
                ? "it has run no occurrence yet."
                : $"its most recent occurrences are {string.Join(", ", known)} (the state keeps the last {CreditGrants.Campaigns.CampaignState.MaxOccurrencesKept})."));

    public static ApiResponse GrantCapReached(string detail, int retryAfterSeconds) =>
        ApiResponse.Problem(new Problem(Problem.TypePrefix + "grant-cap-reached", "Daily grant cap reached", 429, detail),
            new Dictionary<string, string> { ["Retry-After"] = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    public static ApiResponse StorageUnavailable() =>
        ApiResponse.Problem(new Problem(Problem.TypePrefix + "storage-unavailable", "Storage is unavailable", 503,
                "Azure Storage did not answer as expected; nothing was lost. Try again later."),
            new Dictionary<string, string> { ["Retry-After"] = "30" });

    /// <summary>Maps a domain or gateway failure to its problem; null for anything unexpected (let it surface as 500).</summary>
    public static ApiResponse? From(Exception exception) => exception switch
    {
        GrantException { Kind: GrantErrorKind.CustomerNotFound } e => Answer("customer-not-found", "Customer not found", 404, e.Message),
        GrantException { Kind: GrantErrorKind.CustomerConflict } e => Answer("customer-conflict", "The email belongs to another customer", 409, e.Message),
        GrantException { Kind: GrantErrorKind.GrantIdConflict } e => Answer("grant-id-conflict", "The grant id was used for another grant", 409, e.Message),
        GrantException { Kind: GrantErrorKind.EventRejected } e => Answer("grant-rejected", "Polar refused the grant", 422, e.Message),
        CreditGrants.Lifecycle.RevokeException { Kind: CreditGrants.Lifecycle.RevokeErrorKind.GrantNotFound } e => Answer("grant-not-found", "Grant not found", 404, e.Message),
        CreditGrants.Lifecycle.RevokeException { Kind: CreditGrants.Lifecycle.RevokeErrorKind.ExceedsUnspent } e =>
            Answer("revoke-exceeds-unspent", "More than the grant has unspent", 409, e.Message),
        CreditGrants.Lifecycle.RevokeException e => Answer("revocation-conflict", "The grant cannot be revoked as asked", 409, e.Message),
        MeterNotGrantableException { Problem: MeterProblem.NotFound } e => Answer("meter-not-found", "Meter not found", 404, e.Message),
        MeterNotGrantableException e => Answer("meter-not-grantable", "The meter cannot take grants", 422, e.Message),
        PolarException { Kind: PolarErrorKind.RateLimited or PolarErrorKind.Unavailable } e => Unavailable(e),
        PolarException e => Answer("polar-refused", "Polar refused the request", 502, PolarRefusal(e)),
        // The grant caps live in storage: a grant is not sent when they cannot be counted.
        Azure.RequestFailedException => StorageUnavailable(),
        _ => null,
    };

    private static ApiResponse Unavailable(PolarException exception)
    {
        var seconds = (int)Math.Ceiling((exception.RetryAfter ?? TimeSpan.FromSeconds(30)).TotalSeconds);
        var detail = exception.Kind == PolarErrorKind.RateLimited
            ? "Polar's request limit is reached; try again later."
            : "Polar is unavailable right now; the grant was not made. Try again later with the same grant id.";
        return ApiResponse.Problem(new Problem(Problem.TypePrefix + "polar-unavailable", "Polar is unavailable", 503, detail),
            new Dictionary<string, string> { ["Retry-After"] = Math.Max(seconds, 1).ToString(CultureInfo.InvariantCulture) });
    }

    // Says what kind of refusal it was without echoing Polar's body, which may hold internals.
    private static string PolarRefusal(PolarException exception) => exception.Kind switch
    {
        PolarErrorKind.Unauthorized => "Polar refused this app's access token; the operator must check the configured token.",
        PolarErrorKind.MissingScope => "This app's Polar access token lacks a scope it needs; the operator must check the token's scopes.",
        _ => $"Polar answered unexpectedly (HTTP {(exception.Status is { } s ? (int)s : 0)}); the grant was not made.",
    };

    private static ApiResponse Answer(string type, string title, int status, string detail, IReadOnlyList<FieldError>? errors = null) =>
        ApiResponse.Problem(new Problem(Problem.TypePrefix + type, title, status, detail, errors));
}
