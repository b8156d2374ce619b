using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Models;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Timeout;

namespace CreditGrants.Polar.Http;

/// <summary>
/// A typed client over Polar's REST API: one method per operation, bodies buffered with a Content-Length
/// (Polar answers 411 to chunked bodies), and every failure turned into a <see cref="PolarException"/>.
/// Retries, timeouts, the circuit breaker and the request budget live in the HttpClient's pipeline.
/// </summary>
public sealed class PolarClient(HttpClient http, TimeProvider time)
{
    public Task<Customer> CreateCustomerAsync(CustomerCreate customer, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "v1/customers/", Body(customer, PolarJsonContext.Default.CustomerCreate),
            PolarJsonContext.Default.Customer, cancellationToken);

    public Task<Customer> GetCustomerAsync(Guid customerId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, $"v1/customers/{customerId}", null, PolarJsonContext.Default.Customer, cancellationToken);

    public Task<Customer> GetCustomerByExternalIdAsync(string externalId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, $"v1/customers/external/{Uri.EscapeDataString(externalId)}", null,
            PolarJsonContext.Default.Customer, cancellationToken);

    public Task<PolarPage<Customer>> ListCustomersAsync(CustomerListQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var url = new QueryBuilder("v1/customers/")
            .Add("email", query.Email).Add("query", query.Query).Add("page", query.Page).Add("limit", query.Limit);
        foreach (var (key, value) in query.Metadata ?? new Dictionary<string, string>())
        {
            url.Add($"metadata[{key}]", value);
        }

        url.Add("active", query.Active is { } active ? (active ? "true" : "false") : null).Add("sorting", query.Sorting);
        return SendAsync(HttpMethod.Get, url.ToString(), null, PolarJsonContext.Default.PolarPageCustomer, cancellationToken);
    }

    public Task<PolarPage<Meter>> ListMetersAsync(MeterListQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var url = new QueryBuilder("v1/meters/")
            .Add("query", query.Query)
            .Add("is_archived", query.IsArchived is { } archived ? (archived ? "true" : "false") : null)
            .Add("page", query.Page).Add("limit", query.Limit);
        return SendAsync(HttpMethod.Get, url.ToString(), null, PolarJsonContext.Default.PolarPageMeter, cancellationToken);
    }

    public Task<Meter> GetMeterAsync(Guid meterId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Get, $"v1/meters/{meterId}", null, PolarJsonContext.Default.Meter, cancellationToken);

    public Task<Meter> CreateMeterAsync(MeterCreate meter, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "v1/meters/", Body(meter, PolarJsonContext.Default.MeterCreate),
            PolarJsonContext.Default.Meter, cancellationToken);

    /// <summary>Sends one ingest request as it is; <see cref="PolarGateway.IngestAsync"/> batches and isolates bad events.</summary>
    public Task<EventsIngestResponse> IngestEventsAsync(IReadOnlyList<PolarEvent> events, CancellationToken cancellationToken = default) =>
        IngestSerializedAsync(EventBatchBody.Build(events.Select(EventBatchBody.Serialize)), cancellationToken);

    internal Task<EventsIngestResponse> IngestSerializedAsync(byte[] body, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, "v1/events/ingest", body, PolarJsonContext.Default.EventsIngestResponse, cancellationToken);

    /// <summary><c>GET /v1/events/</c>: one page of events; each metadata value is a repeated <c>metadata[key]</c> parameter.</summary>
    public Task<PolarPage<RecordedEvent>> ListEventsAsync(EventListQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var url = new QueryBuilder("v1/events/").Add("source", query.Source).Add("sorting", query.Sorting);
        foreach (var (key, values) in query.Metadata ?? new Dictionary<string, IReadOnlyList<string>>())
        {
            foreach (var value in values)
            {
                url.Add(MetadataParameter(key), value);
            }
        }

        url.Add("external_customer_id", query.ExternalCustomerId)
            .Add("filter", query.Filter is null ? null : JsonSerializer.Serialize<MeterFilterNode>(query.Filter, PolarJsonContext.Default.MeterFilterNode));
        url.Add("page", query.Page).Add("limit", query.Limit);
        return SendAsync(HttpMethod.Get, url.ToString(), null, PolarJsonContext.Default.PolarPageRecordedEvent, cancellationToken);
    }

