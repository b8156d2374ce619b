using System.Net;
using Azure;
using CreditGrants.Bulk;
using CreditGrants.Grants;
using CreditGrants.Storage.Bulk;
using Microsoft.Extensions.Logging;

namespace CreditFunctions.Http;

/// <summary>
/// The bulk grant API's HTTP semantics, apart from the Functions host: <c>POST /api/bulk-grants</c> submits a CSV file as
/// a job, <c>GET /api/bulk-grants/{jobId}</c> reports where it stands.
/// </summary>
public sealed partial class BulkGrantApi(BulkJobs jobs, ILogger<BulkGrantApi> logger)
{
    /// <summary>A true/false query flag (absent is false); anything else is recorded as an error naming the parameter.</summary>
    private static bool QueryFlag(string name, string? value, List<FieldError> errors)
    {
        switch (value)
        {
            case null or "false":
                return false;
            case "true":
                return true;
            default:
                errors.Add(new FieldError(name, value, "must be true or false"));
                return false;
        }
    }

    /// <summary>202 with the new job (200 when the same file with the same defaults was submitted before), or a problem.</summary>
    /// <param name="body">The CSV file, streamed.</param>
    /// <param name="contentLength">The declared length, when the client sent one: a file over the limit is refused unread.</param>
    /// <param name="meter">The meter of rows that name none.</param>
    /// <param name="reason">The reason of rows that give none.</param>
    /// <param name="batch">The batch the rows' derived grant ids belong to (required: the same rows in another batch grant again).</param>
    /// <param name="dryRun"><c>true</c> to check every row and grant nothing; <c>false</c> or absent to grant.</param>
    /// <param name="requireExistingCustomers"><c>true</c> to reject rows to external ids that no Polar customer holds (and that bring no
    /// email); <c>false</c> or absent to grant them with a note (Polar's 180-minute rule).</param>
    /// <param name="requestUrl">The request's URL, from which the status URL is made.</param>
    /// <param name="cancellationToken">Cancels the upload.</param>
    public async Task<ApiResponse> SubmitAsync(Stream body, long? contentLength, string? meter, string? reason, string? batch, string? dryRun,
        string? requireExistingCustomers, Uri requestUrl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(requestUrl);
        if (contentLength > jobs.MaxFileBytes)
        {
            return Problems.FileTooLarge(jobs.MaxFileBytes);
        }

        var queryErrors = new List<FieldError>();
        if (BulkGrantIds.CheckBatch(batch) is { } batchProblem)
        {
            queryErrors.Add(new FieldError("batch", batch, batchProblem + " (?batch=…; credits bulk submit uses the file's name)"));
        }

        var isDryRun = QueryFlag("dryRun", dryRun, queryErrors);
        var requireExisting = QueryFlag("requireExistingCustomers", requireExistingCustomers, queryErrors);

        if (queryErrors.Count > 0)
        {
            return Problems.InvalidRequest($"The query is not valid: {string.Join("; ", queryErrors)}.", queryErrors);
        }

        try
        {
            var submission = await jobs.SubmitAsync(body, new BulkDefaults(meter, reason), new BulkSubmitOptions(batch!, isDryRun, requireExisting), cancellationToken)
                .ConfigureAwait(false);
            var statusUrl = StatusUrl(requestUrl, submission.JobId);
            var answer = ApiResponse.Ok(submission.Created ? HttpStatusCode.Accepted : HttpStatusCode.OK, submission with { StatusUrl = statusUrl },
                BulkJsonContext.Default.BulkSubmission);
            return answer with { Headers = new Dictionary<string, string> { ["Location"] = statusUrl.AbsoluteUri } };
        }
        catch (BulkFileTooLargeException ex)
        {
            return Problems.FileTooLarge(ex.Limit);
        }
        catch (BulkFileException ex)
        {
            LogRefused("invalid-bulk-file", ex.Message);
            return Problems.InvalidBulkFile(ex.Message);
        }
        catch (BulkDefaultsException ex)
        {
            return Problems.InvalidRequest($"The query's defaults are not valid: {ex.Message}", ex.Errors);
        }
        catch (RequestFailedException ex)
        {
            return StorageUnavailable(ex);
        }
    }

    /// <summary>200 with the job's status, 404 when no job has this id.</summary>
    public async Task<ApiResponse> GetStatusAsync(string jobId, CancellationToken cancellationToken)
    {
        try
        {
            var status = await jobs.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false);
            return status is null
                ? Problems.BulkJobNotFound(jobId)
                : ApiResponse.Ok(HttpStatusCode.OK, status, BulkJsonContext.Default.BulkJobStatus);
        }
        catch (RequestFailedException ex)
        {
            return StorageUnavailable(ex);
        }
    }

    /// <summary>
    /// The results CSV of a finished job, to stream to the caller (the blob itself stays private): the stream, or a problem
    /// when no job has this id (404) or it has not finished (409 <c>bulk-results-not-ready</c>, with the status to follow).
    /// </summary>
    public async Task<(ApiResponse? Problem, Stream? Results)> OpenResultsAsync(string jobId, CancellationToken cancellationToken)
    {
        try
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

            return (null, await jobs.OpenResultsAsync(status.Results.Blob, cancellationToken).ConfigureAwait(false));
        }
        catch (RequestFailedException ex)
        {
            return (StorageUnavailable(ex), null);
        }
    }

    /// <summary>The job's URL beside the collection's: <c>…/api/bulk-grants/{jobId}</c>, without the query (it may hold a function key).</summary>
    private static Uri StatusUrl(Uri requestUrl, string jobId) =>
        new(requestUrl.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/" + jobId);

    private ApiResponse StorageUnavailable(RequestFailedException exception)
    {
        LogRefused("storage-unavailable", $"Azure Storage answered {exception.Status} {exception.ErrorCode}");
        return Problems.StorageUnavailable();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bulk request refused ({Failure}): {Reason}")]
    private partial void LogRefused(string failure, string reason);
}
