using System.Net;
using Azure;
using CreditGrants.Bulk;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Storage.Bulk;
using Microsoft.Extensions.Logging;

namespace CreditFunctions.Http;

/// <summary>
/// <c>POST /api/bulk-grants/{jobId}/revoke</c>'s HTTP semantics, apart from the Functions host: reads the body, reads the
/// finished job's results file, and runs <see cref="BulkRevocation"/> over it within the request, or, for a job of more than
/// <see cref="MaxCustomers"/> customers, on the bulk queue (<see cref="BulkRevocationRuns"/>).
/// </summary>
/// <remarks>
/// A revocation reads each customer's ledger (about 3 Polar requests), so a job of up to <see cref="MaxCustomers"/> customers
/// ends in well under a minute at Polar's 500 requests a minute, inside HTTP's 230 seconds: it answers 200 with every row. A
/// larger one answers 202 and runs on the queue in slices of <see cref="BulkRevocationRuns.SliceCustomers"/> customers; the
/// job's status (<c>GET /api/bulk-grants/{jobId}</c>) shows it under <c>revocation</c>, with its results file once it ends.
/// </remarks>
public sealed partial class BulkRevokeApi(BulkJobs jobs, BulkRevocation revocation, BulkRevocationRuns runs, ILogger<BulkRevokeApi> logger)
{
    private static readonly string[] Fields = ["reason", "dryRun"];

    /// <summary>The most distinct customers (and meters) a job revoked within the request may have; more go through the queue.</summary>
    public const int MaxCustomers = 100;

    /// <summary>The most bytes the body may have.</summary>
    public const int MaxBodyBytes = 16 * 1024;

