namespace Infrastructure.Tests;

/// <summary>The Bicep CLI accepts every file with no warning and no error.</summary>
[Collection(SharedBicepRun.Name)]
public sealed class BicepCompilationTests(InfrastructureFixture infra)
{
    public static TheoryData<string> BicepFiles => new(Repository.BicepFiles);

    public static TheoryData<string> ParameterFiles => new(Repository.ParameterFiles);

    [Fact]
    public void Infra_has_main_template_modules_and_both_environments()
    {
        Assert.Contains("main.bicep", Repository.BicepFiles);
        Assert.Contains(Repository.BicepFiles, f => f.StartsWith("modules/", StringComparison.Ordinal));
        Assert.Contains("main.sandbox.bicepparam", Repository.ParameterFiles);
        Assert.Contains("main.production.bicepparam", Repository.ParameterFiles);
        Assert.True(File.Exists(Path.Combine(Repository.InfraDirectory, "bicepconfig.json")));
    }

    [BicepFact]
    public void Lint_of_bicep_files_reports_nothing() => AssertClean(infra.LintBicepFiles);

    [BicepFact]
    public void Lint_of_parameter_files_reports_nothing() => AssertClean(infra.LintParameterFiles);

    [BicepFact]
    public void Main_parameter_file_lints_without_AZURE_ENV_NAME() => AssertClean(infra.LintMainParametersWithoutEnvironment);

    [BicepTheory]
    [MemberData(nameof(BicepFiles))]
    public void Bicep_file_has_no_lint_diagnostics(string file) => AssertNoDiagnosticsFor(file, infra.LintBicepFiles);

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Parameter_file_has_no_lint_diagnostics(string file) => AssertNoDiagnosticsFor(file, infra.LintParameterFiles);

    [BicepFact]
    public void Main_template_builds_to_arm_json_without_diagnostics()
    {
        AssertClean(infra.BuildMain, expectOutput: true);
        Assert.Contains("deploymentTemplate.json", DeploymentSnapshot.Text(infra.MainTemplate["$schema"]), StringComparison.Ordinal);
        Assert.NotEmpty(infra.MainTemplate["resources"]!.AsObject());
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Parameter_file_builds_without_diagnostics(string file)
    {
        var run = infra.BuildParameters[file];
        AssertClean(run, expectOutput: true);
        Assert.Contains("polarServer", run.StandardOutput, StringComparison.Ordinal);
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Snapshot_of_parameter_file_has_no_diagnostics(string file)
    {
        var run = infra.SnapshotRuns[file];
        AssertClean(run);
        Assert.Empty(infra.Snapshot(file).Diagnostics);
    }

    [Fact]
    public void Linter_rules_that_matter_are_errors_and_the_registry_rule_is_off()
    {
        var config = System.Text.Json.Nodes.JsonNode.Parse(
            File.ReadAllText(Path.Combine(Repository.InfraDirectory, "bicepconfig.json")))!;
        var rules = config["analyzers"]!["core"]!["rules"]!.AsObject();
        string[] required =
        [
            "no-unused-params", "no-unused-vars", "secure-secrets-in-params", "outputs-should-not-contain-secrets",
            "use-recent-api-versions", "no-hardcoded-env-urls", "prefer-interpolation", "secure-parameter-default",
            "protect-commandtoexecute-secrets", "use-secure-value-for-secure-inputs", "no-hardcoded-location",
            "explicit-values-for-loc-params",
        ];
        var notErrors = required.Where(r => DeploymentSnapshot.Text(rules[r]?["level"]) != "error").ToArray();
        Assert.True(notErrors.Length == 0, $"Not raised to error: {string.Join(", ", notErrors)}");

        // It asks the public module registry for versions; there is no registry here and we use none.
        Assert.Equal("off", DeploymentSnapshot.Text(rules["use-recent-module-versions"]?["level"]));
    }

    private static void AssertClean(BicepRun run, bool expectOutput = false)
    {
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.True(run.StandardError.Trim().Length == 0, run.Describe());
        if (expectOutput)
        {
            Assert.True(run.StandardOutput.Trim().Length > 0, run.Describe());
        }
        else
        {
            Assert.True(run.StandardOutput.Trim().Length == 0, run.Describe());
        }
    }

    private static void AssertNoDiagnosticsFor(string file, BicepRun run)
    {
        var path = Path.Combine(Repository.InfraDirectory, file);
        var lines = (run.StandardError + Environment.NewLine + run.StandardOutput)
            .Split('\n')
            .Where(line => line.StartsWith(path + "(", StringComparison.Ordinal) || line.Contains(" " + file + "(", StringComparison.Ordinal))
            .ToArray();
        Assert.True(lines.Length == 0, $"{file}:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}{Environment.NewLine}{run.Describe()}");
    }
}
