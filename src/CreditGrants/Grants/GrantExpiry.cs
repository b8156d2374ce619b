using System.Globalization;
using System.Text.RegularExpressions;
using CreditGrants.Lifecycle;

namespace CreditGrants.Grants;

/// <summary>
/// The one rule for a grant's expiry, for every way in (HTTP <c>expiresAt</c>/<c>expiresIn</c>, the bulk <c>expires_at</c> column,
/// a campaign's <c>expiresAfter</c>, <c>credits grant --expires-at</c>): an instant is ISO 8601 with a time and an explicit offset
/// (<c>2027-01-31T23:00:00Z</c>, <c>2027-02-01T00:00:00+01:00</c>); a duration is ISO 8601 in weeks, days, hours and minutes
/// (<c>P30D</c>, <c>PT12H</c>, <c>P1DT12H</c>), never years or months, whose length depends on the calendar. An expiry takes
/// effect at a whole UTC hour (<see cref="CreditAllocation.EffectiveExpiry"/>): one inside an hour at the end of that hour.
/// </summary>
public static partial class GrantExpiry
{
    /// <summary>The furthest ahead an expiry may be.</summary>
    public static readonly TimeSpan MaxAhead = TimeSpan.FromDays(3653);

    /// <summary>What an instant may be, said the same way in every message.</summary>
    public const string AcceptedInstant =
        "an ISO 8601 date and time with its offset, such as 2027-01-31T23:00:00Z or 2027-02-01T00:00:00+01:00, later than now and at most 10 years ahead";

    /// <summary>What a duration may be, said the same way in every message.</summary>
    public const string AcceptedDuration =
        "an ISO 8601 duration in weeks, days, hours or minutes, such as P30D, PT12H or P1DT12H, of at least 1 minute and at most 3653 days";

    private static readonly string[] InstantFormats =
    [
        "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    /// <summary>The instant as the grant event's <c>grant_expires_at</c> metadata holds it: ISO 8601 in UTC (<c>2027-01-31T23:00:00Z</c>).</summary>
    public static string Format(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    /// <summary>When the expiry takes effect: the instant itself on a whole UTC hour, else the end of its hour.</summary>
    public static DateTimeOffset TakesEffectAt(DateTimeOffset expiresAt) => CreditAllocation.EffectiveExpiry(expiresAt);

    /// <summary>Reads an instant written by <see cref="Format"/> (or any ISO 8601 instant with an offset); null when it is not one.</summary>
    public static DateTimeOffset? ReadStored(string? text) =>
        text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            ? at
            : null;

    /// <summary>
    /// An expiry instant as a caller wrote it, checked against <paramref name="now"/>: the instant, or why it is refused
    /// (naming what is accepted). A date without a time, or a time without an offset, is refused: it would mean another instant
    /// in every time zone.
    /// </summary>
    public static (DateTimeOffset? At, string? Problem) ParseInstant(string value, DateTimeOffset now)
    {
        var (at, problem) = ReadInstant(value);
        return at is { } instant ? Check(instant, now) : (null, problem);
    }

    /// <summary>An instant as ISO 8601 with its offset, whenever it is (<c>credits grants expire --at</c>); or why it is not one.</summary>
    public static (DateTimeOffset? At, string? Problem) ReadInstant(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = value.Trim();
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
        {
            return (null, $"is a date without a time: its instant depends on the time zone; give {AcceptedInstant}");
        }

        if (!ExplicitOffset().IsMatch(text))
        {
            return (null, DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
                ? $"has no offset (Z or +hh:mm): its instant depends on the time zone; give {AcceptedInstant}"
                : $"is not a date and time; give {AcceptedInstant}");
        }

        return DateTimeOffset.TryParseExact(text, InstantFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at)
            ? (at, null)
            : (null, $"is not a date and time; give {AcceptedInstant}");
    }

    /// <summary>An expiry given as a duration after <paramref name="from"/> (a request's time, a campaign's occurrence): the instant, or why not.</summary>
    public static (DateTimeOffset? At, string? Problem) ParseAfter(string value, DateTimeOffset from, DateTimeOffset now)
    {
        var (duration, problem) = ParseDuration(value);
        return duration is { } length ? Check(from + length, now) : (null, problem);
    }

    /// <summary>An ISO 8601 duration of weeks, days, hours, minutes and seconds (P30D, PT12H); the span, or why not.</summary>
    public static (TimeSpan? Duration, string? Problem) ParseDuration(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = value.Trim();
        if (CalendarDuration().IsMatch(text))
        {
            return (null, $"counts years or months, whose length depends on the calendar; give {AcceptedDuration} (P30D rather than P1M)");
        }

        var match = Duration().Match(text);
        if (!match.Success || text is "P" or "PT" || text.EndsWith('T'))
        {
            return (null, $"is not a duration; give {AcceptedDuration}");
        }

        static long Part(Match m, string name) => m.Groups[name].Success ? long.Parse(m.Groups[name].Value, CultureInfo.InvariantCulture) : 0;
        try
        {
            var minutes = checked(Part(match, "w") * 7 * 24 * 60 + Part(match, "d") * 24 * 60 + Part(match, "h") * 60 + Part(match, "m"));
            var seconds = Part(match, "s");
            var total = checked(minutes * 60 + seconds);
            if (total < 60 || total > MaxAhead.TotalSeconds)
            {
                return (null, $"is {(total < 60 ? "shorter" : "longer")} than accepted; give {AcceptedDuration}");
            }

            return (TimeSpan.FromSeconds(total), null);
        }
        catch (OverflowException)
        {
            return (null, $"is longer than accepted; give {AcceptedDuration}");
        }
    }

    private static (DateTimeOffset? At, string? Problem) Check(DateTimeOffset at, DateTimeOffset now)
    {
        if (at <= now)
        {
            return (null, $"is in the past (now is {Format(now)}): a grant cannot be made expired; give {AcceptedInstant}");
        }

        if (at - now > MaxAhead)
        {
            return (null, $"is more than 10 years ahead; give {AcceptedInstant}");
        }

        return (at, null);
    }

    [GeneratedRegex(@"(Z|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex ExplicitOffset();

    /// <summary>A duration with a year or month part (an M before any T is months).</summary>
    [GeneratedRegex(@"^P(?:\d+Y|\d+M)", RegexOptions.CultureInvariant)]
    private static partial Regex CalendarDuration();

    [GeneratedRegex(@"^P(?:(?<w>\d{1,6})W)?(?:(?<d>\d{1,6})D)?(?:T(?:(?<h>\d{1,7})H)?(?:(?<m>\d{1,9})M)?(?:(?<s>\d{1,10})S)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Duration();
}
