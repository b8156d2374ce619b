namespace CreditGrants.Cli.Tests;

/// <summary>The clone's scripts answer --help and refuse arguments they do not know, before they start anything.</summary>
public sealed class ScriptTests
{
    private static Task<CliRun> BashAsync(string script, params string[] args) =>
        Repository.RunProcessAsync("bash", [Path.Combine(Repository.Root, "scripts", script), .. args]);

    [BashFact]
    public async Task Test_sh_help_shows_how_to_run_one_project_or_a_filter()
    {
        var run = await BashAsync("test.sh", "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("Usage: bash scripts/test.sh [--project NAME] [--filter EXPR]", run.Out, StringComparison.Ordinal);
        Assert.Contains("N passed, N failed[, N skipped]", run.Out, StringComparison.Ordinal);
    }

    [BashFact]
    public async Task Test_sh_refuses_an_unknown_project_listing_the_projects_with_exit_2()
    {
        var run = await BashAsync("test.sh", "--project", "Nope");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("no test project 'Nope'; the projects are:", run.Error, StringComparison.Ordinal);
        Assert.Contains("CreditGrants.Cli.Tests", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("== Azurite", run.Out, StringComparison.Ordinal);
    }

    [BashFact]
    public async Task Test_sh_refuses_an_unknown_argument_with_exit_2()
    {
        var run = await BashAsync("test.sh", "--fast");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("unknown argument '--fast'", run.Error, StringComparison.Ordinal);
    }

    [BashFact]
    public async Task Install_cli_sh_help_says_what_it_installs()
    {
        var run = await BashAsync("install-cli.sh", "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("as a .NET tool", run.Out, StringComparison.Ordinal);
        Assert.Contains("--tool-path DIR", run.Out, StringComparison.Ordinal);
    }
}
