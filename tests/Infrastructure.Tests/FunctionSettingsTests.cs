using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Infrastructure.Tests;

/// <summary>
/// Settings the Functions host and the app cannot start without are defined wherever the app runs: in
/// local.settings.sample.json (what a new user copies) and in the app settings infra/main.bicep deploys. The host resolves a
/// binding expression <c>%A:B%</c> from the app setting <c>A__B</c> only, never from the app's option defaults, and
/// refuses to index a function whose expression does not resolve.
/// </summary>
[Collection(SharedBicepRun.Name)]
public sealed partial class FunctionSettingsTests(InfrastructureFixture infra)
{
    public static TheoryData<string> ParameterFiles => new(Repository.ParameterFiles);

    [Fact]
    public void The_generated_metadata_has_binding_expressions_to_check()
    {
        // Guards the tests below against reading an empty or moved file.
        Assert.Contains("Bulk__QueueName", BindingExpressionSettings());
        Assert.Contains("CampaignSchedule", BindingExpressionSettings());
        Assert.Contains("ExpirySchedule", BindingExpressionSettings());
    }

    [Fact]
    public void Settings_without_a_usable_default_are_found()
    {
        // Guards the required-settings tests: the token has no default, the server has one.
        Assert.Contains("Polar__AccessToken", RequiredWithoutDefault());
        Assert.DoesNotContain("Polar__Server", RequiredWithoutDefault());
    }

    [Fact]
    public void Every_binding_expression_is_a_sample_setting()
    {
        var sample = SampleSettings();
        var missing = BindingExpressionSettings().Where(s => !sample.ContainsKey(s)).ToArray();
        Assert.True(missing.Length == 0, $"local.settings.sample.json has no {string.Join(", ", missing)}: the host cannot index the functions that use them.");
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Every_binding_expression_is_an_app_setting(string file)
    {
        var settings = infra.Snapshot(file).AppSettings;
        var missing = BindingExpressionSettings().Where(s => !settings.ContainsKey(s)).ToArray();
        Assert.True(missing.Length == 0, $"{file}: no app setting for {string.Join(", ", missing)}: the host cannot index the functions that use them.");
    }

    [Fact]
    public void Every_required_setting_without_a_default_is_a_sample_setting()
    {
        var sample = SampleSettings();
        var missing = RequiredWithoutDefault().Where(s => !sample.ContainsKey(s)).ToArray();
        Assert.True(missing.Length == 0, $"local.settings.sample.json lacks required settings: {string.Join(", ", missing)}.");
    }

    [BicepTheory]
    [MemberData(nameof(ParameterFiles))]
    public void Every_required_setting_without_a_default_is_an_app_setting(string file)
    {
        var settings = infra.Snapshot(file).AppSettings;
        var missing = RequiredWithoutDefault().Where(s => !settings.ContainsKey(s)).ToArray();
        Assert.True(missing.Length == 0, $"{file}: no app setting for required {string.Join(", ", missing)}.");
    }

    [Fact]
    public void The_sample_defines_the_storage_connection_of_every_binding()
    {
        var sample = SampleSettings();
        var connections = GeneratedMetadata()
            .SelectMany(f => f["bindings"]!.AsArray())
            .Where(b => ((string?)b!["type"])?.StartsWith("queue", StringComparison.OrdinalIgnoreCase) == true)
            .Select(b => (string?)b!["connection"] is { Length: > 0 } c ? c : AppConfiguration.DefaultConnection)
            .Append(AppConfiguration.DefaultConnection)
            .Distinct()
            .Where(c => !sample.ContainsKey(c))
            .ToArray();
        Assert.True(connections.Length == 0, $"local.settings.sample.json has no connection {string.Join(", ", connections)}.");
    }

    /// <summary>The functions.metadata the SDK generated for the built app.</summary>
    private static JsonObject[] GeneratedMetadata()
    {
        var path = BicepCli.AssemblyMetadata("FunctionsMetadata");
        Assert.True(File.Exists(path), $"No generated function metadata at {path}: build src/CreditFunctions first.");
        return JsonNode.Parse(File.ReadAllText(path))!.AsArray().Select(f => f!.AsObject()).ToArray();
    }

    /// <summary>The app setting names (<c>A__B</c>) of every <c>%A:B%</c> in the generated bindings.</summary>
    private static string[] BindingExpressionSettings() =>
        GeneratedMetadata()
            .SelectMany(f => f["bindings"]!.AsArray())
            .SelectMany(b => b!.AsObject().Select(p => p.Value).OfType<JsonValue>())
            .Select(v => v.TryGetValue(out string? text) ? text : null)
            .OfType<string>()
            .SelectMany(text => Expression().Matches(text).Select(m => m.Groups[1].Value.Replace(":", "__", StringComparison.Ordinal)))
            .Distinct(StringComparer.Ordinal)
            .ToArray();

    /// <summary>
    /// Settings the app refuses to start without: the members an options class's own validation (data annotations and
    /// <see cref="IValidatableObject"/>, as <c>ValidateDataAnnotations</c> runs them) rejects when nothing is configured.
    /// </summary>
    private static string[] RequiredWithoutDefault() =>
        AppConfiguration.OptionsKeys()
            .Select(k => k.OptionsType)
            .Distinct()
            .Where(t => t.GetConstructor(Type.EmptyTypes) is not null)
            .SelectMany(t =>
            {
                var section = (string)t.GetField("SectionName")!.GetRawConstantValue()!;
                var instance = Activator.CreateInstance(t)!;
                var failures = new List<ValidationResult>();
                Validator.TryValidateObject(instance, new ValidationContext(instance), failures, validateAllProperties: true);
                if (instance is IValidatableObject validatable)
                {
                    failures.AddRange(validatable.Validate(new ValidationContext(instance)));
                }

                return failures.SelectMany(f => f.MemberNames).Select(m => $"{section}__{m}");
            })
            .Distinct(StringComparer.Ordinal)
            .ToArray();

    private static Dictionary<string, string> SampleSettings()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.Root, "local.settings.sample.json")));
        return document.RootElement.GetProperty("Values").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ToString(), StringComparer.OrdinalIgnoreCase);
    }

    [GeneratedRegex("%([^%]+)%")]
    private static partial Regex Expression();
}