    /// <summary><c>GET /v1/meters/{id}/quantities</c>: the meter's aggregation per interval (UTC) over a period.</summary>
    public Task<MeterQuantities> GetMeterQuantitiesAsync(Guid meterId, MeterQuantitiesQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var url = new QueryBuilder($"v1/meters/{meterId}/quantities")
            .Add("start_timestamp", Timestamp(query.Start))
            .Add("end_timestamp", Timestamp(query.End))
            .Add("interval", query.Interval)
            .Add("external_customer_id", query.ExternalCustomerId);
        return SendAsync(HttpMethod.Get, url.ToString(), null, PolarJsonContext.Default.MeterQuantities, cancellationToken);
    }

    private static string Timestamp(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>The query parameter name of a metadata filter, <c>metadata[key]</c> (deepObject style), escaped.</summary>
    public static string MetadataParameter(string key) => Uri.EscapeDataString($"metadata[{key}]");

    public Task<PolarPage<CustomerMeter>> ListCustomerMetersAsync(CustomerMeterListQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var url = new QueryBuilder("v1/customer-meters/")
            .Add("customer_id", query.CustomerId?.ToString())
            .Add("external_customer_id", query.ExternalCustomerId)
            .Add("meter_id", query.MeterId?.ToString())
            .Add("page", query.Page).Add("limit", query.Limit);
        return SendAsync(HttpMethod.Get, url.ToString(), null, PolarJsonContext.Default.PolarPageCustomerMeter, cancellationToken);
    }

    private static byte[] Body<T>(T value, JsonTypeInfo<T> typeInfo) => JsonSerializer.SerializeToUtf8Bytes(value, typeInfo);

    private async Task<T> SendAsync<T>(HttpMethod method, string path, byte[]? body, JsonTypeInfo<T> typeInfo,
        CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            content.Headers.ContentLength = body.Length;
            request.Content = content;
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsUnavailable(ex, cancellationToken))
        {
            throw new PolarException(PolarErrorKind.Unavailable,
                $"Polar could not be reached for {method} /{StripQuery(path)}: {Describe(ex)}", innerException: ex);
        }

        using (response)
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw PolarErrors.FromResponse(method, StripQuery(path), response, bytes, time.GetUtcNow());
            }

            try
            {
                return JsonSerializer.Deserialize(bytes, typeInfo)
                    ?? throw new PolarException(PolarErrorKind.Unexpected, $"Polar answered {method} /{StripQuery(path)} with an empty body.",
                        response.StatusCode);
            }
            catch (JsonException ex)
            {
                throw new PolarException(PolarErrorKind.Unexpected,
                    $"Polar's answer to {method} /{StripQuery(path)} is not the JSON this client expects: {ex.Message}",
                    response.StatusCode, innerException: ex);
            }
        }
    }

    private static bool IsUnavailable(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        HttpRequestException or TimeoutRejectedException or BrokenCircuitException or RateLimiterRejectedException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        _ => false,
    };

    private static string Describe(Exception ex) => ex switch
    {
        TimeoutRejectedException => "every attempt timed out",
        BrokenCircuitException => "too many recent failures (circuit open); try again shortly",
        RateLimiterRejectedException => "the request budget is exhausted",
        OperationCanceledException => "the request timed out",
        _ => ex.Message,
    };

    private static string StripQuery(string path) => path.Split('?')[0];

    /// <summary>Builds a relative URL with escaped query parameters, leaving out the ones not set.</summary>
    private sealed class QueryBuilder(string path)
    {
        private readonly StringBuilder _url = new(path);
        private char _separator = '?';

        public QueryBuilder Add(string name, string? value)
        {
            if (value is not null)
            {
                _url.Append(_separator).Append(name).Append('=').Append(Uri.EscapeDataString(value));
                _separator = '&';
            }

            return this;
        }

        public QueryBuilder Add(string name, int value) => Add(name, value.ToString(CultureInfo.InvariantCulture));

        public override string ToString() => _url.ToString();
    }
}

