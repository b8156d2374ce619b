using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace FunctionsHost.Tests.Host;

/// <summary>The app settings a worker is started with, and how the host resolves <c>%Name%</c> binding expressions from them.</summary>
internal static partial class AppSettings
{
    /// <summary>The repository's root, as the build saw it.</summary>
    public static string RepositoryRoot { get; } = Path.GetFullPath(typeof(AppSettings).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!);

    /// <summary>The published app (built by this project's PublishFunctionsApp target).</summary>
    public static string AppDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "app");

    /// <summary>The <c>Values</c> of the repository's local.settings.sample.json, as a new user copies them.</summary>
    public static Dictionary<string, string> Sample()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot, "local.settings.sample.json")));
        return document.RootElement.GetProperty("Values").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Resolves every <c>%Name%</c> in <paramref name="value"/> as the host does: from the app settings, where
    /// <c>Section:Key</c> is the setting <c>Section__Key</c> (configuration keys are case-insensitive). An unresolved name
    /// adds the host's error to <paramref name="errors"/> and stays as it was.
    /// </summary>
    public static string ResolveExpression(string value, IReadOnlyDictionary<string, string> settings, List<string> errors) =>
        Expression().Replace(value, m =>
        {
            var name = m.Groups[1].Value;
            var found = settings.FirstOrDefault(s => string.Equals(s.Key.Replace("__", ":", StringComparison.Ordinal), name.Replace("__", ":", StringComparison.Ordinal),
                StringComparison.OrdinalIgnoreCase));
            if (found.Key is null)
            {
                errors.Add($"'{m.Value}' does not resolve to a value.");
                return m.Value;
            }

            return found.Value;
        });

    /// <summary>The names of every <c>%Name%</c> expression in a text.</summary>
    public static IEnumerable<string> ExpressionNames(string value) => Expression().Matches(value).Select(m => m.Groups[1].Value);

    [GeneratedRegex("%([^%]+)%")]
    private static partial Regex Expression();
}
