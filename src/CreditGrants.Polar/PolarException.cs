using System.Net;
using System.Text.Json;

namespace CreditGrants.Polar;

/// <summary>What went wrong in a Polar call, in terms a caller can act on.</summary>
public enum PolarErrorKind
{
    /// <summary>Polar refused the token (missing, unknown, revoked or expired).</summary>
    Unauthorized,
    /// <summary>The token lacks a scope the call needs.</summary>
    MissingScope,
    NotFound,
    /// <summary>Polar's 422: the fields named in <see cref="PolarException.Errors"/> were refused.</summary>
    Validation,
    /// <summary>Polar's "already exists" 422 (a customer email or external id is taken).</summary>
    Conflict,
    /// <summary>429 after every retry; <see cref="PolarException.RetryAfter"/> says how long to wait.</summary>
    RateLimited,
    /// <summary>Polar could not be reached or kept failing (5xx, timeouts, open circuit) after retries.</summary>
    Unavailable,
    /// <summary>The request body was over Polar's 10 MiB limit.</summary>
    RequestTooLarge,
    /// <summary>Any other answer this client does not expect.</summary>
    Unexpected,
}

/// <summary>One field Polar refused: where (<c>loc</c>), why (<c>msg</c>, <c>type</c>) and the value it saw.</summary>
public sealed record PolarFieldError(IReadOnlyList<string> Location, string Message, string Type, string? Input)
{
    /// <summary>The location as Polar writes it in prose: <c>body.events.7.customer_id</c>.</summary>
    public string Path => string.Join('.', Location);

    /// <summary>The index of the event this error is about, for <c>["body","events",N,…]</c>.</summary>
    public int? EventIndex =>
        Location.Count >= 3 && Location[0] == "body" && Location[1] == "events" && int.TryParse(Location[2], out var index)
            ? index
            : null;

    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>Polar answered with an error, or could not be reached; never carries the access token.</summary>
public sealed class PolarException : Exception
{
    public PolarException(PolarErrorKind kind, string message, HttpStatusCode? status = null, string? error = null,
        IReadOnlyList<PolarFieldError>? errors = null, TimeSpan? retryAfter = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
        Status = status;
        Error = error;
        Errors = errors ?? [];
        RetryAfter = retryAfter;
    }

    public PolarException() : this(PolarErrorKind.Unexpected, "Polar call failed.") { }

    public PolarException(string message) : this(PolarErrorKind.Unexpected, message) { }

    public PolarException(string message, Exception innerException)
        : this(PolarErrorKind.Unexpected, message, innerException: innerException) { }

    public PolarErrorKind Kind { get; }

    /// <summary>The HTTP status Polar answered with; null when no answer came.</summary>
    public HttpStatusCode? Status { get; }

    /// <summary>Polar's <c>error</c> name (<c>ResourceNotFound</c>, <c>invalid_token</c>, …).</summary>
    public string? Error { get; }

    /// <summary>Polar's <c>detail</c> list for a 422: each refused field.</summary>
    public IReadOnlyList<PolarFieldError> Errors { get; }

    public TimeSpan? RetryAfter { get; }
}

/// <summary>Polar's error bodies: <c>{error, detail}</c> where detail is a string or a list, or OAuth2's <c>{error, error_description}</c>.</summary>
public sealed record PolarErrorBody(string? Error, JsonElement Detail, string? ErrorDescription);
