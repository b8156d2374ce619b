using System.Globalization;
using System.Net.Mail;
using CreditGrants.Identity;

namespace CreditGrants.Grants;

/// <summary>One refused field: its name, the value given, and what would be accepted.</summary>
public sealed record FieldError(string Field, string? Value, string Message)
{
    /// <summary>A refused field whose value is echoed safely (escaped, and shortened in whole characters).</summary>
    public static FieldError Of(string field, string? value, string message) => new(field, value is null ? null : Display.Shorten(value), message);

    public override string ToString() => Value is null ? $"{Field}: {Message}" : $"{Field} '{Value}': {Message}";
}

/// <summary>
/// A grant as a caller gave it, before validation: every field as text, as it came. <see cref="GrantIdDerived"/> says
/// the grant id was derived from the grant's own facts (a bulk row without <c>grant_id</c>, a campaign occurrence)
/// rather than given by the caller; a derived id cannot be reused for another grant, so its duplicates are not read back.
/// <see cref="ExpiresAt"/> (an instant) or <see cref="ExpiresIn"/> (a duration from now), not both, make the grant expire (<see cref="GrantExpiry"/>).
/// <see cref="CarryOver"/> makes its unspent units survive a meter reset (docs/credit-lifecycle.md, "Carry-over").
/// </summary>
public sealed record GrantRequest(
    string? GrantId,
    string? ExternalCustomerId,
    string? CustomerId,
    string? Email,
    string? Name,
    string? Units,
    string? Meter,
    string? Reason,
    string Source,
    bool GrantIdDerived = false,
    string? ExpiresAt = null,
    string? ExpiresIn = null,
    bool CarryOver = false);

/// <summary>Either a valid grant or the list of refused fields.</summary>
public sealed record GrantValidation(CreditGrant? Grant, IReadOnlyList<FieldError> Errors)
{
    public bool IsValid => Grant is not null;
}