/// <summary>Maps Polar's error answers to <see cref="PolarException"/>s a caller can act on.</summary>
internal static class PolarErrors
{
    public static PolarException FromResponse(HttpMethod method, string path, HttpResponseMessage response, byte[] body, DateTimeOffset now)
    {
        var status = response.StatusCode;
        var parsed = TryParse(body);
        var where = $"{method} /{path}";
        var description = parsed?.ErrorDescription ?? (parsed?.Detail.ValueKind == JsonValueKind.String ? parsed.Detail.GetString() : null);
        switch ((int)status)
        {
            case 401:
                return new PolarException(PolarErrorKind.Unauthorized,
                    $"Polar refused the access token for {where} ({parsed?.Error ?? "Unauthorized"}): check that it is a valid organization access token for this server.",
                    status, parsed?.Error);
            case 403:
                return new PolarException(PolarErrorKind.MissingScope,
                    $"The Polar access token lacks the scope {RequiredScope(method, path)} needed for {where}.",
                    status, parsed?.Error);
            case 404:
                return new PolarException(PolarErrorKind.NotFound, $"Polar found nothing at {where}.", status, parsed?.Error);
            case 413:
                return new PolarException(PolarErrorKind.RequestTooLarge,
                    $"Polar refused {where}: the body is over its 10 MiB limit.", status, parsed?.Error);
            case 422:
                var errors = FieldErrors(parsed);
                var conflict = errors.Any(e => e.Message.Contains("already exists", StringComparison.OrdinalIgnoreCase));
                return new PolarException(conflict ? PolarErrorKind.Conflict : PolarErrorKind.Validation,
                    $"Polar refused {where}: {(errors.Count > 0 ? string.Join("; ", errors) : description ?? "validation failed")}",
                    status, parsed?.Error, errors);
            case 429:
                var retryAfter = RetryAfter(response, now);
                return new PolarException(PolarErrorKind.RateLimited,
                    $"Polar rate-limited {where} after every retry; try again in {retryAfter?.TotalSeconds ?? 60:0} s.",
                    status, retryAfter: retryAfter ?? TimeSpan.FromSeconds(60));
            case 408:
            case >= 500:
                return new PolarException(PolarErrorKind.Unavailable,
                    $"Polar kept failing {where} (HTTP {(int)status}) after every retry.", status, parsed?.Error,
                    retryAfter: RetryAfter(response, now));
            default:
                return new PolarException(PolarErrorKind.Unexpected,
                    $"Polar answered {where} with HTTP {(int)status}{(description is null ? "" : $": {description}")}.",
                    status, parsed?.Error);
        }
    }

    public static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - now,
            _ => null,
        };

    private static PolarErrorBody? TryParse(byte[] body)
    {
        if (body.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(body, PolarJsonContext.Default.PolarErrorBody);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static List<PolarFieldError> FieldErrors(PolarErrorBody? body)
    {
        var errors = new List<PolarFieldError>();
        if (body is null || body.Detail.ValueKind != JsonValueKind.Array)
        {
            return errors;
        }

        foreach (var item in body.Detail.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var location = item.TryGetProperty("loc", out var loc) && loc.ValueKind == JsonValueKind.Array
                ? loc.EnumerateArray().Select(part => part.ValueKind == JsonValueKind.String ? part.GetString()! : part.GetRawText()).ToList()
                : [];
            var input = item.TryGetProperty("input", out var value)
                ? value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText()
                : null;
            errors.Add(new PolarFieldError(
                location,
                item.TryGetProperty("msg", out var msg) ? msg.GetString() ?? "" : "",
                item.TryGetProperty("type", out var type) ? type.GetString() ?? "" : "",
                input));
        }

        return errors;
    }

    /// <summary>The scope a route needs, from Polar's scope list.</summary>
    internal static string RequiredScope(HttpMethod method, string path)
    {
        var write = method != HttpMethod.Get;
        return path switch
        {
            _ when path.StartsWith("v1/events", StringComparison.Ordinal) => write ? "events:write" : "events:read",
            _ when path.StartsWith("v1/customer-meters", StringComparison.Ordinal) => "customer_meters:read",
            _ when path.StartsWith("v1/meters", StringComparison.Ordinal) => write ? "meters:write" : "meters:read",
            _ => write ? "customers:write" : "customers:read",
        };
    }
}
