using System.Diagnostics;
using System.Reflection;

namespace CreditGrants.Cli.Tests;

/// <summary>The clone these tests were built from, and a way to run its scripts and tools.</summary>
internal static class Repository
{
    public static string Root { get; } = Metadata("RepositoryRoot");

    public static string Configuration { get; } = Metadata("Configuration");

    public static string CliProject => Path.Combine(Root, "src", "CreditGrants.Cli", "CreditGrants.Cli.csproj");

    private static string Metadata(string key) =>
        typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    /// <summary>Runs a program to its end and returns its exit code and output.</summary>
    public static async Task<CliRun> RunProcessAsync(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Root,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return new CliRun(process.ExitCode, await output, await error);
    }
}

/// <summary>A fact that runs a bash script: skipped on Windows, where the scripts of this clone do not run.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class BashFactAttribute : FactAttribute
{
    public BashFactAttribute()
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "The scripts of this clone (./credits, scripts/*.sh) are bash; they are not run on Windows.";
        }
    }
}

/// <summary>A theory that runs a bash script or sends Unix signals: skipped on Windows.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class BashTheoryAttribute : TheoryAttribute
{
    public BashTheoryAttribute()
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "Unix signals and the bash scripts of this clone are not used on Windows.";
        }
    }
}
