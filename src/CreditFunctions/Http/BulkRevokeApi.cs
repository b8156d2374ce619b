using System.Globalization;
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
/// finished job's results file, and runs <see cref="BulkRevocation"/> over it within the request.
/// </summary>
/// <remarks>
/// It runs in the request, not through the bulk queue: a revocation reads each customer's ledger (about 3 Polar requests), so
/// a job of up to <see cref="MaxCustomers"/> customers ends in well under a minute at Polar's 500 requests a minute, inside
/// HTTP's 230 seconds; a larger one is refused with what to run instead (<c>credits bulk revoke &lt;jobId&gt; --storage</c>,
/// which has no time limit).
/// </remarks>
public sealed partial class BulkRevokeApi(BulkJobs jobs, BulkRevocation revocation, ILogger<BulkRevokeApi> logger)
{
    private static readonly string[] Fields = ["reason", "dryRun"];

    /// <summary>The most distinct customers (and meters) a job revoked over HTTP may have.</summary>
    public const int MaxCustomers = 100;

    /// <summary>The most bytes the body may have.</summary>
    public const int MaxBodyBytes = 16 * 1024;

    /// <summary>
    /// <c>{"reason", "dryRun"?}</c>: 200 with the revocation's counts and every row's outcome (<see cref="BulkRevocationJson"/>);
    /// 400 for a bad body, 404 for an unknown job, 409 while it runs, 422 <c>bulk-revocation-too-large</c> for a job of more
    /// than <see cref="MaxCustomers"/> customers, 503 when storage is unavailable.
    /// </summary>
    public async Task<ApiResponse> RevokeAsync(string jobId, Stream body, CancellationToken cancellationToken)
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
            var status = await jobs.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (status is null)
            {
                return Problems.BulkJobNotFound(jobId);
            }

            if (status.Results is null)
            {
                return Problems.BulkResultsNotReady(jobId, status.Status);
            }

            IReadOnlyList<BulkGrantedRow> rows;
            var results = await jobs.OpenResultsAsync(status.Results.Blob, cancellationToken).ConfigureAwait(false);
            await using (results.ConfigureAwait(false))
            {
                rows = await BulkRevocationFile.ReadAsync(results, hasHeader: true, cancellationToken).ConfigureAwait(false);
            }

            var customers = BulkRevocation.CustomersOf(rows);
            if (customers > MaxCustomers)
            {
                LogTooLarge(jobId, customers);
                return Problems.BulkRevocationTooLarge(jobId, customers, MaxCustomers);
            }

            var (outcomes, summary) = await revocation.RevokeAsync(rows, options, cancellationToken).ConfigureAwait(false);
            return ApiResponse.Ok(HttpStatusCode.OK, BulkRevocationJson.From(jobId, summary, null, outcomes),
                BulkRevocationJsonContext.Default.BulkRevocationJson);
        }
        catch (RequestFailedException ex)
        {
            LogStorage(ex.Status, ex.ErrorCode);
            return Problems.StorageUnavailable();
        }
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk revocation of job {JobId} refused: {Customers} customers, more than one request reads")]
    private partial void LogTooLarge(string jobId, int customers);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk revocation refused: Azure Storage answered {Status} {ErrorCode}")]
    private partial void LogStorage(int status, string? errorCode);
}
