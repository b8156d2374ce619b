using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Infrastructure.Tests;

/// <summary>One run of the Bicep CLI: its arguments, exit code and both output streams.</summary>
public sealed record BicepRun(string Arguments, int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>What the CLI printed, for failure messages.</summary>
    public string Describe() =>
        $"bicep {Arguments}{Environment.NewLine}exit code {ExitCode}{Environment.NewLine}"
        + $"--- stderr ---{Environment.NewLine}{StandardError}{Environment.NewLine}"
        + $"--- stdout ---{Environment.NewLine}{Truncate(StandardOutput)}";

    private static string Truncate(string text) => text.Length <= 4000 ? text : text[..4000] + "…";
}

/// <summary>Runs the Bicep CLI that the Azure.Bicep.CommandLine package restored for this project.</summary>
public static class BicepCli
{
    private static readonly Lazy<string> ExecutablePath = new(Locate);

    /// <summary>Variables the parameter files read; each run starts without them so the developer's shell cannot leak in.</summary>
    private static readonly string[] ParameterVariables = ["AZURE_ENV_NAME", "AZURE_LOCATION", "POLAR_SERVER", "POLAR_ACCESS_TOKEN"];

    public static string Path => ExecutablePath.Value;

    public static async Task<BicepRun> RunAsync(
        string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(Path)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var name in ParameterVariables)
        {
            startInfo.Environment.Remove(name);
        }

        foreach (var (name, value) in environment)
        {
            startInfo.Environment[name] = value;
        }

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start the Bicep CLI at {Path}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish in 2 minutes.");
        }

        return new BicepRun(string.Join(' ', arguments), process.ExitCode, await stdout, await stderr);
    }

    private static string Locate()
    {
        // BICEP_PATH lets a machine that is not linux-x64 point at its own Bicep CLI.
        var path = Environment.GetEnvironmentVariable("BICEP_PATH");
        if (string.IsNullOrEmpty(path))
        {
            path = AssemblyMetadata("BicepPath");
            if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != Architecture.X64)
            {
                throw new PlatformNotSupportedException(
                    $"The restored Bicep CLI is the linux-x64 build; on {RuntimeInformation.RuntimeIdentifier} set BICEP_PATH to a Bicep CLI.");
            }
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"No Bicep CLI at {path}. Restore this project (dotnet restore tests/Infrastructure.Tests) or set BICEP_PATH.", path);
        }

        return OperatingSystem.IsWindows() ? path : EnsureExecutable(path);
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static string EnsureExecutable(string path)
    {
        const UnixFileMode execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        var mode = File.GetUnixFileMode(path);
        if ((mode & UnixFileMode.UserExecute) != 0)
        {
            return path;
        }

        // NuGet does not keep file modes on every platform; set the bit, or run a copy when the cache is read-only.
        try
        {
            File.SetUnixFileMode(path, mode | execute);
            return path;
        }
        catch (UnauthorizedAccessException)
        {
            var copy = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"bicep-{Guid.NewGuid():N}", "bicep");
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(copy)!);
            File.Copy(path, copy);
            File.SetUnixFileMode(copy, File.GetUnixFileMode(copy) | execute);
            return copy;
        }
    }

    internal static string AssemblyMetadata(string key) =>
        typeof(BicepCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"The test assembly has no '{key}' metadata; see Infrastructure.Tests.csproj.");
}
