namespace Infrastructure.Tests;

/// <summary>Where the repository's infrastructure files are.</summary>
public static class Repository
{
    public static string Root { get; } = Path.GetFullPath(BicepCli.AssemblyMetadata("RepositoryRoot"));

    public static string InfraDirectory { get; } = Path.Combine(Root, "infra");

    /// <summary>Every .bicep file under infra/, relative to infra/ with forward slashes.</summary>
    public static IReadOnlyList<string> BicepFiles { get; } = InfraFiles("*.bicep");

    /// <summary>Every .bicepparam file under infra/, relative to infra/.</summary>
    public static IReadOnlyList<string> ParameterFiles { get; } = InfraFiles("*.bicepparam");

    private static string[] InfraFiles(string pattern) =>
        Directory.EnumerateFiles(InfraDirectory, pattern, SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(InfraDirectory, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToArray();
}
