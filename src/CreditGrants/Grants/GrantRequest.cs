using System.Globalization;
using System.Net.Mail;

namespace CreditGrants.Grants;

/// <summary>One refused field: its name, the value given, and what would be accepted.</summary>
public sealed record FieldError(string Field, string? Value, string Message)
{
    public override string ToString() => Value is null ? $"{Field}: {Message}" : $"{Field} '{Value}': {Message}";
}

/// <summary>
/// A grant as a caller gave it, before validation: every field as text, as it came. <see cref="GrantIdDerived"/> says
/// the grant id was derived from the grant's own facts (a bulk row without <c>grant_id</c>, a campaign occurrence)
/// rather than given by the caller; a derived id cannot be reused for another grant, so its duplicates are not read back.
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
    bool GrantIdDerived = false);

/// <summary>Either a valid grant or the list of refused fields.</summary>
public sealed record GrantValidation(CreditGrant? Grant, IReadOnlyList<FieldError> Errors)
{
    public bool IsValid => Grant is not null;
}

/// <summary>The grant rules, with a message per field that names the value and what is accepted.</summary>
public sealed class GrantValidator(GrantOptions options)
{
    public const int MaxIdLength = 200;
    public const int MaxNameLength = 256;
    public const int MaxReasonLength = 500;
    public const int MaxMeterNameLength = 256;
    public const int MaxDecimalPlaces = 6;

    public GrantValidation Validate(GrantRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<FieldError>();

        var grantId = CheckId("grantId", request.GrantId, required: true, errors);
        var externalId = CheckId("customer.externalId", request.ExternalCustomerId, required: false, errors);
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
        var meter = CheckText("meter", request.Meter, MaxMeterNameLength, errors) ?? options.DefaultMeter;
        var reason = CheckText("reason", request.Reason, MaxReasonLength, errors);
        if (errors.Count > 0)
        {
            return new GrantValidation(null, errors);
        }

        var customer = new CustomerRef(externalId, customerId, email, name);
        var id = request.GrantIdDerived ? new GrantId(grantId!).AsDerived() : new GrantId(grantId!);
        return new GrantValidation(new CreditGrant(id, customer, units, meter, reason, request.Source), []);
    }

    private static string? CheckId(string field, string? value, bool required, List<FieldError> errors)
    {
        if (value is null)
        {
            if (required)
            {
                errors.Add(new FieldError(field, null, "is required"));
            }

            return null;
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add(new FieldError(field, value, "must not be empty or blank"));
            return null;
        }

        if (value.Length > MaxIdLength)
        {
            errors.Add(new FieldError(field, Shorten(value), $"is {value.Length} characters; at most {MaxIdLength} are accepted"));
            return null;
        }

        if (value.Any(char.IsControl))
        {
            errors.Add(new FieldError(field, Printable(value), "must not contain control characters (tabs, newlines, NUL, …)"));
            return null;
        }

        return Garbled(field, value, errors) ? null : value;
    }

    private static string? CheckText(string field, string? value, int maxLength, List<FieldError> errors)
    {
        if (value is null)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add(new FieldError(field, value, "must not be blank; leave it out instead"));
            return null;
        }

        if (value.Length > maxLength)
        {
            errors.Add(new FieldError(field, Shorten(value), $"is {value.Length} characters; at most {maxLength} are accepted"));
            return null;
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            errors.Add(new FieldError(field, Printable(value), "must not contain a NUL character"));
            return null;
        }

        return Garbled(field, value, errors) ? null : value;
    }

    private static string? CheckEmail(string? value, List<FieldError> errors)
    {
        if (value is null)
        {
            return null;
        }

        var trimmed = value.Trim();
        if (Garbled("customer.email", value, errors))
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
            errors.Add(new FieldError("customer.email", Shorten(value), "must be an email address such as ada@lovelace.dev"));
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
            errors.Add(new FieldError("units", Shorten(value), $"{Accepted}, with a '.' for decimals"));
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

    /// <summary>
    /// U+FFFD (�) is what a decoder leaves for bytes it could not read: text that holds it was read in the wrong encoding
    /// somewhere, and would name a customer or an id that nobody has.
    /// </summary>
    private static bool Garbled(string field, string value, List<FieldError> errors)
    {
        if (!value.Contains('\uFFFD', StringComparison.Ordinal))
        {
            return false;
        }

        errors.Add(new FieldError(field, Shorten(value),
            "contains U+FFFD (�), the mark of text read in the wrong encoding; send the text as it was written, in UTF-8"));
        return true;
    }

    private static string Shorten(string value) => value.Length <= 80 ? value : string.Concat(value.AsSpan(0, 77), "...");

    private static string Printable(string value) =>
        Shorten(string.Concat(value.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())));
}
