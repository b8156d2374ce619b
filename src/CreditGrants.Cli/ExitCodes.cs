namespace CreditGrants.Cli;

/// <summary>What <c>credits</c> exits with, so scripts can tell a bad input from a refusal from an outage (<see cref="CliErrors"/> maps failures to them).</summary>
public static class ExitCodes
{
    /// <summary>Done: granted, duplicate, or the command's answer.</summary>
    public const int Ok = 0;

    /// <summary>Anything else: Azure Storage refused, a bulk job failed, an unexpected error.</summary>
    public const int Failed = 1;

    /// <summary>The command line, a file or a folder cannot be used as given; nothing was sent.</summary>
    public const int InvalidInput = 2;

    /// <summary>Polar refused: token, scope, validation, conflict, unknown customer or meter, a meter that cannot take grants.</summary>
    public const int RefusedByPolar = 3;

    /// <summary>Polar or Azure Storage could not be reached, or Polar kept failing or rate-limiting, after retries.</summary>
    public const int Unavailable = 4;

    /// <summary>A bulk run or job ended with rejected or failed rows; the others were granted.</summary>
    public const int RowsRejected = 5;

    /// <summary>Stopped by Ctrl+C (SIGINT), as shells count it: 128 + 2.</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGTERM, as shells count it: 128 + 15.</summary>
    public const int Terminated = 143;
}

/// <summary>The command line or the environment is not usable as given; the message says what to change.</summary>
public sealed class CliInputException : Exception
{
    public CliInputException(string message) : base(message) { }

    public CliInputException() { }

    public CliInputException(string message, Exception innerException) : base(message, innerException) { }
}