    /// <summary>
    /// <c>{"reason", "dryRun"?}</c>: 200 with the revocation's counts and every row's outcome (<see cref="BulkRevocationJson"/>);
    /// 202 with the queued run (<see cref="BulkRevocationAccepted"/>, a <c>Location</c> to the job's status) for a job of more
    /// than <see cref="MaxCustomers"/> customers; 400 for a bad body, 404 for an unknown job, 409 while it runs, 503 when
    /// storage is unavailable.
    /// </summary>
    /// <param name="jobId">The job, from the path.</param>
    /// <param name="body">The request body.</param>
    /// <param name="requestUrl">The request's URL, from which the job's status URL is made.</param>
    /// <param name="cancellationToken">The request's.</param>
    public async Task<ApiResponse> RevokeAsync(string jobId, Stream body, Uri requestUrl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (buffer.Length > MaxBodyBytes)
        {
            return Problems.BodyTooLarge(MaxBodyBytes);
        }

        var (options, errors) = Read(jobId, buffer.ToArray());
        if (options is null)
        {
            return Problems.InvalidRequest(string.Join("; ", errors), errors);
        }

        try
        {
            var (problem, rows) = await ReadRowsAsync(jobId, cancellationToken).ConfigureAwait(false);
            return problem ?? await RevokeRowsAsync(jobId, rows!, options, jobId, requestUrl, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            LogStorage(ex.Status, ex.ErrorCode);
            return Problems.StorageUnavailable();
        }
    }

    /// <summary>The granted rows of a finished job's results file, or the problem: 404 for an unknown job, 409 while it runs.</summary>
    internal async Task<(ApiResponse? Problem, IReadOnlyList<BulkGrantedRow>? Rows)> ReadRowsAsync(string jobId, CancellationToken cancellationToken)
    {
        var status = await jobs.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (status is null)
        {
            return (Problems.BulkJobNotFound(jobId), null);
        }

        if (status.Results is null)
        {
            return (Problems.BulkResultsNotReady(jobId, status.Status), null);
        }

        var results = await jobs.OpenResultsAsync(status.Results.Blob, cancellationToken).ConfigureAwait(false);
        await using (results.ConfigureAwait(false))
        {
            return (null, await BulkRevocationFile.ReadAsync(results, hasHeader: true, cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>
    /// Revokes <paramref name="rows"/> (the rows of job <paramref name="jobId"/>'s results file) within the request when they
    /// have at most <see cref="MaxCustomers"/> customers (200, every row), else as a queued run of the job (202).
    /// </summary>
    internal async Task<ApiResponse> RevokeRowsAsync(string jobId, IReadOnlyList<BulkGrantedRow> rows, BulkRevokeOptions options, string revoking, Uri requestUrl,
        CancellationToken cancellationToken)
    {
        var customers = BulkRevocation.CustomersOf(rows);
        if (customers <= MaxCustomers)
        {
            var (outcomes, summary) = await revocation.RevokeAsync(rows, options, cancellationToken).ConfigureAwait(false);
            return ApiResponse.Ok(HttpStatusCode.OK, BulkRevocationJson.From(revoking, summary, null, outcomes),
                BulkRevocationJsonContext.Default.BulkRevocationJson);
        }

        var start = await runs.StartAsync(jobId, options with { Source = "bulk-revoke:" + jobId }, cancellationToken).ConfigureAwait(false);
        LogQueued(jobId, customers, start.Progress.Run, start.Started);
        var statusUrl = JobStatusUrl(requestUrl, jobId);
        var answer = ApiResponse.Ok(HttpStatusCode.Accepted, new BulkRevocationAccepted(jobId, start.Started, start.Progress, statusUrl),
            BulkJsonContext.Default.BulkRevocationAccepted);
        return answer with { Headers = new Dictionary<string, string> { ["Location"] = statusUrl.AbsoluteUri } };
    }

    /// <summary><c>…/api/bulk-grants/{jobId}</c> on the host and base path of <paramref name="requestUrl"/> (a route under <c>/api/</c>).</summary>
    internal static Uri JobStatusUrl(Uri requestUrl, string jobId)
    {
        ArgumentNullException.ThrowIfNull(requestUrl);
        var path = requestUrl.GetLeftPart(UriPartial.Path);
        var api = path.IndexOf("/api/", StringComparison.Ordinal);
        var root = api >= 0 ? path[..(api + "/api".Length)] : requestUrl.GetLeftPart(UriPartial.Authority) + "/api";
        return new Uri(root + "/bulk-grants/" + Uri.EscapeDataString(jobId));
    }

    /// <summary>The options asked for, or the errors naming each field: unknown fields, a reason that is not 1 to 500 characters, dryRun not true or false.</summary>
    internal static (BulkRevokeOptions? Options, List<FieldError> Errors) Read(string jobId, byte[] body)
    {
        var errors = new List<FieldError>();
        string? reason = null;
        var dryRun = false;
        JsonObjectBody.Read(body, "{\"reason\": \"wrong file\", \"dryRun\": true}", errors, property =>
        {
            switch (property.Name)
            {
                case "reason":
                    reason = JsonObjectBody.Reason(property, errors);
                    break;
                case "dryRun":
                    dryRun = JsonObjectBody.Flag(property, errors);
                    break;
                default:
                    errors.Add(FieldError.Of(property.Name, null, $"is not a field of a bulk revocation; the fields are {string.Join(", ", Fields)}"));
                    break;
            }
        });

        if (reason is null && errors.Count == 0)
        {
            errors.Add(FieldError.Of("reason", null, "is required: why the job's grants are taken back, 1 to 500 characters (kept on every revocation)"));
        }

        return errors.Count > 0 ? (null, errors) : (new BulkRevokeOptions(reason, dryRun, "bulk-revoke:" + jobId), errors);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bulk revocation of job {JobId}: {Customers} customers, more than one request reads: queued as run {Run} (started now: {Started})")]
    private partial void LogQueued(string jobId, int customers, int run, bool started);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk revocation refused: Azure Storage answered {Status} {ErrorCode}")]
    private partial void LogStorage(int status, string? errorCode);
}
