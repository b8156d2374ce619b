using System.ComponentModel.DataAnnotations;

namespace CreditGrants.Expiry;

/// <summary>Where the app keeps its expiry index and how its sweep runs; bound from the <c>Expiry</c> section (the timer's schedule is <c>ExpirySchedule</c>).</summary>
public sealed class ExpiryOptions
{
    public const string SectionName = "Expiry";

    /// <summary>The table of expiries to come: one row per grant that expires, keyed by the UTC hour its expiry takes effect at.</summary>
    [Required]
    public string Table { get; set; } = "expiries";

    /// <summary>
    /// How long after an expiry takes effect the sweep waits before taking credits back, so that the usage of the hour before it
    /// (and the grant's own event) has reached Polar's event store, which lags the ingest by seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan Settle { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an entry whose grant Polar never shows is kept before it is dropped (its grant was refused or never sent).</summary>
    [Range(typeof(TimeSpan), "00:10:00", "30.00:00:00")]
    public TimeSpan ForgetUnseenAfter { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The most due expiries one sweep takes; the rest wait for the next run.</summary>
    [Range(1, 1_000_000)]
    public int MaxPerRun { get; set; } = 50_000;
}
