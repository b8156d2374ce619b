using System.IO.Compression;
using System.Xml.Linq;

namespace CreditGrants.Cli.Tests;

/// <summary>
/// <c>./credits</c> runs the built program and builds only when a source changed; the CLI packs as a .NET tool named
/// <c>credits</c>. The wrapper is tested on a copy of itself in a folder shaped like the clone, with a stand-in for
/// <c>dotnet</c> that records what it was asked to do, and file times set explicitly.
/// </summary>
public sealed class CreditsWrapperTests : IDisposable
{
    private static readonly DateTime Built = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    private readonly string _root = Directory.CreateTempSubdirectory("credits-wrapper-").FullName;

    public CreditsWrapperTests()
    {
        File.Copy(Path.Combine(Repository.Root, "credits"), Path.Combine(_root, "credits"));
        foreach (var source in new[]
                 {
                     "src/CreditGrants.Cli/Program.cs", "src/CreditGrants/Grants/GrantId.cs", "src/CreditGrants.Polar/PolarGateway.cs",
                     "src/CreditGrants.Storage/StorageAccount.cs", "src/PolarEmulator/Program.cs", "Directory.Build.props",
                     "Directory.Packages.props", "global.json", "src/CreditFunctions/Program.cs",
                 })
        {
            Write(source, Built.AddHours(-1));
        }

        // The stand-in for dotnet: logs each call; a build writes the program.
        Write("fake-dotnet", Built, """
            #!/usr/bin/env bash
            echo "$*" >> "$(dirname "$0")/dotnet.log"
            if [ "$1" = build ]; then mkdir -p "$2/bin/Release/net10.0" && touch "$2/bin/Release/net10.0/credits.dll"; fi
            """);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(_root, "fake-dotnet"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Program => Path.Combine(_root, "src", "CreditGrants.Cli", "bin", "Release", "net10.0", "credits.dll");

    private void Write(string relative, DateTime time, string content = "")
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content.ReplaceLineEndings("\n"));
        File.SetLastWriteTimeUtc(path, time);
    }

    private async Task<(CliRun Run, string[] Calls)> CreditsAsync(params string[] args)
    {
        var run = await Repository.RunProcessAsync("bash", [Path.Combine(_root, "credits"), .. args], _root,
            new Dictionary<string, string> { ["CREDITS_DOTNET"] = Path.Combine(_root, "fake-dotnet") });
        var log = Path.Combine(_root, "dotnet.log");
        return (run, File.Exists(log) ? File.ReadAllLines(log) : []);
    }

    [BashFact]
    public async Task An_up_to_date_build_is_run_without_building()
    {
        Write("src/CreditGrants.Cli/bin/Release/net10.0/credits.dll", Built);

        var (run, calls) = await CreditsAsync("balance", "--customer", "user-42");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal([$"{Program} balance --customer user-42"], calls);
        Assert.Empty(run.Error);
    }

    [BashFact]
    public async Task A_changed_source_is_built_first_saying_so()
    {
        Write("src/CreditGrants.Cli/bin/Release/net10.0/credits.dll", Built);
        Write("src/CreditGrants/Grants/GrantId.cs", Built.AddMinutes(1));

        var (run, calls) = await CreditsAsync("--help");

        Assert.Equal(2, calls.Length);
        Assert.StartsWith($"build {Path.Combine(_root, "src", "CreditGrants.Cli")} -c Release", calls[0], StringComparison.Ordinal);
        Assert.Equal($"{Program} --help", calls[1]);
        Assert.Contains("building the CLI", run.Error, StringComparison.Ordinal);
    }

    [BashFact]
    public async Task A_clone_never_built_is_built_first()
    {
        var (_, calls) = await CreditsAsync("--help");

        Assert.StartsWith("build ", calls[0], StringComparison.Ordinal);
        Assert.Equal($"{Program} --help", calls[^1]);
    }

    [BashFact]
    public async Task Build_outputs_and_projects_the_cli_does_not_use_do_not_count_as_changes()
    {
        Write("src/CreditGrants.Cli/bin/Release/net10.0/credits.dll", Built);
        Write("src/CreditGrants/obj/project.assets.json", Built.AddMinutes(1));
        Write("src/CreditFunctions/Program.cs", Built.AddMinutes(1));

        var (_, calls) = await CreditsAsync("--help");

        Assert.Equal([$"{Program} --help"], calls);
    }

    [BashFact]
    public async Task A_changed_build_setting_is_built_first()
    {
        Write("src/CreditGrants.Cli/bin/Release/net10.0/credits.dll", Built);
        Write("Directory.Packages.props", Built.AddMinutes(1));

        var (_, calls) = await CreditsAsync("--help");

        Assert.StartsWith("build ", calls[0], StringComparison.Ordinal);
    }
}

/// <summary>The CLI packs as a .NET tool whose command is <c>credits</c>.</summary>
public sealed class ToolPackageTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("credits-pack-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    [Fact]
    public async Task The_cli_packs_as_a_dotnet_tool_named_credits()
    {
        // The tests' own build of the CLI is packed as it is (--no-build), so this costs no compilation.
        var pack = await Repository.RunProcessAsync("dotnet",
            ["pack", Repository.CliProject, "--no-build", "-c", Repository.Configuration, "-nologo", "-o", _output, "-p:Version=0.0.0-test"]);

        Assert.True(pack.ExitCode == 0, pack.Out + pack.Error);
        using var package = ZipFile.OpenRead(Path.Combine(_output, "CreditGrants.Cli.0.0.0-test.nupkg"));
        var settings = package.Entries.Single(e => e.FullName.EndsWith("/DotnetToolSettings.xml", StringComparison.Ordinal));
        using var stream = settings.Open();
        var command = XDocument.Load(stream).Descendants("Command").Single();
        Assert.Equal("credits", command.Attribute("Name")?.Value);
        Assert.Equal("credits.dll", command.Attribute("EntryPoint")?.Value);
        Assert.Contains(package.Entries, e => e.FullName.EndsWith("/PolarEmulator.dll", StringComparison.Ordinal));
    }
}
