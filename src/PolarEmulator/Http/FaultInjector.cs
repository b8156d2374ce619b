namespace PolarEmulator.Http;

/// <summary>What to do to one request.</summary>
internal enum Fault
{
    None,
    Drop,
    InternalServerError,
    ServiceUnavailable,
}

/// <summary>
/// Decides faults from a seeded sequence: the n-th request gets the same fault for the same seed, whatever the
/// rates, because every request draws the same three numbers.
/// </summary>
internal sealed class FaultInjector(FaultOptions options)
{
    private readonly Lock _lock = new();
    private readonly Random _random = new(options.Seed);

    public FaultOptions Options { get; } = options;

    public Fault Next()
    {
        double drop, error;
        bool unavailable;
        lock (_lock)
        {
            drop = _random.NextDouble();
            error = _random.NextDouble();
            unavailable = _random.Next(2) == 1;
        }

        if (drop < Options.DropRate)
        {
            return Fault.Drop;
        }

        if (error < Options.ErrorRate)
        {
            return unavailable ? Fault.ServiceUnavailable : Fault.InternalServerError;
        }

        return Fault.None;
    }
}
