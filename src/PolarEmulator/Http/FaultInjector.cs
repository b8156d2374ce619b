namespace PolarEmulator.Http;

/// <summary>What to do to one request.</summary>
internal enum Fault
{
    None,
    Drop,
    InternalServerError,
    ServiceUnavailable,
    RateLimited,
    LostAnswer,
}

/// <summary>
/// Decides faults from a seeded sequence: the n-th request gets the same fault for the same seed, whatever the
/// rates, because every request draws the same three numbers.
/// </summary>
internal sealed class FaultInjector(FaultOptions options)
{
    private readonly Lock _lock = new();
    private readonly Random _random = new(options.Seed);
    // The faults added later draw from a sequence of their own, so the first ones stay as they were for a seed.
    private readonly Random _more = new(unchecked(options.Seed * 31 + 7));

    public FaultOptions Options { get; } = options;

    /// <summary>Whether this request gets a latency spike.</summary>
    public bool Spike()
    {
        lock (_lock)
        {
            return _more.NextDouble() < Options.SpikeRate;
        }
    }

    public Fault Next()
    {
        double drop, error, limited, lost;
        bool unavailable;
        lock (_lock)
        {
            drop = _random.NextDouble();
            error = _random.NextDouble();
            unavailable = _random.Next(2) == 1;
            limited = _more.NextDouble();
            lost = _more.NextDouble();
        }

        if (drop < Options.DropRate)
        {
            return Fault.Drop;
        }

        if (error < Options.ErrorRate)
        {
            return unavailable ? Fault.ServiceUnavailable : Fault.InternalServerError;
        }

        if (limited < Options.RateLimitRate)
        {
            return Fault.RateLimited;
        }

        return lost < Options.LostAnswerRate ? Fault.LostAnswer : Fault.None;
    }
}
