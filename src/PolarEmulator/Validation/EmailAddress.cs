namespace PolarEmulator.Validation;

/// <summary>
/// Polar's email check: a syntax check and a deliverability check of the domain. The emulator does no DNS look-up;
/// it refuses the domains that take no mail (RFC 2606 and RFC 6761 names), as Polar's DNS check does.
/// </summary>
internal static class EmailAddress
{
    private static readonly string[] SpecialUseDomains = ["arpa", "invalid", "local", "localhost", "onion", "test"];

    private static readonly string[] NoMailDomains = ["example.com", "example.org", "example.net", "example"];

    /// <summary>The address with its domain lower-cased, or why it is refused (email_validator's words).</summary>
    public static (string? Normalized, string? Refusal) Check(string email)
    {
        ArgumentNullException.ThrowIfNull(email);
        var at = email.LastIndexOf('@');
        if (at < 0)
        {
            return (null, "An email address must have an @-sign.");
        }

        var local = email[..at];
        var domain = email[(at + 1)..];
        if (local.Length == 0)
        {
            return (null, "There must be something before the @-sign.");
        }

        if (domain.Length == 0)
        {
            return (null, "There must be something after the @-sign.");
        }

        if (local.Length > 64)
        {
            return (null, $"The email address is too long before the @-sign ({local.Length - 64} characters too many).");
        }

        if (local.Contains('@', StringComparison.Ordinal) || !local.All(IsLocalCharacter))
        {
            return (null, "The email address contains invalid characters before the @-sign.");
        }

        if (local.StartsWith('.') || local.EndsWith('.') || local.Contains("..", StringComparison.Ordinal))
        {
            return (null, "The email address contains a period in an invalid position before the @-sign.");
        }

        var lowerDomain = domain.ToLowerInvariant();
        if (!lowerDomain.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' || c > 127))
        {
            return (null, "The part after the @-sign contains invalid characters.");
        }

        var labels = lowerDomain.Split('.');
        if (labels.Any(l => l.Length == 0))
        {
            return (null, "An email address cannot have a period in an invalid position after the @-sign.");
        }

        if (labels.Any(l => l.StartsWith('-') || l.EndsWith('-')))
        {
            return (null, "An email address cannot have a hyphen immediately after the @-sign or a period.");
        }

        if (SpecialUseDomains.Any(d => lowerDomain == d || lowerDomain.EndsWith("." + d, StringComparison.Ordinal)))
        {
            return (null, "The part after the @-sign is a special-use or reserved name that cannot be used with email.");
        }

        if (labels.Length < 2)
        {
            return (null, "The part after the @-sign is not valid. It should have a period.");
        }

        if (labels[^1].All(char.IsAsciiDigit))
        {
            return (null, "The part after the @-sign is not valid. It is not within a valid top-level domain.");
        }

        if (NoMailDomains.Contains(lowerDomain, StringComparer.Ordinal))
        {
            return (null, $"The domain name {lowerDomain} does not accept email.");
        }

        if (NoMailDomains.Any(d => lowerDomain.EndsWith("." + d, StringComparison.Ordinal)))
        {
            return (null, $"The domain name {lowerDomain} does not exist.");
        }

        return ($"{local}@{lowerDomain}", null);
    }

    private static bool IsLocalCharacter(char c) =>
        char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~.".Contains(c, StringComparison.Ordinal) || c > 127;
}
