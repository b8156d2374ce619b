using System.Diagnostics;
using System.Reflection;
using System.Threading.RateLimiting;

namespace CreditGrants.Polar.Tests.Support;

/// <summary>
/// Moves a non-replenishing <see cref="SlidingWindowRateLimiter"/> on by whole segments without waiting.
/// <c>TryReplenish()</c> slides a segment only once a real <c>ReplenishmentPeriod</c> (5 s for a one-minute,
/// twelve-segment window) has passed since the last slide, so the tests hand the limiter a stopwatch reading
/// from the future instead, through the internal hook the runtime's own tests use.
/// </summary>
public sealed class BudgetWindow(SlidingWindowRateLimiter limiter)
{
    private static readonly MethodInfo ReplenishAt =
        typeof(SlidingWindowRateLimiter).GetMethod("ReplenishInternal", BindingFlags.Instance | BindingFlags.NonPublic, [typeof(long)])
        ?? throw new MissingMethodException(nameof(SlidingWindowRateLimiter), "ReplenishInternal(long)");

    private long _now = Stopwatch.GetTimestamp();

    public int Segments { get; private set; }

    public TimeSpan Elapsed => limiter.ReplenishmentPeriod * Segments;

    public void Slide()
    {
        _now += (long)Math.Ceiling(limiter.ReplenishmentPeriod.TotalSeconds * Stopwatch.Frequency) + 1;
        ReplenishAt.Invoke(limiter, [_now]);
        Segments++;
    }
}
