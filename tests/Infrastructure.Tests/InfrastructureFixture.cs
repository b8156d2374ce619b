using System.Text.Json.Nodes;

namespace Infrastructure.Tests;

/// <summary>
/// Runs the Bicep CLI once for all tests: lints every file, builds main.bicep and every
/// parameter file, and takes a deployment snapshot per parameter file. It works on a copy
/// of infra/ because <c>bicep snapshot</c> writes its result beside the parameter file.
/// </summary>
public sealed class InfrastructureFixture : IAsyncLifetime
{
    public const string SubscriptionId = "00000000-0000-0000-0000-00000000a001";
    public const string TenantId = "00000000-0000-0000-0000-00000000b002";
    public const string ResourceGroup = "rg-credits-tests";
    public const string Location = "westeurope";
    public const string EnvironmentName = "credits-tests";

    /// <summary>Given to the templates as the Polar token; it must never appear in what they produce.</summary>
    public const string AccessTokenSentinel = "polar_oat_SENTINEL_must_never_leak";

    /// <summary>Given to the templates as Polar's webhook secret; it must never appear in what they produce either.</summary>
    public const string WebhookSecretSentinel = "whsec_SENTINEL_must_never_leak";

    private readonly string copy = Path.Combine(Path.GetTempPath(), $"infra-tests-{Guid.NewGuid():N}");
    private JsonObject mainTemplate = [];

    public BicepRun LintBicepFiles { get; private set; } = null!;

    public BicepRun LintParameterFiles { get; private set; } = null!;

    /// <summary>Lint of main.bicepparam with no AZURE_ENV_NAME set, as outside azd.</summary>
    public BicepRun LintMainParametersWithoutEnvironment { get; private set; } = null!;

    public BicepRun BuildMain { get; private set; } = null!;

    /// <summary>ARM JSON of main.bicep; fails the test with the CLI's output when it did not build.</summary>
    public JsonObject MainTemplate
    {
        get
        {
            Assert.True(BuildMain.ExitCode == 0, BuildMain.Describe());
            return mainTemplate;
        }
    }

    public IReadOnlyDictionary<string, BicepRun> BuildParameters { get; private set; } = null!;

    public IReadOnlyDictionary<string, BicepRun> SnapshotRuns { get; private set; } = null!;

    public IReadOnlyDictionary<string, DeploymentSnapshot> Snapshots { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (BicepAvailability.SkipReason is not null)
        {
            // The tests that need the CLI are skipped with the reason; the others do not read the fixture's runs.
            return;
        }

        CopyDirectory(Repository.InfraDirectory, copy);

        // Snapshots judge what gets deployed; linter findings are the lint tests' to report,
        // so snapshots are taken with the linter off and a lint error fails one test, not all.
        await File.WriteAllTextAsync(NoLinterConfig, """{ "analyzers": { "core": { "enabled": false } } }""");
        var noToken = new Dictionary<string, string> { ["AZURE_ENV_NAME"] = EnvironmentName };
        var withToken = new Dictionary<string, string>(noToken) { ["POLAR_ACCESS_TOKEN"] = AccessTokenSentinel, ["POLAR_WEBHOOK_SECRET"] = WebhookSecretSentinel };

        var lintBicep = BicepCli.RunAsync(copy, noToken, "lint", "--pattern", "**/*.bicep");
        var lintParams = BicepCli.RunAsync(copy, noToken, "lint", "--pattern", "**/*.bicepparam");
        var lintMainParams = BicepCli.RunAsync(copy, new Dictionary<string, string>(), "lint", "main.bicepparam");
        var build = BicepCli.RunAsync(copy, noToken, "build", "main.bicep", "--stdout");
        var buildParams = Repository.ParameterFiles.ToDictionary(
            f => f, f => BicepCli.RunAsync(copy, noToken, "build-params", f, "--stdout"));
        var snapshots = Repository.ParameterFiles.ToDictionary(
            f => f,
            f => BicepCli.RunAsync(
                copy, withToken, "snapshot", f, "--mode", "overwrite", "--config", NoLinterConfig,
                "--subscription-id", SubscriptionId, "--tenant-id", TenantId,
                "--resource-group", ResourceGroup, "--location", Location));

        await Task.WhenAll([lintBicep, lintParams, lintMainParams, build, .. buildParams.Values, .. snapshots.Values]);

        LintBicepFiles = InRepository(await lintBicep);
        LintParameterFiles = InRepository(await lintParams);
        LintMainParametersWithoutEnvironment = InRepository(await lintMainParams);
        BuildMain = InRepository(await build);
        mainTemplate = BuildMain.ExitCode == 0 ? JsonNode.Parse(BuildMain.StandardOutput)!.AsObject() : [];
        BuildParameters = buildParams.ToDictionary(p => p.Key, p => InRepository(p.Value.Result));
        SnapshotRuns = snapshots.ToDictionary(p => p.Key, p => InRepository(p.Value.Result));
        Snapshots = SnapshotRuns
            .Where(p => p.Value.ExitCode == 0)
            .ToDictionary(p => p.Key, p => new DeploymentSnapshot(p.Key, File.ReadAllText(SnapshotPath(p.Key))));
    }

    public Task DisposeAsync()
    {
        if (Directory.Exists(copy))
        {
            Directory.Delete(copy, recursive: true);
        }

        File.Delete(NoLinterConfig);
        return Task.CompletedTask;
    }

    /// <summary>The snapshot of one parameter file; fails the test with the CLI's output when there is none.</summary>
    public DeploymentSnapshot Snapshot(string parameterFile)
    {
        Assert.True(Snapshots.ContainsKey(parameterFile), SnapshotRuns[parameterFile].Describe());
        return Snapshots[parameterFile];
    }

    // Diagnostics name the files of the copy; point them at the repository's files instead.
    private BicepRun InRepository(BicepRun run) => run with
    {
        StandardError = run.StandardError.Replace(copy, Repository.InfraDirectory, StringComparison.Ordinal),
        StandardOutput = run.StandardOutput.Replace(copy, Repository.InfraDirectory, StringComparison.Ordinal),
    };

    private string NoLinterConfig => copy + ".no-linter.bicepconfig.json";

    private string SnapshotPath(string parameterFile) =>
        Path.Combine(copy, Path.ChangeExtension(parameterFile, ".snapshot.json"));

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}

/// <summary>The tests that share one run of the Bicep CLI.</summary>
[CollectionDefinition(Name)]
public sealed class SharedBicepRun : ICollectionFixture<InfrastructureFixture>
{
    public const string Name = "Infrastructure";
}
