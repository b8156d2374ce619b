namespace CreditGrants.Testing;

/// <summary>
/// Finds a file of the repository's docs/polar/ folder (Polar's OpenAPI subset and API notes), which
/// tests/Directory.Build.props copies into every test project's output as <c>polar/</c>.
/// </summary>
internal static class PolarContractFile
{
    /// <summary>The full path of <paramref name="fileName"/> in the test output's <c>polar/</c> folder.</summary>
    /// <exception cref="FileNotFoundException">The build did not copy it (docs/polar/ is missing from the clone).</exception>
    public static string Locate(string fileName)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "polar", fileName);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{path} is missing: the build copies it from docs/polar/{fileName}, which this clone should have.", path);
    }
}
