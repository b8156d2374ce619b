using System.Text.RegularExpressions;

namespace Infrastructure.Tests;

/// <summary>docs/configuration.md lists every setting the app's code reads, found by reflection (options keys, trigger placeholders, connections).</summary>
public sealed partial class ConfigurationPageTests
{
    private static readonly string Page = File.ReadAllText(Path.Combine(Repository.Root, "docs", "configuration.md"));

    /// <summary>The settings the page names in code spans, spelled with ':' as configuration paths are.</summary>
    private static HashSet<string> Documented() =>
        CodeSpan().Matches(Page).Select(m => m.Groups[1].Value.Replace("__", ":", StringComparison.Ordinal)).ToHashSet(StringComparer.OrdinalIgnoreCase);

    [Fact]
    public void Every_setting_the_code_reads_is_on_the_configuration_page()
    {
        var documented = Documented();
        var read = AppConfiguration.OptionsKeys().Select(k => k.Key)
            .Concat(AppConfiguration.Placeholders().Select(p => p.Name))
            .Concat(AppConfiguration.Connections().Select(c => c.Name))
            .Concat(AppConfiguration.CollectionKeys().Select(k => k.Key))
            .Select(k => k.Replace("__", ":", StringComparison.Ordinal))
            .Distinct(StringComparer.OrdinalIgnoreCase);

        var missing = read.Where(k => !documented.Contains(k)).Order(StringComparer.Ordinal).ToArray();

        Assert.True(missing.Length == 0, $"docs/configuration.md does not list: {string.Join(", ", missing)}.");
    }

    [GeneratedRegex("`([A-Za-z][A-Za-z0-9_]*(?::[A-Za-z0-9_.]+)*)`")]
    private static partial Regex CodeSpan();
}
