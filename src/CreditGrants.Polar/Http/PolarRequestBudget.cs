using System.Threading.RateLimiting;

namespace CreditGrants.Polar.Http;

/// <summary>
/// The process's share of Polar's per-organization request limit: at most N requests in any sliding minute, so no
/// fixed one-minute window of Polar's can see more. Every attempt, retries included, takes a permit; callers wait
/// in line rather than fail.
/// </summary>
public sealed class PolarRequestBudget : IDisposable
{
    public PolarRequestBudget(int requestsPerMinute, bool autoReplenish = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requestsPerMinute, 1);
        RequestsPerMinute = requestsPerMinute;
        Limiter = new SlidingWindowRateLimiter(new SlidingWindowRateLimiterOptions
        {
            PermitLimit = requestsPerMinute,
            Window = TimeSpan.FromMinutes(1),
            SegmentsPerWindow = 12,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = autoReplenish,
        });
    }

    public int RequestsPerMinute { get; }

    public SlidingWindowRateLimiter Limiter { get; }

    public void Dispose() => Limiter.Dispose();
}
