using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Meters;

namespace CreditGrants.Cli;

/// <summary>What <c>credits</c> exits with, so scripts can tell a bad input from a refusal from an outage.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int InvalidInput = 2;
    public const int RefusedByPolar = 3;
    public const int PolarUnavailable = 4;
    public const int RowsRejected = 5;

    public static int For(Exception exception) => exception switch
    {
        CliInputException => InvalidInput,
        GrantException or MeterNotGrantableException => RefusedByPolar,
        PolarException { Kind: PolarErrorKind.Unavailable or PolarErrorKind.RateLimited } => PolarUnavailable,
        PolarException => RefusedByPolar,
        _ => Failed,
    };
}

/// <summary>The command line or the environment is not usable as given; the message says what to change.</summary>
public sealed class CliInputException : Exception
{
    public CliInputException(string message) : base(message) { }

    public CliInputException() { }

    public CliInputException(string message, Exception innerException) : base(message, innerException) { }
}
