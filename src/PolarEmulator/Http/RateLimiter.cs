namespace PolarEmulator.Http;

/// <summary>Polar's request budget: a count per fixed one-minute window of the clock, shared by every request.</summary>
internal sealed class RateLimiter(int? requestsPerMinute, TimeProvider time)
{
    public const int WindowSeconds = 60;

    private readonly Lock _lock = new();
    private long _window = long.MinValue;
    private int _count;

    /// <summary>Counts the request and says whether it fits in the current window's budget.</summary>
    public bool TryAcquire()
    {
        if (requestsPerMinute is not { } limit)
        {
            return true;
        }

        var window = time.GetUtcNow().ToUnixTimeSeconds() / WindowSeconds;
        lock (_lock)
        {
            if (window != _window)
            {
                _window = window;
                _count = 0;
            }

            _count++;
            return _count <= limit;
        }
    }
}
