using System.Globalization;
using Cronos;

namespace CreditGrants.Campaigns;

/// <summary>When a campaign's occurrences fall. An occurrence is identified by its scheduled instant in UTC.</summary>
public abstract record CampaignSchedule
{
    /// <summary>The zone occurrences are shown in (and, for a cron, computed in).</summary>
    public abstract TimeZoneInfo TimeZone { get; }

    /// <summary>Occurrences after <paramref name="afterExclusive"/> (null: from the beginning) up to <paramref name="toInclusive"/>, in order.</summary>
    public abstract IEnumerable<DateTimeOffset> Occurrences(DateTimeOffset? afterExclusive, DateTimeOffset toInclusive);

    /// <summary>The first occurrence after <paramref name="afterExclusive"/>, or null when there is none.</summary>
    public abstract DateTimeOffset? NextAfter(DateTimeOffset afterExclusive);

    /// <summary>The occurrence's key in grant ids and state: <c>2026-12-07T08:00:00Z</c>.</summary>
    public static string Key(DateTimeOffset occurrence) =>
        occurrence.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>The occurrence in the schedule's time zone, with its offset.</summary>
    public DateTimeOffset Local(DateTimeOffset occurrence) => TimeZoneInfo.ConvertTime(occurrence, TimeZone);
}

/// <summary>A cron schedule (5 fields, or 6 with seconds first) evaluated in an IANA time zone; daylight saving follows Cronos.</summary>
public sealed record CronSchedule(string Expression, CronExpression Cron, TimeZoneInfo Zone) : CampaignSchedule
{
    /// <summary>The earliest instant a schedule without a lower bound is enumerated from; nothing is scheduled before.</summary>
    private static readonly DateTime Epoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public override TimeZoneInfo TimeZone => Zone;

    public override IEnumerable<DateTimeOffset> Occurrences(DateTimeOffset? afterExclusive, DateTimeOffset toInclusive)
    {
        var from = afterExclusive?.UtcDateTime ?? Epoch;
        if (from >= toInclusive.UtcDateTime)
        {
            return [];
        }

        return Cron.GetOccurrences(from, toInclusive.UtcDateTime, Zone, fromInclusive: afterExclusive is null, toInclusive: true)
            .Select(o => new DateTimeOffset(o, TimeSpan.Zero));
    }

    public override DateTimeOffset? NextAfter(DateTimeOffset afterExclusive) =>
        Cron.GetNextOccurrence(afterExclusive.UtcDateTime, Zone, inclusive: false) is { } next ? new DateTimeOffset(next, TimeSpan.Zero) : null;
}

/// <summary>A single occurrence at a given instant.</summary>
public sealed record OnceSchedule(DateTimeOffset At) : CampaignSchedule
{
    public override TimeZoneInfo TimeZone => TimeZoneInfo.CreateCustomTimeZone("offset", At.Offset, "offset", "offset");

    public override IEnumerable<DateTimeOffset> Occurrences(DateTimeOffset? afterExclusive, DateTimeOffset toInclusive) =>
        (afterExclusive is null || At > afterExclusive) && At <= toInclusive ? [At.ToUniversalTime()] : [];

    public override DateTimeOffset? NextAfter(DateTimeOffset afterExclusive) => At > afterExclusive ? At.ToUniversalTime() : null;
}
