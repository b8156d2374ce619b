using System.Diagnostics;

namespace FunctionsHost.Tests.Host;

/// <summary>What a Node.js command printed and how it ended.</summary>
internal sealed record NodeResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n{Output}\n{Error}";
}

/// <summary>
/// Runs the npm tools the repository's package.json installs (scripts/test.sh runs <c>npm ci</c>): each by its own entry
/// script under node_modules, with Node.js, so nothing is fetched at test time.
/// </summary>
internal static class NodeTools
{
    public static string Modules => Path.Combine(AppSettings.RepositoryRoot, "node_modules");

    /// <summary>Runs <c>node script args</c> in <paramref name="workingDirectory"/>; fails clearly when the tools are not installed.</summary>
    public static async Task<NodeResult> RunAsync(string script, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var entry = Path.IsPathRooted(script) ? script : Path.Combine(Modules, script);
        if (!File.Exists(entry))
        {
            throw new InvalidOperationException($"{entry} is missing: run `npm ci` at the repository root (scripts/test.sh does).");
        }

        var start = new ProcessStartInfo("node") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(entry);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["NO_COLOR"] = "1";
        start.Environment["REDOCLY_TELEMETRY"] = "off";
        start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node {script} did not end within {timeout}: {await error}");
        }

        return new NodeResult(process.ExitCode, await output, await error);
    }
}
