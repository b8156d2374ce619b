using System.Net;
using CreditGrants.Grants;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CreditFunctions.Http;

/// <summary>
/// The grant API's HTTP semantics, apart from the Functions host: reads and checks the request, calls the domain,
/// and turns the outcome or the failure into a response.
/// </summary>
public sealed partial class GrantApi(
    GrantValidator validator,
    GrantService grants,
    BalanceService balances,
    IGrantCaps caps,
    TimeProvider time,
    IOptions<GrantOptions> options,
    ILogger<GrantApi> logger)
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>
    /// <c>POST /api/grants</c>: 201 for a new grant, 200 for a duplicate, a problem otherwise. The body is read strictly
    /// (see <see cref="GrantBodyReader"/>): repeated or unknown fields, numbers as strings, numbers beyond decimal, NaN,
    /// nesting where a value belongs and invalid UTF-8 are each a 400 <c>invalid-request</c> naming field, value and what is accepted.
    /// </summary>
    public async Task<ApiResponse> GrantAsync(Stream body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var limit = options.Value.MaxRequestBodyBytes;
        var bytes = await ReadLimitedAsync(body, limit, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return Problems.BodyTooLarge(limit);
        }

        var (request, errors) = GrantBodyReader.Read(bytes, idempotencyKey, IdempotencyKeyHeader, options.Value.MaxUnitsPerGrant);
        if (request is null)
        {
            return Problems.InvalidRequest(errors.Count == 1 ? errors[0].ToString() : "The request has invalid fields.", errors);
        }

        var validation = validator.Validate(request);
        if (!validation.IsValid)
        {
            return Problems.InvalidRequest($"{validation.Errors.Count} field(s) are not valid: {string.Join("; ", validation.Errors)}", validation.Errors);
        }

        var grant = validation.Grant!;
        var now = time.GetUtcNow();
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        var customer = grant.Customer.ExternalId is { } externalId ? "x:" + externalId : "c:" + grant.Customer.CustomerId;
        return await AnswerAsync(async () =>
        {
            var reserved = true;
            if (await caps.ReserveAsync(day, customer, grant.Units, cancellationToken).ConfigureAwait(false) is { } refusal)
            {
                // A retry of a grant made before is answered as the repeat it is: it grants nothing, so no cap applies.
                if (await grants.IsUsedAsync(grant.GrantId, cancellationToken).ConfigureAwait(false))
                {
                    reserved = false;
                }
                else
                {
                    LogCapReached(refusal.Cap, refusal.Limit);
                    var midnight = new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                    return Problems.GrantCapReached(refusal.Describe(day), (int)Math.Ceiling((midnight - now).TotalSeconds));
                }
            }

            GrantOutcome outcome;
            try
            {
                outcome = await grants.GrantAsync(grant, cancellationToken).ConfigureAwait(false);
            }
            catch when (reserved)
            {
                await caps.ReleaseAsync(day, customer, grant.Units, CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            if (reserved && outcome.Status != GrantStatus.Granted)
            {
                // A repeat grants nothing, so it uses no cap.
                await caps.ReleaseAsync(day, customer, grant.Units, CancellationToken.None).ConfigureAwait(false);
            }

            var status = outcome.Status == GrantStatus.Granted ? HttpStatusCode.Created : HttpStatusCode.OK;
            return ApiResponse.Ok(status, GrantOutcomeJson.From(outcome), GrantsJsonContext.Default.GrantOutcomeJson);
        }).ConfigureAwait(false);
    }

    /// <summary><c>GET /api/customers/{externalId}/balance?meter=</c>.</summary>
    public Task<ApiResponse> GetBalanceAsync(string externalId, string? meter, CancellationToken cancellationToken) =>
        AnswerAsync(async () =>
        {
            var balance = await balances.GetBalanceAsync(externalId, string.IsNullOrWhiteSpace(meter) ? options.Value.DefaultMeter : meter,
                cancellationToken).ConfigureAwait(false);
            return ApiResponse.Ok(HttpStatusCode.OK, CreditBalanceJson.From(balance), GrantsJsonContext.Default.CreditBalanceJson);
        });

    private async Task<ApiResponse> AnswerAsync(Func<Task<ApiResponse>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception ex) when (Problems.From(ex) is { } problem)
        {
            LogRefused(ex.GetType().Name, (int)problem.Status, ex.Message);
            return problem;
        }
    }

    /// <summary>The body, or null when it is over <paramref name="limit"/> bytes (read no further than that).</summary>
    private static async Task<byte[]?> ReadLimitedAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request refused ({Failure}, HTTP {Status}): {Reason}")]
    private partial void LogRefused(string failure, int status, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A grant was refused: it would pass the {Cap} cap of {Limit} units")]
    private partial void LogCapReached(string cap, decimal limit);
}
