using System.Runtime.InteropServices;

namespace Infrastructure.Tests;

/// <summary>Whether this machine can run the Bicep CLI, and if not, why: the NuGet package holds the linux-x64 build only.</summary>
public static class BicepAvailability
{
    /// <summary>Why the Bicep tests are skipped here, or null when the Bicep CLI can run.</summary>
    public static string? SkipReason { get; } = Evaluate(
        Environment.GetEnvironmentVariable("BICEP_PATH"), OperatingSystem.IsLinux(), RuntimeInformation.OSArchitecture,
        RuntimeInformation.RuntimeIdentifier);

    /// <summary>The rule itself, for a test: a BICEP_PATH or linux-x64 runs the tests, anything else skips them.</summary>
    public static string? Evaluate(string? bicepPath, bool isLinux, Architecture architecture, string runtimeIdentifier) =>
        !string.IsNullOrEmpty(bicepPath) || (isLinux && architecture == Architecture.X64)
            ? null
            : $"The Bicep CLI restored from NuGet (Azure.Bicep.CommandLine.linux-x64) runs on linux-x64 only, not on {runtimeIdentifier}; "
              + "set BICEP_PATH to a Bicep CLI for this machine to run these tests.";
}

/// <summary>A fact that needs the Bicep CLI: skipped, with the reason, where it cannot run.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class BicepFactAttribute : FactAttribute
{
    public BicepFactAttribute()
    {
        if (BicepAvailability.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that needs the Bicep CLI: skipped, with the reason, where it cannot run.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class BicepTheoryAttribute : TheoryAttribute
{
    public BicepTheoryAttribute()
    {
        if (BicepAvailability.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
