namespace CreditGrants.Cli;

/// <summary>
/// The folder where the embedded Polar emulator keeps its state: <c>--data-dir</c>, else env <c>CREDITS_DATA_DIR</c>,
/// else one per user (<c>$XDG_DATA_HOME/credits</c>, <c>~/.local/share/credits</c>, <c>%LOCALAPPDATA%\credits</c>),
/// so that every folder a person works in sees the same customers and balances.
/// </summary>
public static class DataFolder
{
    /// <summary>The environment variable that names the data folder when <c>--data-dir</c> is not given.</summary>
    public const string Variable = "CREDITS_DATA_DIR";

    /// <summary>The lock file that makes runs on one data folder take turns.</summary>
    public const string LockFile = "credits.lock";

    /// <summary>The full path of the data folder the options and the environment choose; the folder is not created.</summary>
    public static string Resolve(string? option, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var chosen = NonBlank(option) ?? NonBlank(environment(Variable));
        if (chosen is not null)
        {
            return Full(chosen, option is not null ? "--data-dir" : Variable);
        }

        if (NonBlank(environment("XDG_DATA_HOME")) is { } xdg && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "credits");
        }

        var perUser = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        return perUser.Length > 0
            ? Path.Combine(perUser, "credits")
            : throw new CliInputException($"No folder for the embedded emulator's state: this user has no home folder; pass --data-dir <dir> or set {Variable}.");
    }

    /// <summary>Creates the folder when missing; a path that cannot be a folder is invalid input, named with its option.</summary>
    public static void Create(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw Unusable(path, ex);
        }
    }

    /// <summary>The data folder cannot hold state: one sentence that names it and what to do.</summary>
    public static CliInputException Unusable(string path, Exception exception) =>
        new($"--data-dir '{path}' cannot be used: {Reason(exception)} Pass --data-dir <dir> with a folder you can write to.", exception);

    /// <summary>
    /// Takes the data folder for this run. A run that finds it taken by another <c>credits</c> says so on stderr once and waits
    /// for it; the lock goes with the process, so a run that crashed leaves nothing to clean up.
    /// </summary>
    public static async Task<IDisposable> LockAsync(string path, TextWriter error, TimeSpan pollInterval, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(error);
        var file = Path.Combine(path, LockFile);
        var said = false;
        while (true)
        {
            try
            {
                return new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException ex) when (IsTaken(ex))
            {
                if (!said)
                {
                    said = true;
                    await error.WriteLineAsync(
                        $"credits: another credits run is using {path}; waiting for it to finish (Ctrl+C to stop)…").ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw Unusable(path, ex);
            }

            await Task.Delay(pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    // A file held with FileShare.None elsewhere: ERROR_SHARING_VIOLATION on Windows; on Unix .NET holds it with flock and reports
    // EWOULDBLOCK as the HResult (11 on Linux, 35 on macOS).
    private static bool IsTaken(IOException exception) =>
        exception.HResult == unchecked((int)0x80070020) || exception.HResult == 11 || exception.HResult == 35;

    private static string Full(string path, string source)
    {
        try
        {
            return Path.GetFullPath(path);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new CliInputException($"{source} '{path}' is not a folder path.", ex);
        }
    }

    private static string Reason(Exception exception) => exception switch
    {
        UnauthorizedAccessException => "permission denied.",
        IOException when exception.Message.Contains("exists", StringComparison.OrdinalIgnoreCase) => "a file of that name is in the way.",
        _ => exception.Message.EndsWith('.') ? exception.Message : exception.Message + ".",
    };

    private static string? NonBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
