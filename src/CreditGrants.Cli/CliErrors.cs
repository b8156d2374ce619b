using Azure;
using Azure.Identity;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Polar.Meters;

namespace CreditGrants.Cli;

/// <summary>
/// Turns a failure into what <c>credits</c> prints without <c>--verbose</c>: one line that says what went wrong and what
/// to do, and the exit code. Nothing in it repeats a token or a connection string.
/// </summary>
public static class CliErrors
{
    /// <summary>The exit code and the one-line message (without the <c>credits: </c> prefix) for a failure.</summary>
    public static (int Code, string Message) Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            AggregateException aggregate when aggregate.InnerExceptions.Count > 0 => Describe(aggregate.InnerExceptions[^1]),
            CliInputException => (ExitCodes.InvalidInput, exception.Message),
            StorageUnavailableException => (ExitCodes.Unavailable, exception.Message),
            StorageRefusedException => (ExitCodes.Failed, exception.Message),
            GrantException or MeterNotGrantableException => (ExitCodes.RefusedByPolar, exception.Message),
            // A revocation refused as asked (another was made, more than is unspent, not listed yet): its message says what to do.
            RevokeException => (ExitCodes.RefusedByPolar, exception.Message),
            PolarException { Kind: PolarErrorKind.Unavailable, Status: null } =>
                (ExitCodes.Unavailable, $"{Sentence(exception.Message)} Check the server (--polar-server or {PolarConnection.ServerVariable}) "
                    + "and your network, then run again."),
            PolarException { Kind: PolarErrorKind.Unavailable or PolarErrorKind.RateLimited } =>
                (ExitCodes.Unavailable, $"{Sentence(exception.Message)} Run again later."),
            PolarException => (ExitCodes.RefusedByPolar, exception.Message),
            AuthenticationFailedException =>
                (ExitCodes.Failed, "Could not sign in to Azure Storage with your Azure identity: run 'az login' (or pass a connection string with --storage)."),
            RequestFailedException request => (ExitCodes.Failed, Storage(request)),
            _ => (ExitCodes.Failed, $"unexpected error: {Sentence(FirstLine(exception.Message))} Run again with --verbose for the details."),
        };
    }

    /// <summary>What an answer of Azure Storage means for the operator; Azure's own message lists headers, so it is not repeated.</summary>
    public static string Storage(RequestFailedException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var answer = $"Azure Storage answered {exception.Status} {exception.ErrorCode}".TrimEnd();
        return exception switch
        {
            { Status: 0 } => $"Azure Storage could not be reached ({FirstLine(exception.InnerException?.Message ?? exception.Message)}): "
                             + "check --storage and your network, or start Azurite (npx azurite --skipApiVersionCheck).",
            { Status: 400, ErrorCode: "InvalidHeaderValue" } =>
                $"{answer}: Azurite refuses this client's API version unless it is started with --skipApiVersionCheck (npx azurite --skipApiVersionCheck).",
            { Status: 401 or 403 } =>
                $"{answer}: your identity may not use this account; it needs Storage Blob, Queue and Table Data Contributor on it (then run 'az login' again).",
            _ => $"{answer}: check the account and your access to it.",
        };
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] + "…" : line;
    }

    private static string Sentence(string message) => message.EndsWith('.') ? message : message + ".";
}

/// <summary>Azure Storage does not answer at all (nothing listening, no such host); the message says what to start or check.</summary>
public sealed class StorageUnavailableException : Exception
{
    public StorageUnavailableException(string message) : base(message) { }

    public StorageUnavailableException() { }

    public StorageUnavailableException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>Azure Storage answered with an error; the message gives its status and code and what to do, never the connection string.</summary>
public sealed class StorageRefusedException : Exception
{
    public StorageRefusedException(string message) : base(message) { }

    public StorageRefusedException() { }

    public StorageRefusedException(string message, Exception innerException) : base(message, innerException) { }
}
