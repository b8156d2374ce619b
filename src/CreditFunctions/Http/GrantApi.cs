using System.Net;
using System.Text.Json;
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
    IOptions<GrantOptions> options,
    ILogger<GrantApi> logger)
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    private static readonly string[] TopLevelFields = ["customer", "units", "meter", "reason", "grantId"];
    private static readonly string[] CustomerFields = ["externalId", "customerId", "email", "name"];

    /// <summary><c>POST /api/grants</c>: 201 for a new grant, 200 for a duplicate, a problem otherwise.</summary>
    public async Task<ApiResponse> GrantAsync(Stream body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var limit = options.Value.MaxRequestBodyBytes;
        var bytes = await ReadLimitedAsync(body, limit, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return Problems.BodyTooLarge(limit);
        }

        var (request, errors) = Parse(bytes, idempotencyKey);
        if (request is null)
        {
            return Problems.InvalidRequest(errors.Count == 1 ? errors[0].ToString() : "The request has invalid fields.", errors);
        }

        var validation = validator.Validate(request);
        if (!validation.IsValid)
        {
            return Problems.InvalidRequest($"{validation.Errors.Count} field(s) are not valid: {string.Join("; ", validation.Errors)}", validation.Errors);
        }

        return await AnswerAsync(async () =>
        {
            var outcome = await grants.GrantAsync(validation.Grant!, cancellationToken).ConfigureAwait(false);
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

    private static (GrantRequest? Request, List<FieldError> Errors) Parse(byte[] bytes, string? idempotencyKey)
    {
        var errors = new List<FieldError>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            errors.Add(new FieldError("body", null, $"is not valid JSON ({ex.Message})"));
            return (null, errors);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new FieldError("body", null, "must be a JSON object with customer, units and grantId"));
                return (null, errors);
            }

            Unknown(root, TopLevelFields, "", errors);
            string? externalId = null, customerId = null, email = null, name = null;
            if (!root.TryGetProperty("customer", out var customer) || customer.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new FieldError("customer", null, "is required: an object with externalId (and optional email, name), or customerId"));
            }
            else
            {
                Unknown(customer, CustomerFields, "customer.", errors);
                externalId = Text(customer, "externalId", "customer.", errors);
                customerId = Text(customer, "customerId", "customer.", errors);
                email = Text(customer, "email", "customer.", errors);
                name = Text(customer, "name", "customer.", errors);
            }

            string? units = null;
            if (root.TryGetProperty("units", out var unitsElement))
            {
                if (unitsElement.ValueKind == JsonValueKind.Number)
                {
                    units = unitsElement.GetRawText();
                }
                else
                {
                    errors.Add(new FieldError("units", unitsElement.GetRawText(), "must be a JSON number greater than 0, such as 100 or 2.5"));
                }
            }

            var grantId = Text(root, "grantId", "", errors);
            if (grantId is not null && idempotencyKey is not null && !string.Equals(grantId, idempotencyKey, StringComparison.Ordinal))
            {
                errors.Add(new FieldError("grantId", grantId, $"differs from the {IdempotencyKeyHeader} header '{idempotencyKey}'; send one, or the same value in both"));
            }

            grantId ??= idempotencyKey;
            if (grantId is null)
            {
                errors.Add(new FieldError("grantId", null,
                    $"is required (in the body or as the {IdempotencyKeyHeader} header): a retried request without one could grant twice"));
            }

            if (errors.Count > 0)
            {
                return (null, errors);
            }

            var meter = Text(root, "meter", "", errors);
            var reason = Text(root, "reason", "", errors);
            var request = new GrantRequest(grantId, externalId, customerId, email, name, units, meter, reason, "http");
            return errors.Count > 0 ? (null, errors) : (request, errors);
        }
    }

    private static void Unknown(JsonElement element, string[] known, string prefix, List<FieldError> errors)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                errors.Add(new FieldError(prefix + property.Name, null, $"is not a known field; accepted: {string.Join(", ", known)}"));
            }
        }
    }

    private static string? Text(JsonElement element, string field, string prefix, List<FieldError> errors)
    {
        if (!element.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors.Add(new FieldError(prefix + field, value.GetRawText(), "must be a JSON string"));
            return null;
        }

        return value.GetString();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request refused ({Failure}, HTTP {Status}): {Reason}")]
    private partial void LogRefused(string failure, int status, string reason);
}
