using System.Globalization;
using System.Net;
using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Identity;
using CreditGrants.Lifecycle;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CreditFunctions.Http;

/// <summary>
/// The ledger and revocation routes' HTTP semantics, apart from the Functions host: reads and checks the request, calls
/// <see cref="LedgerReader"/> or <see cref="GrantRevocation"/>, and turns the outcome or the failure into a response.
/// </summary>
public sealed partial class LedgerApi(LedgerReader ledgers, GrantRevocation revocation, IOptions<GrantOptions> options, ILogger<LedgerApi> logger)
{
    private static readonly string[] RevokeFields = ["reason", "units", "allowNegativeBalance"];

    /// <summary>The most bytes a revocation body may have.</summary>
    public const int MaxRevokeBodyBytes = 16 * 1024;

    /// <summary>
    /// <c>GET /api/customers/{externalId}/grants?meter=&amp;status=&amp;cursor=&amp;limit=</c>: one page of the customer's ledger on the
    /// meter (default <c>Grants:DefaultMeter</c>). <c>status</c> is a comma-separated list of status names; <c>limit</c> 1 to 100
    /// (default 100). 400 for a bad status, cursor or limit.
    /// </summary>
    public async Task<ApiResponse> ListAsync(string externalId, string? meter, string? status, string? cursor, string? limit,
        CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        var statuses = new List<LedgerStatus>();
        foreach (var name in (status ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var index = LedgerJson.StatusNames.ToList().IndexOf(name);
            if (index < 0)
            {
                errors.Add(FieldError.Of("status", name, $"is not a status; use {string.Join(", ", LedgerJson.StatusNames)}"));
            }
            else
            {
                statuses.Add((LedgerStatus)index);
            }
        }

        var size = LedgerJson.MaxLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > LedgerJson.MaxLimit))
        {
            errors.Add(FieldError.Of("limit", limit, $"must be a whole number from 1 to {LedgerJson.MaxLimit}"));
        }

        if (errors.Count > 0)
        {
            return Problems.InvalidRequest(string.Join("; ", errors), errors);
        }

        return await AnswerAsync(async () =>
        {
            var ledger = await ledgers.ReadAsync(externalId, string.IsNullOrWhiteSpace(meter) ? options.Value.DefaultMeter : meter, cancellationToken)
                .ConfigureAwait(false);
            CustomerLedgerJson page;
            try
            {
                page = LedgerJson.Page(ledger, statuses, string.IsNullOrEmpty(cursor) ? null : cursor, size);
            }
            catch (FormatException)
            {
                return Problems.InvalidRequest("cursor: is not a cursor of this ledger; use the nextCursor of the previous page.",
                    [FieldError.Of("cursor", cursor, "is not a cursor of this ledger; use the nextCursor of the previous page")]);
            }

            return ApiResponse.Ok(HttpStatusCode.OK, page, LedgerJsonContext.Default.CustomerLedgerJson);
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>POST /api/grants/{grantId}/revoke</c> <c>{"reason", "units"?, "allowNegativeBalance"?}</c>: 201 for a revocation made
    /// now, 200 for one made before as asked, 404 for an unknown grant, 409 for a different revocation made before, an expired
    /// or wiped grant, or units above what is unspent without <c>allowNegativeBalance</c>.
    /// </summary>
    public async Task<ApiResponse> RevokeAsync(string grantId, Stream body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (buffer.Length > MaxRevokeBodyBytes)
        {
            return Problems.BodyTooLarge(MaxRevokeBodyBytes);
        }

        var (request, errors) = ReadRevoke(grantId, buffer.ToArray());
        if (request is null)
        {
            return Problems.InvalidRequest(string.Join("; ", errors), errors);
        }

        return await AnswerAsync(async () =>
        {
            var outcome = await revocation.RevokeAsync(request, cancellationToken).ConfigureAwait(false);
            return ApiResponse.Ok(outcome.Status == RevokeStatus.Revoked ? HttpStatusCode.Created : HttpStatusCode.OK,
                RevokeOutcomeJson.From(outcome), LedgerJsonContext.Default.RevokeOutcomeJson);
        }).ConfigureAwait(false);
    }

    /// <summary>The revocation asked for, or the errors naming each field: unknown fields, a reason that is not 1 to 500 characters of text, units not a number above 0.</summary>
    internal static (RevokeRequest? Request, List<FieldError> Errors) ReadRevoke(string grantId, byte[] body)
    {
        var errors = new List<FieldError>();
        if (Identifier.Trim(grantId) != grantId || grantId.Length == 0)
        {
            errors.Add(FieldError.Of("grantId", grantId, "must be a grant id without surrounding spaces"));
        }

        string? reason = null;
        decimal? units = null;
        var allowNegative = false;
        JsonObjectBody.Read(body, "{\"reason\": \"…\", \"units\": 10}", errors, property =>
        {
            switch (property.Name)
            {
                case "reason":
                    reason = JsonObjectBody.Reason(property, errors);
                    break;
                case "units" when property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetDecimal(out var value) && value > 0
                    && value == Math.Round(value, GrantValidator.MaxDecimalPlaces):
                    units = value;
                    break;
                case "units":
                    errors.Add(FieldError.Of("units", property.Value.GetRawText(), $"must be a number above 0 with at most {GrantValidator.MaxDecimalPlaces} decimal places (leave it out to take back what is unspent)"));
                    break;
                case "allowNegativeBalance":
                    allowNegative = JsonObjectBody.Flag(property, errors);
                    break;
                default:
                    errors.Add(FieldError.Of(property.Name, null, $"is not a field of a revocation; the fields are {string.Join(", ", RevokeFields)}"));
                    break;
            }
        });

        return errors.Count > 0 ? (null, errors) : (new RevokeRequest(grantId, reason, units, allowNegative, "http"), errors);
    }

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger request refused ({Failure}, HTTP {Status}): {Reason}")]
    private partial void LogRefused(string failure, int status, string reason);
}