/// <summary>The grant rules, with a message per field that names the value and what is accepted; <paramref name="time"/> dates expiries.</summary>
public sealed class GrantValidator(GrantOptions options, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public const int MaxIdLength = 200;
    public const int MaxNameLength = 256;
    public const int MaxReasonLength = 500;
    public const int MaxMeterNameLength = 256;
    public const int MaxDecimalPlaces = 6;

    public GrantValidation Validate(GrantRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<FieldError>();

        var grantId = CheckGrantId(request.GrantId, errors);
        var (externalId, mustExistBecause) = CheckExternalId(request.ExternalCustomerId, errors);
        Guid? customerId = null;
        if (request.CustomerId is not null)
        {
            if (Guid.TryParseExact(request.CustomerId, "D", out var parsed))
            {
                customerId = parsed;
            }
            else
            {
                errors.Add(new FieldError("customer.customerId", request.CustomerId, "must be a Polar customer id (a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6)"));
            }
        }

        if (request.ExternalCustomerId is null && request.CustomerId is null)
        {
            errors.Add(new FieldError("customer", null, "give the customer's externalId (your id for them) or Polar's customerId"));
        }
        else if (request.ExternalCustomerId is not null && request.CustomerId is not null)
        {
            errors.Add(new FieldError("customer", null, "give externalId or customerId, not both"));
        }

        if (request.CustomerId is not null && (request.Email is not null || request.Name is not null))
        {
            errors.Add(new FieldError("customer", null, "email and name create a missing customer and go with externalId only"));
        }

        var email = CheckEmail(request.Email, errors);
        var name = CheckText("customer.name", request.Name, MaxNameLength, errors);
        var units = CheckUnits(request.Units, errors);
        var meter = CheckMeter(request.Meter, errors) ?? options.DefaultMeter;
        var reason = CheckText("reason", request.Reason, MaxReasonLength, errors);
        var expiresAt = CheckExpiry(request.ExpiresAt, request.ExpiresIn, errors);
        if (errors.Count > 0)
        {
            return new GrantValidation(null, errors);
        }

        // An external id that only an existing customer may hold: never create one from the email, so no lookalike is made.
        var customer = mustExistBecause is null
            ? new CustomerRef(externalId, customerId, email, name)
            : new CustomerRef(externalId, customerId, null, null, mustExistBecause);
        var id = request.GrantIdDerived ? new GrantId(grantId!).AsDerived() : new GrantId(grantId!);
        return new GrantValidation(new CreditGrant(id, customer, units, meter, reason, request.Source, expiresAt, request.CarryOver), []);
    }

    /// <summary>The expiry: an instant (<c>expiresAt</c>) or a duration from now (<c>expiresIn</c>), at most one of them (<see cref="GrantExpiry"/>).</summary>
    private DateTimeOffset? CheckExpiry(string? expiresAt, string? expiresIn, List<FieldError> errors)
    {
        if (expiresAt is not null && expiresIn is not null)
        {
            errors.Add(new FieldError("expiresIn", null, "give expiresAt (an instant) or expiresIn (a duration), not both"));
            return null;
        }

        var now = _time.GetUtcNow();
        var (field, value) = expiresAt is not null ? ("expiresAt", expiresAt) : ("expiresIn", expiresIn);
        if (value is null)
        {
            return null;
        }

        var (at, problem) = field == "expiresAt" ? GrantExpiry.ParseInstant(value, now) : GrantExpiry.ParseAfter(value, now, now);
        if (problem is not null)
        {
            errors.Add(FieldError.Of(field, value, problem));
        }

        return at;
    }

    /// <summary>
    /// A grant id is the grant's identity (its event id derives from it), so it is taken exactly as given: one with spaces at
    /// either end is refused naming its trimmed form (a retry of a grant made with the space must not become a new grant;
    /// bulk files trim their cells before this), and any character <see cref="Identifier.Check"/> refuses is refused.
    /// </summary>
    private static string? CheckGrantId(string? value, List<FieldError> errors)
    {
        const string Field = "grantId";
        if (value is null)
        {
            errors.Add(new FieldError(Field, null, "is required"));
            return null;
        }

        if (!CheckLength(Field, value, MaxIdLength, errors))
        {
            return null;
        }

        var trimmed = Identifier.Trim(value);
        if (trimmed.Length != value.Length && trimmed.Length > 0)
        {
            errors.Add(FieldError.Of(Field, value,
                $"has spaces at its start or end; grant ids are taken exactly as given, so send '{Display.Escape(trimmed)}' if that is the grant you mean"));
            return null;
        }

        return NoProblems(Field, value, Identifier.Check(value), errors) ? value : null;
    }

    /// <summary>
    /// An external customer id, trimmed of Unicode spaces. Control characters, lone surrogates and U+FFFD are refused. Format
    /// characters and text not in NFC are refused too unless that exact string is a customer's external id in Polar: the grant
    /// then carries the reason, and goes through only to a customer that exists (never creating one).
    /// </summary>
    private static (string? Value, string? MustExistBecause) CheckExternalId(string? value, List<FieldError> errors)
    {
        const string Field = "customer.externalId";
        if (value is null)
        {
            return (null, null);
        }

        var trimmed = Identifier.Trim(value);
        if (!CheckLength(Field, trimmed, MaxIdLength, errors))
        {
            return (null, null);
        }

        var problems = Identifier.Check(trimmed);
        if (problems.Count > 0 && problems.All(p => p.CanBeAnExistingId))
        {
            return (trimmed, $"{string.Join("; ", problems.Select(p => p.Message))}. It is granted only to a customer who holds exactly this external id");
        }

        return NoProblems(Field, trimmed, problems, errors) ? (trimmed, null) : (null, null);
    }

    private static string? CheckMeter(string? value, List<FieldError> errors)
    {
        const string Field = "meter";
        if (value is null)
        {
            return null;
        }

        var trimmed = Identifier.Trim(value);
        if (!CheckLength(Field, trimmed, MaxMeterNameLength, errors))
        {
            return null;
        }

        return NoProblems(Field, trimmed, Identifier.Check(trimmed), errors) ? trimmed : null;
    }

    /// <summary>
    /// Free text sent to Polar (a name, a reason): no control characters and no bidi embeddings, overrides or isolates,
    /// which would make it display as other text (marks such as U+200F and joiners, which scripts need, are kept).
    /// </summary>
    private static string? CheckText(string field, string? value, int maxLength, List<FieldError> errors)
    {
        if (value is null)
        {
            return null;
        }

        if (!CheckLength(field, value, maxLength, errors))
        {
            return null;
        }

        var problems = Identifier.Check(value)
            .Where(p => p.Kind is not (IdentifierProblemKind.Format or IdentifierProblemKind.NotNormalized))
            .ToList();
        var overrides = value.Select((c, i) => (c, i)).Where(p => p.c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069')
            .Select(p => Identifier.Describe(p.c, Display.Length(value[..p.i]) + 1)).ToList();
        if (overrides.Count > 0)
        {
            problems.Add(new IdentifierProblem(IdentifierProblemKind.Format,
                $"contains the bidirectional control {string.Join(", ", overrides)}, which makes it display as other text; remove it"));
        }

        return NoProblems(field, value, problems, errors) ? value : null;
    }

    private static bool CheckLength(string field, string value, int maxLength, List<FieldError> errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add(FieldError.Of(field, value, field is "grantId" or "customer.externalId" ? "must not be empty or blank" : "must not be blank; leave it out instead"));
            return false;
        }

        // Counted as Polar counts: code points, so an emoji is one character.
        var length = Display.Length(value);
        if (length > maxLength)
        {
            errors.Add(FieldError.Of(field, value, $"is {length} characters; at most {maxLength} are accepted"));
            return false;
        }

        return true;
    }

    private static bool NoProblems(string field, string value, IReadOnlyCollection<IdentifierProblem> problems, List<FieldError> errors)
    {
        foreach (var problem in problems)
        {
            errors.Add(FieldError.Of(field, value, problem.Message));
        }

        return problems.Count == 0;
    }

    private static string? CheckEmail(string? value, List<FieldError> errors)
    {
        if (value is null)
        {
            return null;
        }

        var trimmed = Identifier.Trim(value);
        if (!NoProblems("customer.email", value, Identifier.Check(trimmed), errors))
        {
            return null;
        }

        var valid = trimmed.Length is > 0 and <= 254
            && MailAddress.TryCreate(trimmed, out var address)
            && address.Address == trimmed
            && address.Host.Contains('.', StringComparison.Ordinal)
            && !address.Host.EndsWith('.');
        if (!valid)
        {
            errors.Add(FieldError.Of("customer.email", value, "must be an email address such as ada@lovelace.dev"));
            return null;
        }

        return trimmed;
    }

    private decimal CheckUnits(string? value, List<FieldError> errors)
    {
        const string Accepted = "must be a number greater than 0";
        if (value is null)
        {
            errors.Add(new FieldError("units", null, $"is required; {Accepted}"));
            return 0;
        }

        if (!decimal.TryParse(value, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent | NumberStyles.AllowLeadingSign,
                CultureInfo.InvariantCulture, out var units))
        {
            errors.Add(FieldError.Of("units", value, $"{Accepted}, with a '.' for decimals"));
            return 0;
        }

        if (units == 0 && value.TakeWhile(c => c is not ('e' or 'E')).Any(c => c is >= '1' and <= '9'))
        {
            // 1e-30 reads as 0 in decimal, yet it is no zero: say why it is refused.
            errors.Add(new FieldError("units", value, $"has more than {MaxDecimalPlaces} decimal places; the smallest grant is 0.000001"));
        }
        else if (units <= 0)
        {
            errors.Add(new FieldError("units", value, $"{Accepted}; to take credits back, grant a compensating usage event"));
        }
        else if (units > options.MaxUnitsPerGrant)
        {
            errors.Add(new FieldError("units", value,
                $"is over the limit of {options.MaxUnitsPerGrant.ToString(CultureInfo.InvariantCulture)} units per grant"));
        }
        else if (units.Scale > MaxDecimalPlaces && units != Math.Round(units, MaxDecimalPlaces))
        {
            errors.Add(new FieldError("units", value, $"has more than {MaxDecimalPlaces} decimal places"));
        }

        return Math.Round(units, MaxDecimalPlaces);
    }
}
